"""How a user's mistake, or our own failure, is shown to them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block

from bot.domain.errors import PERSON_MARK, UserError
from bot.slack.blocks.common import Message, context, safe, section

if TYPE_CHECKING:
    from bot.slack.guard import Failure


_PERSON = re.compile(re.escape(PERSON_MARK) + "@([UW][A-Z0-9]+)\ue001")


def with_mentions(escaped: str) -> str:
    """Turn `errors.person()` references back into mentions after escaping the rest."""
    return _PERSON.sub(r"<@\1>", escaped)


_with_mentions = with_mentions


def user_error(error: UserError) -> Message:
    """Domain messages may quote what the user typed, so they are escaped like any user text."""
    text = f":warning: {_with_mentions(safe(error.message, 1500))}"
    blocks: list[Block] = [section(text)]
    if error.hint:
        blocks.append(context(_with_mentions(safe(error.hint, 1500))))
    return Message(text=_with_mentions(safe(error.message, 300)), blocks=blocks)


def form_error_text(failure: Failure) -> str:
    """Form errors are plain text (Slack shows them as typed): no escaping, no mentions."""
    if failure.error is None:
        return failure.message.text[:300]
    return _PERSON.sub(r"@\1", failure.error.message)[:300]


def internal_error(reference: str) -> Message:
    text = (
        ":x: Something went wrong on Accord's side and nothing was changed. "
        f"Please try again; if it keeps happening, give an admin this reference: `{reference}`."
    )
    return Message(text=text, blocks=[section(text)])


def notice(text: str) -> Message:
    """A short plain confirmation written by Accord (not user text)."""
    return Message(text=text, blocks=[section(text)])
