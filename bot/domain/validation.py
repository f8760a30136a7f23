"""Parsing and bounds for values people type, with messages that show the correct form."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import TypeVar

from bot.domain.errors import InvalidInput

DATE_HINT = "Dates are written `YYYY-MM-DD`, e.g. `2026-12-31`."
_TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,29}$")
MAX_TAGS = 10
E = TypeVar("E", bound=StrEnum)


def parse_date(text: str, *, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"`{text[:40]}` is not a valid {field} date.", hint=DATE_HINT, field=field
        ) from None


def parse_choice(text: str, enum: type[E], *, field: str) -> E:
    try:
        return enum(text.strip().lower())
    except ValueError:
        choices = ", ".join(f"`{member.value}`" for member in enum)
        raise InvalidInput(
            f"`{text[:40]}` is not a valid {field}.", hint=f"Use one of {choices}."
        ) from None


def bounded_text(text: str | None, *, field: str, max_length: int, required: bool = False) -> str:
    """Trim and bound free text so it always fits Slack's blocks when shown back."""
    value = (text or "").strip()
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
