"""Pure rules for threat briefs: what a brief touches, and reading a KEV catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain.attack.exposure import AcceptedRisk
from bot.domain.errors import InvalidInput
from bot.domain.refs import Kind, format_ref, parse_any_ref
from bot.domain.threats.models import FLAGGING, MAX_LINKS, Severity
from bot.domain.validation import clean_text

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_WORD = re.compile(r"[a-z0-9]+")


def parse_links(raw: str) -> tuple[str, ...]:
    """`relevance:INI-3,RSK-2`: the initiatives and risks a brief is about."""
    found: list[str] = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            continue
        parsed = parse_any_ref(text)
        if parsed is None or parsed[0] not in (Kind.INITIATIVE, Kind.RISK):
            raise InvalidInput(
                f"`{text[:30]}` is not an initiative or a risk.",
                hint="e.g. `relevance:INI-3,RSK-2`.",
                field="relevance",
            )
        ref = format_ref(*parsed)
        if ref not in found:
            found.append(ref)
    if len(found) > MAX_LINKS:
        raise InvalidInput(f"A brief names at most {MAX_LINKS} records.", field="relevance")
    return tuple(found)


@dataclass(frozen=True)
class Touch:
    """An accepted risk a brief touches, why, and whether it must be reviewed."""

    risk: AcceptedRisk
    techniques: tuple[str, ...]  # the techniques both name
    linked: bool  # named by the brief, or through an initiative the brief names
    flagged: bool

    def why(self) -> str:
        parts = []
        if self.techniques:
            parts.append("techniques " + ", ".join(self.techniques))
        if self.linked:
            parts.append("named")
        return " and ".join(parts)


def touches(
    *,
    severity: Severity,
    techniques: Sequence[str],
    links: Sequence[str],
    accepted: Iterable[AcceptedRisk],
) -> list[Touch]:
    """Accepted risks sharing an ATT&CK technique with the brief (a sub-technique and its
    parent count as shared), or named by it directly or through an initiative it names.
    A high or critical brief flags each of them for review."""
    named = set(links)
    wanted = set(techniques) | {t.partition(".")[0] for t in techniques}
    found = []
    for risk in accepted:
        common = tuple(t for t in risk.techniques if t in wanted or t.partition(".")[0] in wanted)
        linked = risk.ref in named or bool(named.intersection(risk.initiatives))
        if common or linked:
            found.append(
                Touch(risk=risk, techniques=common, linked=linked, flagged=severity in FLAGGING)
            )
    return found


@dataclass(frozen=True)
class KevRow:
    cve_id: str
    vendor: str
    product: str
    name: str
    date_added: date | None
    due_date: date | None
    ransomware: bool


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def read_kev(data: object) -> tuple[str, list[KevRow]]:
    """CISA's KEV catalogue JSON (`catalogVersion`, `vulnerabilities: [{cveID, vendorProject,
    product, vulnerabilityName, dateAdded, dueDate, knownRansomwareCampaignUse, …}]`)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("vulnerabilities"), list):
        raise InvalidInput(
            "That file is not a KEV catalogue: it has no `vulnerabilities` list.",
            hint="Use CISA's known_exploited_vulnerabilities.json.",
        )
    rows: dict[str, KevRow] = {}
    for item in data["vulnerabilities"]:
        if not isinstance(item, Mapping):
            continue
        cve = str(item.get("cveID", "")).strip().upper()
        if not _CVE.match(cve) or len(cve) > 20:
            continue
        rows[cve] = KevRow(
            cve_id=cve,
            vendor=_text(item, "vendorProject", 200),
            product=_text(item, "product", 200),
            name=_text(item, "vulnerabilityName", 300),
            date_added=_day(item.get("dateAdded")),
            due_date=_day(item.get("dueDate")),
            ransomware=str(item.get("knownRansomwareCampaignUse", "")).lower() == "known",
        )
    return str(data.get("catalogVersion") or "")[:40], list(rows.values())


def _text(item: Mapping[str, Any], key: str, limit: int) -> str:
    return " ".join(clean_text(str(item.get(key) or "")).split())[:limit]


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def kev_matches(row: KevRow, covered: Mapping[str, frozenset[str]]) -> list[str]:
    """The initiatives whose covered systems, tags or title name the entry's product: every
    word of the product (and of the vendor, when the product is one generic word) appears."""
    product = words(row.product)
    if not product:
        return []
    needed = product | (words(row.vendor) if len(product) == 1 else frozenset())
    return [ref for ref, vocabulary in covered.items() if needed <= vocabulary]
