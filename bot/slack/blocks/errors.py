"""How a user's mistake, or our own failure, is shown to them."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.domain.errors import UserError
from bot.slack.blocks.common import Message, context, safe, section


def user_error(error: UserError) -> Message:
    """Domain messages may quote what the user typed, so they are escaped like any user text."""
    text = f":warning: {safe(error.message, 1500)}"
    blocks: list[Block] = [section(text)]
    if error.hint:
        blocks.append(context(safe(error.hint, 1500)))
    return Message(text=safe(error.message, 300), blocks=blocks)


def internal_error(reference: str) -> Message:
    text = (
        ":x: Something went wrong on Accord's side and nothing was changed. "
        f"Please try again; if it keeps happening, give an admin this reference: `{reference}`."
    )
    return Message(text=text, blocks=[section(text)])


def notice(text: str) -> Message:
    """A short plain confirmation written by Accord (not user text)."""
    return Message(text=text, blocks=[section(text)])
