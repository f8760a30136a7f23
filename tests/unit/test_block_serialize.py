"""`as_dict` is slack_sdk's `to_dict()`, faster: the same dicts and the same refusals."""

from __future__ import annotations

from datetime import date

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    InputBlock,
    Option,
    PlainTextObject,
    RichTextBlock,
    RichTextSectionElement,
    SectionBlock,
    StaticSelectElement,
)

from bot.domain.initiatives import Health, InitiativeFilter, InitiativeLine, InitiativeStatus
from bot.domain.paging import Page
from bot.slack.blocks import initiatives as render
from bot.slack.blocks.general import help_index
from bot.slack.blocks.serialize import as_dict
from bot.slack.commands import NOUNS

TODAY = date(2027, 3, 1)


def _lines(count: int) -> list[InitiativeLine]:
    return [
        InitiativeLine(
            id=n,
            title=f"Rotate <!channel> keys & certs {n}",
            status=list(InitiativeStatus)[n % len(InitiativeStatus)],
            health=list(Health)[n % len(Health)],
            due_date=date(2027, 2, n % 28 + 1) if n % 2 else None,
            on_hold=n % 3 == 0,
            cio_owner_id="U0CIO1",
            ciso_owner_id=None if n % 4 else "U0CISO1",
            covers=[],
        )
        for n in range(1, count + 1)
    ]


def test_a_list_page_and_the_help_serialise_as_slack_sdk_does() -> None:
    page = Page(items=_lines(20), total=45, page=2, page_size=20)
    listing = render.list_message(page, which=InitiativeFilter.ALL, tag=None, today=TODAY)
    helped = help_index([(noun.name, noun.summary) for noun in NOUNS])
    for message in (listing, helped):
        assert [as_dict(block) for block in message.blocks] == [b.to_dict() for b in message.blocks]


def test_forms_options_confirm_dialogs_and_empty_rich_text_serialise_as_slack_sdk_does() -> None:
    blocks = [
        render.create_modal(metadata="{}").blocks,
        [
            InputBlock(
                label="Severity",
                element=StaticSelectElement(
                    action_id="value",
                    options=[Option(value="high", text=PlainTextObject(text="High"))],
                ),
            ),
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Revoke",
                        action_id="revoke",
                        value="7",
                        style="danger",
                        confirm=ConfirmObject(title="Sure?", text="It ends now."),
                    )
                ]
            ),
            RichTextBlock(elements=[RichTextSectionElement(elements=[])]),
            SectionBlock(text="no accessory", fields=[]),
        ],
    ]
    for group in blocks:
        assert [as_dict(block) for block in group] == [block.to_dict() for block in group]


def test_an_invalid_block_is_refused_as_slack_sdk_refuses_it() -> None:
    too_long = SectionBlock(text="x" * 3001)
    with pytest.raises(SlackObjectFormationError) as ours:
        as_dict(too_long)
    with pytest.raises(SlackObjectFormationError) as theirs:
        too_long.to_dict()
    assert str(ours.value) == str(theirs.value)
    nested = ActionsBlock(elements=[ButtonElement(text="x" * 80, action_id="a")])
    with pytest.raises(SlackObjectFormationError):
        as_dict(nested)
