"""The Block Kit check catches what real Slack refuses, and refuses it the way Slack does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.domain.paging import Page
from bot.slack.blocks.common import page_footer

from .block_kit import VIOLATIONS, ack_problems, message_problems, view_problems
from .slack_api import FakeSlackServer


def _button(action_id: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": value},
        "action_id": action_id,
        "value": value,
    }


def _section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


PAGER_WITH_ONE_ID = [
    {"type": "actions", "elements": [_button("x.page", "1"), _button("x.page", "3")]},
]


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


def test_a_valid_message_and_view_pass() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Initiatives"}},
        _section("*INI-1* Rotate keys", "one"),
        {"type": "actions", "elements": [_button("a.prev"), _button("a.next")]},
    ]
    assert message_problems({"text": "fallback", "blocks": blocks}) == []
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Accord"}, "blocks": blocks}
    assert view_problems(view) == []


def test_a_duplicate_action_id_in_one_actions_block_is_refused() -> None:
    problems = message_problems({"text": "t", "blocks": PAGER_WITH_ONE_ID})
    assert problems == ["block 0 (actions): action_id 'x.page' used twice in one block"]


def test_the_same_action_id_in_two_blocks_is_allowed() -> None:
    blocks = [
        {"type": "actions", "elements": [_button("x.show", "1")]},
        {"type": "actions", "elements": [_button("x.show", "2")]},
    ]
    assert message_problems({"text": "t", "blocks": blocks}) == []


def test_a_middle_page_footer_is_one_slack_accepts() -> None:
    """Page 2 of 3 has both Previous and Next: they must not share an action id."""
    middle: Page[int] = Page(items=list(range(20)), total=60, page=2, page_size=20)
    footer = page_footer(middle, action_id="x.page", value_for=str)
    blocks = [block.to_dict() for block in footer]
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["◀ Previous", "Next ▶"]
    assert message_problems({"text": "t", "blocks": blocks}) == []


def test_duplicate_block_ids_block_and_text_limits_are_refused() -> None:
    assert message_problems({"blocks": [_section("a", "b1"), _section("b", "b1")]}) == [
        "block_id 'b1' used twice in one message"
    ]
    too_many = [_section(f"row {n}") for n in range(51)]
    assert "message has 51 blocks; the limit is 50" in message_problems({"blocks": too_many})
    assert any("3000" in p for p in message_problems({"blocks": [_section("x" * 3001)]}))
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    assert any("150" in p for p in message_problems({"blocks": [header]}))
    long_rows = [_section("y" * 2900) for _ in range(5)]  # each section fine, 14,500 in all
    assert message_problems({"blocks": long_rows}) == [
        "message has 14500 characters of block text; keep under 12,000"
    ]
    view = {
        "type": "home",
        "blocks": [_section(f"row {n}") for n in range(101)],
    }
    assert any("100" in p for p in view_problems(view))
    titled = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "t" * 25},
        "blocks": [header],
    }
    assert any("title" in p for p in view_problems(titled))


def test_form_errors_must_name_an_input_block_of_the_view() -> None:
    blocks = [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "T"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ]
    good = {"response_action": "errors", "errors": {"title": "Give the initiative a title."}}
    assert ack_problems(good, submitted_blocks=blocks) == []
    bad = {"response_action": "errors", "errors": {"due": "Not a date."}}
    assert ack_problems(bad, submitted_blocks=blocks) == [
        "error names block 'due', which is not an input block of the view"
    ]


def test_the_fake_answers_invalid_blocks_and_records_the_violation(
    slack: FakeSlackServer,
) -> None:
    web = WebClient(token="xoxb-test", base_url=slack.base_url)
    with pytest.raises(SlackApiError) as refused:
        web.chat_postMessage(channel="C1", text="pages", blocks=PAGER_WITH_ONE_ID)
    assert refused.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as refused_view:
        web.views_publish(user_id="U1", view={"type": "home", "blocks": PAGER_WITH_ONE_ID})
    assert refused_view.value.response["error"] == "invalid_arguments"
    answered = WebhookClient(slack.response_url()).send(text="t", blocks=PAGER_WITH_ONE_ID)
    assert (answered.status_code, answered.body) == (400, "invalid_blocks")
    recorded = VIOLATIONS.take()  # taken here, so this test itself passes
    assert [entry.split(":")[0] for entry in recorded] == [
        "fake Slack chat.postMessage",
        "fake Slack views.publish",
        "fake Slack response_url",
    ]
    assert all("action_id 'x.page' used twice in one block" in entry for entry in recorded)
