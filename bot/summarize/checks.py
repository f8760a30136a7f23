"""Faithfulness checks on LLM output, run before anything is posted.

Every check returns the reasons it failed (empty = passed); a non-empty list makes the caller
fall back to the deterministic summary and log the reasons.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from bot.summarize.briefs import DisagreementBrief, ItemSummary

FIELD_LIMIT = 1200
_REF = re.compile(r"\b(?:INI|RSK|DIS|ESC|TP)-\d{1,9}\b", re.IGNORECASE)
# Slack markup that pings or links (<!channel>, <@U1>, <#C1>, <!subteam^S1>, <http…|…>), the
# plain-word broadcasts, and their HTML-escaped forms.
_INJECTION = re.compile(
    r"<\s*[!@#]|&lt;\s*[!@#]|<\s*(?:https?|mailto):|@(?:channel|here|everyone)\b",
    re.IGNORECASE,
)


def check_items(items: Sequence[ItemSummary], briefs: Sequence[DisagreementBrief]) -> list[str]:
    """Check the items an LLM wrote for exactly these (open) briefs."""
    problems: list[str] = []
    by_ref = {brief.ref: brief for brief in briefs}
    counts = Counter(item.ref for item in items)
    for ref, seen in counts.items():
        if ref not in by_ref:
            problems.append(f"cites {ref!r}, which is not an open disagreement in the records")
        elif seen > 1:
            problems.append(f"summarises {ref} {seen} times")
    for ref in by_ref:
        if ref not in counts:
            problems.append(f"omits open disagreement {ref}")
    for item in items:
        brief = by_ref.get(item.ref)
        if brief is None:
            continue
        problems.extend(_check_item(item, brief))
    return problems


def _check_item(item: ItemSummary, brief: DisagreementBrief) -> list[str]:
    problems: list[str] = []
    fields = {
        "summary": item.summary,
        "cio_position": item.cio_position,
        "ciso_position": item.ciso_position,
    }
    for name, text in fields.items():
        if len(text) > FIELD_LIMIT:
            problems.append(f"{item.ref}: {name} is {len(text)} characters (limit {FIELD_LIMIT})")
        if _INJECTION.search(text):
            problems.append(f"{item.ref}: {name} contains a mention or link markup")
        for cited in _REF.findall(text):
            if cited.upper() not in brief.known_refs():
                problems.append(f"{item.ref}: {name} mentions {cited}, which is not in its record")
    if not item.summary.strip():
        problems.append(f"{item.ref}: the summary is empty")
    if brief.cio_position.strip() and not item.cio_position.strip():
        problems.append(f"{item.ref}: the CIO side's position is missing")
    if brief.ciso_position.strip() and not item.ciso_position.strip():
        problems.append(f"{item.ref}: the CISO side's position is missing")
    if (
        item.cio_position.strip()
        and item.cio_position.strip().lower() == item.ciso_position.strip().lower()
    ):
        problems.append(f"{item.ref}: both sides are given the same position")
    return problems
