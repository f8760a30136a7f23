"""Parsing and bounds for values people type, with messages that show the correct form.

One parser per kind of value, shared by commands, forms and buttons, so a bound checked in
one cannot be bypassed through another: whole numbers (ASCII digits only — `"²".isdigit()` is
true and `int("²")` fails — and always within a range), record numbers (within what the
database can store), dates (real calendar days within a sane span), and text (control
characters removed where it enters).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from bot.domain.errors import InvalidInput

DATE_HINT = "Dates are written `YYYY-MM-DD`, e.g. `2026-12-31`."
_TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,29}$")
MAX_TAGS = 10
E = TypeVar("E", bound=StrEnum)
#: Ids are PostgreSQL INTEGERs; a larger number names no record (and would overflow in SQL).
MAX_RECORD_NUMBER = 2**31 - 1
#: Far beyond any list's last page, far below what an SQL OFFSET can hold.
MAX_PAGE = 100_000
#: Dates outside these years are typing mistakes (and `date + timedelta` near year 9999 fails).
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)
#: `/accord risk snooze` and the reminder's Snooze button share this bound.
SNOOZE_DAYS = (1, 30)
_KEPT_CONTROLS = frozenset("\n\t")


def clean_text(text: str) -> str:
    """Text as stored: line breaks normalised to `\\n`, and every other C0 or C1 control
    character (NUL, ESC, DEL, U+0080–U+009F) removed. PostgreSQL refuses NUL in text, and
    ESC or C1 codes would pass raw into exports and terminals."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isprintable():
        return text
    return "".join(
        char for char in text if char in _KEPT_CONTROLS or unicodedata.category(char) != "Cc"
    )


def clean_value(value: Any) -> Any:
    """`clean_text` applied to every string (and key) inside decoded JSON or a payload."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_value(key): clean_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_value(item) for item in value]
    return value


def parse_whole_number(
    value: object, *, field: str, low: int, high: int, hint: str | None = None
) -> int:
    """A whole number from `low` to `high`, typed (ASCII digits) or decoded from JSON (an int,
    not a bool); anything else is an `InvalidInput` naming the range."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        raw = value.strip()
        if raw.isascii() and raw.isdecimal() and len(raw) <= 20:
            number = int(raw)
    if number is None or not low <= number <= high:
        shown = str(value)[:20] if isinstance(value, str | int) else "that"
        raise InvalidInput(
            f"`{shown}` is not a valid {field}: it is a whole number from {low} to {high}.",
            hint=hint,
            field=field,
        )
    return number


def parse_record_number(value: object, *, stale: str) -> int:
    """A record's number carried by a button or a form: anything but a number that could
    be an id means the payload is out of date (or was tampered with), and says `stale`."""
    try:
        return parse_whole_number(value, field="id", low=1, high=MAX_RECORD_NUMBER)
    except InvalidInput:
        raise InvalidInput(stale) from None


def parse_page(value: object, *, stale: str) -> int:
    try:
        return parse_whole_number(value, field="page", low=1, high=MAX_PAGE)
    except InvalidInput:
        raise InvalidInput(stale) from None


def parse_snooze_days(value: object, *, number: int = 3) -> int:
    """Days to snooze; the hint's example names the risk the person typed (`number`)."""
    low, high = SNOOZE_DAYS
    return parse_whole_number(
        value,
        field="number of days",
        low=low,
        high=high,
        hint=f"Snooze for {low} to {high} days, e.g. `/accord risk snooze RSK-{number} 7`.",
    )


def parse_date(text: str, *, field: str) -> date:
    """A real calendar day (`2026-02-30` is not) between 1970 and 2199."""
    raw = text.strip()
    try:
        value = date.fromisoformat(raw) if raw.isascii() else None
    except ValueError:
        value = None
    if value is None or not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidInput(
            f"`{text[:40]}` is not a valid {field} date.", hint=DATE_HINT, field=field
        )
    return value


def parse_choice(text: str, enum: type[E], *, field: str) -> E:
    try:
        return enum(text.strip().lower())
    except ValueError:
        choices = ", ".join(f"`{member.value}`" for member in enum)
        raise InvalidInput(
            f"`{text[:40]}` is not a valid {field}.", hint=f"Use one of {choices}."
        ) from None


def bounded_text(text: str | None, *, field: str, max_length: int, required: bool = False) -> str:
    """Trim, clean and bound free text so it always fits Slack's blocks when shown back."""
    value = clean_text(text or "").strip()
    if required and not value:
        raise InvalidInput(f"The {field} cannot be empty.", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            f"The {field} is {len(value)} characters long; the limit is {max_length}.",
            field=field,
        )
    return value


def normalise_tags(raw: list[str]) -> list[str]:
    tags: list[str] = []
    for item in raw:
        tag = item.strip().lstrip("#").lower()
        if not tag:
            continue
        if not _TAG.match(tag):
            raise InvalidInput(
                f"`#{tag[:40]}` is not a valid tag.",
                hint="Tags are up to 30 letters, digits, `-`, `_` or `.`, e.g. `#zero-trust`.",
                field="tags",
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"An initiative takes at most {MAX_TAGS} tags.", field="tags")
    return tags


def future_or_today(value: date, *, today: date, field: str) -> date:
    if value < today:
        raise InvalidInput(
            f"The {field} {value.isoformat()} is in the past.",
            hint="Give today or a later date.",
            field=field,
        )
    return value
