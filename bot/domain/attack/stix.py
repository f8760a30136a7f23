"""Reading MITRE's ATT&CK STIX 2.1 bundle (`enterprise-attack.json`) into technique rows.

The bundle is plain JSON; only `attack-pattern` objects, their `mitre-attack` external id and
kill-chain phases, the `revoked` / `x_mitre_deprecated` flags and `revoked-by` relationships
are needed, so a JSON reader is enough (and reads the 40 MB bundle in about a second, where a
full STIX object model would validate every one of its 24,000 objects).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.attack.catalogue import DOMAIN, Technique
from bot.domain.errors import InvalidInput

_TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")


def _external_id(item: Mapping[str, Any]) -> str | None:
    for ref in item.get("external_references") or ():
        if isinstance(ref, Mapping) and ref.get("source_name") == "mitre-attack":
            value = str(ref.get("external_id", "")).strip().upper()
            return value if _TECHNIQUE_ID.match(value) else None
    return None


def _tactics(item: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for phase in item.get("kill_chain_phases") or ():
        if isinstance(phase, Mapping) and phase.get("kill_chain_name") == "mitre-attack":
            name = str(phase.get("phase_name", "")).strip()
            if name and name not in found:
                found.append(name)
    return tuple(found)


def bundle_version(bundle: Mapping[str, Any]) -> str:
    """The ATT&CK release a bundle carries (its `x-mitre-collection`'s version), or `?`."""
    for item in bundle.get("objects") or ():
        if isinstance(item, Mapping) and item.get("type") == "x-mitre-collection":
            return str(item.get("x_mitre_version") or "?")
    return "?"


def techniques_from_bundle(bundle: object) -> list[Technique]:
    """Every technique and sub-technique of a STIX bundle, revoked ones with their successor."""
    if not isinstance(bundle, Mapping) or not isinstance(bundle.get("objects"), list):
        raise InvalidInput(
            "That file is not a STIX bundle: it has no `objects` list.",
            hint="Use MITRE's enterprise-attack.json (a STIX 2.1 bundle).",
        )
    objects: Iterable[Any] = bundle["objects"]
    patterns: dict[str, Mapping[str, Any]] = {}
    revoked_by: dict[str, str] = {}
    for item in objects:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "attack-pattern" and isinstance(item.get("id"), str):
            domains = item.get("x_mitre_domains")
            if isinstance(domains, list) and DOMAIN not in domains:
                continue  # a mobile or ICS technique in a combined bundle
            patterns[item["id"]] = item
        elif item.get("type") == "relationship" and item.get("relationship_type") == "revoked-by":
            revoked_by[str(item.get("source_ref"))] = str(item.get("target_ref"))
    ids = {stix_id: _external_id(item) for stix_id, item in patterns.items()}
    found: dict[str, Technique] = {}
    for stix_id, item in patterns.items():
        technique_id = ids[stix_id]
        if technique_id is None:
            continue
        successor = revoked_by.get(stix_id)
        technique = Technique(
            id=technique_id,
            name=str(item.get("name") or technique_id)[:200],
            tactics=_tactics(item),
            revoked=bool(item.get("revoked")),
            deprecated=bool(item.get("x_mitre_deprecated")),
            replaced_by=ids.get(successor) if successor else None,
        )
        # An id reused by a revoked object and a live one: the live one wins.
        previous = found.get(technique_id)
        if previous is None or (previous.retired and not technique.retired):
            found[technique_id] = technique
    if not found:
        raise InvalidInput(
            "That STIX bundle holds no ATT&CK techniques (no `attack-pattern` with a "
            "`mitre-attack` id).",
            hint="Use MITRE's enterprise-attack.json.",
        )
    return sorted(found.values(), key=lambda t: t.sort_key)
