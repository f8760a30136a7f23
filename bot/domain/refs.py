"""Public record ids such as `INI-12`: a prefix per kind and the row's number."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.domain.errors import InvalidInput, NotFound
from bot.domain.validation import MAX_RECORD_NUMBER


class Kind(StrEnum):
    INITIATIVE = "INI"
    RISK = "RSK"
    DISAGREEMENT = "DIS"
    ESCALATION = "ESC"
    TOUCHPOINT = "TP"
    THREAT = "THR"


_REF = re.compile(r"^\s*([A-Za-z]{2,3})-([0-9]{1,30})\s*$")


def format_ref(kind: Kind, number: int) -> str:
    return f"{kind.value}-{number}"


def parse_ref(text: str, kind: Kind) -> int:
    """Parse `INI-12` (any case) into 12, or say what an id of this kind looks like."""
    match = _REF.match(text)
    if not match or match.group(1).upper() != kind.value:
        raise InvalidInput(
            f"`{text.strip()[:40]}` is not a valid id here.",
            hint=f"Ids look like `{kind.value}-12`.",
        )
    number = int(match.group(2))
    if not 1 <= number <= MAX_RECORD_NUMBER:
        raise NotFound(f"There is no {kind.value}-{match.group(2)}.")
    return number


def parse_any_ref(text: str) -> tuple[Kind, int] | None:
    """Recognise an id of any kind, e.g. for links between records."""
    match = _REF.match(text)
    if not match:
        return None
    try:
        kind = Kind(match.group(1).upper())
    except ValueError:
        return None
    number = int(match.group(2))
    return (kind, number) if 1 <= number <= MAX_RECORD_NUMBER else None
