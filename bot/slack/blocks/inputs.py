"""Form (modal) building blocks shared by every feature: inputs use action id `value`, which
is what `listeners.forms.FormState` reads back."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import clip

MODAL_TITLE_LIMIT = 24
PRIVATE_METADATA_LIMIT = 3000


def text_input(
    block_id: str,
    label: str,
    *,
    max_length: int,
    initial: str = "",
    multiline: bool = False,
    optional: bool = False,
    placeholder: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=optional,
        element=PlainTextInputElement(
            action_id="value",
            initial_value=initial or None,
            multiline=multiline,
            max_length=max_length,
            placeholder=PlainTextObject(text=placeholder) if placeholder else None,
        ),
    )


def user_input(block_id: str, label: str, initial: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=True,
        element=UserSelectElement(action_id="value", initial_user=initial),
    )


def date_input(
    block_id: str, label: str, *, optional: bool = True, initial: str | None = None
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=optional,
        element=DatePickerElement(action_id="value", initial_date=initial),
    )


def options(values: list[str]) -> list[Option]:
    return [Option(value=value, text=PlainTextObject(text=value)) for value in values]


def modal(callback_id: str, title: str, submit: str, metadata: str, blocks: list[Block]) -> View:
    """A modal inside Slack's limits (title 24 characters, metadata 3,000)."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=clip(title, MODAL_TITLE_LIMIT)),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata[:PRIVATE_METADATA_LIMIT],
        blocks=blocks,
    )
