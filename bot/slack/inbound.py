"""Where text from Slack enters Accord: every request's body is cleaned once, before any
listener reads it, and JSON carried inside it (button values, a modal's private metadata) is
decoded and cleaned here too. Cleaning removes C0/C1 control characters (keeping line breaks
and tabs), see `bot.domain.validation.clean_text`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.domain.errors import InvalidInput
from bot.domain.validation import clean_value


def clean_body(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
    """A global bolt middleware: listeners receive `body` (and `command`, `action`, `view`,
    which bolt takes from it) with every string cleaned."""
    cleaned = clean_value(body)
    body.clear()
    body.update(cleaned)
    return next()


def register(app: App) -> None:
    app.middleware(clean_body)


def json_object(text: object, *, stale: str) -> dict[str, Any]:
    """A JSON object Accord itself encoded (a button value, private metadata), decoded and
    cleaned like any input; anything else means the payload is out of date or was tampered
    with, and says `stale`. Numbers must still go through the validation parsers."""
    try:
        value = json.loads(str(text or ""), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidInput(stale) from None
    if not isinstance(value, dict):
        raise InvalidInput(stale)
    cleaned: dict[str, Any] = clean_value(value)
    return cleaned


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON Accord writes")
