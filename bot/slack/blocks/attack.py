"""Renderers for ATT&CK techniques: the searchable picker and its options."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ExternalDataMultiSelectElement,
    InputBlock,
    Option,
    PlainTextObject,
)

from bot.domain.attack.catalogue import Technique
from bot.domain.risks import MAX_TECHNIQUES
from bot.slack.blocks.common import clip

#: Slack shows at most 100 options from an options load, each at most 75 characters.
OPTIONS_LIMIT = 100
OPTION_TEXT_LIMIT = 75


def technique_option(technique: Technique) -> Option:
    return Option(
        value=technique.id,
        text=PlainTextObject(text=clip(f"{technique.id} {technique.name}", OPTION_TEXT_LIMIT)),
    )


def technique_options(techniques: Sequence[Technique]) -> list[dict[str, object]]:
    """The answer to a `block_suggestion`: plain-text options, within Slack's limits."""
    return [technique_option(t).to_dict() for t in techniques[:OPTIONS_LIMIT]]


def technique_picker(block_id: str, label: str, *, initial: Sequence[Technique] = ()) -> InputBlock:
    """A multi-select that searches the ATT&CK catalogue by id or name as the person types."""
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=True,
        element=ExternalDataMultiSelectElement(
            action_id="value",
            min_query_length=1,
            max_selected_items=MAX_TECHNIQUES,
            placeholder=PlainTextObject(text="Type an id or a name: T1078, phishing…"),
            initial_options=[technique_option(t) for t in initial] or None,
        ),
    )
