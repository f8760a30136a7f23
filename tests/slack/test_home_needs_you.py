"""The App Home's "Needs you": what waits on the viewer, through the signed-HTTP path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from bot.db import session_scope
from bot.domain.escalations import Escalation
from bot.domain.needs import needs_you as needs_you_of
from tests.harness import (
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    EXEC,
    OUTSIDER,
    START,
    RunningAccord,
    reply_text,
)

NEW = "risk new Legacy VPN without MFA likelihood:3 impact:4 expires:2027-01-31 attack:T1078"


def open_home(accord: RunningAccord, user: str) -> dict[str, Any]:
    """Open the Home tab as `user` and return the view Accord published for them."""
    seen = len(accord.fake.calls("views.publish"))
    accord.slack.event({"type": "app_home_opened", "user": user, "tab": "home"})
    published = accord.fake.wait_for("views.publish", count=seen + 1)[seen]
    assert published.body["user_id"] == user
    view: dict[str, Any] = published.body["view"]
    assert len(view["blocks"]) <= 100
    return view


def needs_you(accord: RunningAccord, user: str) -> dict[str, Any]:
    """Only the "Needs you" part of the viewer's Home: its blocks up to the first divider."""
    blocks = open_home(accord, user)["blocks"]
    start = next(i for i, b in enumerate(blocks) if "Needs you" in str(b.get("text", "")))
    end = next(i for i in range(start, len(blocks)) if blocks[i]["type"] == "divider")
    return {"blocks": blocks[start:end]}


def buttons(part: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (b["accessory"]["action_id"], b["accessory"]["value"])
        for b in part["blocks"]
        if b.get("accessory")
    ]


def test_a_risk_waits_on_the_other_side_until_it_decides(accord: RunningAccord) -> None:
    accord.command(NEW, user=CISO)
    for approver in (CIO, CIO_2, CISO_2):
        part = needs_you(accord, approver)
        assert "RSK-1" in reply_text(part) and "Legacy VPN without MFA" in reply_text(part)
        assert ("risk.show", "1") in buttons(part)
    # The requester cannot decide on their own request, so nothing waits on them.
    assert "RSK-1" not in reply_text(needs_you(accord, CISO))
    assert "Nothing waits on you" in reply_text(needs_you(accord, CISO))
    assert "RSK-1" not in reply_text(needs_you(accord, OUTSIDER))
    # "Show" on the Home tab sends the viewer the card with its Approve and Reject buttons.
    home = open_home(accord, CIO)
    posted = len(accord.fake.calls("chat.postMessage"))
    accord.slack.block_action(
        "risk.show", "1", user_id=CIO, view=home, channel_id=None, message_ts=None
    )
    card = accord.fake.wait_for("chat.postMessage", count=posted + 1)[posted].body
    assert card["channel"] == CIO and "risk.approve" in str(card) and "risk.reject" in str(card)

    assert "approved" in accord.command_text("risk approve RSK-1", user=CIO)
    for cio_side in (CIO, CIO_2):
        assert "RSK-1" not in reply_text(needs_you(accord, cio_side))
    assert "RSK-1" in reply_text(needs_you(accord, CISO_2))  # the CISO side has not decided


def test_an_executive_sees_pending_escalations_flagged_overdue(accord: RunningAccord) -> None:
    accord.command_text('disagree "Patch window for the ERP" the window must be Sunday')
    accord.command_text("disagree position DIS-1 Sunday misses the vendor's support", user=CISO)
    assert "as *ESC-1*" in accord.command_text("escalate DIS-1 by:2026-11-27", user=CISO)
    accord.wait_idle()  # the brief is posted after the commit; its ts is stored then

    part = needs_you(accord, EXEC)
    assert "ESC-1" in reply_text(part) and "overdue" not in reply_text(part)
    assert ("disagreement.show", "1") in buttons(part)
    # the executive goes from Home to the brief that carries the decision buttons
    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, 1)
        assert escalation is not None and escalation.thread_ts
        channel = escalation.channel_id
    assert f"Its brief, with the decision buttons, is in <#{channel}>" in reply_text(part)
    assert "`/accord escalate show ESC-1`" in reply_text(part)
    for not_executive in (CIO, CISO, OUTSIDER):
        assert "ESC-1" not in reply_text(needs_you(accord, not_executive))

    accord.clock.advance(days=3)
    part = needs_you(accord, EXEC)
    assert "ESC-1" in reply_text(part) and "overdue" in reply_text(part)
    assert "ESC-1" not in reply_text(needs_you(accord, CIO))


def test_a_side_sees_disagreements_it_has_no_position_on(accord: RunningAccord) -> None:
    for n in range(7):
        accord.command_text(f'disagree "Logging retention {n}" keep 90 days')
    part = needs_you(accord, CISO)
    text = reply_text(part)
    assert "DIS-1" in text and "Logging retention 0" in text
    assert "DIS-6" not in text and "…and 2 more: `/accord disagree list`" in text
    assert len(buttons(part)) == 5
    # The CIO side raised them, so its position is stated; executives are on no side.
    assert "DIS-1" not in reply_text(needs_you(accord, CIO))
    assert "DIS-1" not in reply_text(needs_you(accord, EXEC))

    accord.command_text("disagree position DIS-1 two years for audit", user=CISO)
    text = reply_text(needs_you(accord, CISO_2))
    assert "Logging retention 0" not in text and "DIS-2" in text and "…and 1 more" in text


def test_a_request_whose_expiry_has_passed_no_longer_waits(accord: RunningAccord) -> None:
    accord.command(NEW, user=CISO)  # expires 2027-01-31
    assert "RSK-1" in reply_text(needs_you(accord, CIO))
    accord.clock.set(datetime(2027, 1, 31, 9, 0, tzinfo=UTC))
    # `risk approve` would refuse it now, so the Home tab does not offer it.
    assert "RSK-1" not in reply_text(needs_you(accord, CIO))
    assert "can no longer be approved" in accord.command_text("risk approve RSK-1", user=CIO)


def statements_for_needs_you(accord: RunningAccord, user: str) -> int:
    """The statements one "Needs you" issues; it loads no more records than it shows."""
    count = 0

    def counted(*_args: object) -> None:
        nonlocal count
        count += 1

    with session_scope(accord.services.engine) as session:
        actor = accord.services.directory.actor(session, user)
        connection = session.connection()  # this session's statements, not other threads'
        loaded: list[str] = []

        def load(_session: object, record: object) -> None:
            loaded.append(type(record).__name__)

        event.listen(connection, "before_cursor_execute", counted)
        event.listen(session, "loaded_as_persistent", load)
        try:
            needs = needs_you_of(session, actor=actor, today=START.date(), limit=5)
        finally:
            event.remove(connection, "before_cursor_execute", counted)
            event.remove(session, "loaded_as_persistent", load)
        assert needs.risks.total and needs.disagreements.total
    assert loaded.count("RiskAcceptance") <= 5 and loaded.count("Disagreement") <= 5
    return count


def test_needs_you_counts_every_waiting_record_in_the_same_number_of_statements(
    accord: RunningAccord,
) -> None:
    for n in range(2):
        accord.command(NEW.replace("Legacy VPN", f"Legacy VPN {n}"), user=CIO)
        accord.command_text(f'disagree "Logging retention {n}" keep 90 days')
    few = statements_for_needs_you(accord, CISO)
    for n in range(2, 8):
        accord.command(NEW.replace("Legacy VPN", f"Legacy VPN {n}"), user=CIO)
        accord.command_text(f'disagree "Logging retention {n}" keep 90 days')
    assert statements_for_needs_you(accord, CISO) == few
    text = reply_text(needs_you(accord, CISO))
    assert "Needs you (16)" in text
    assert "RSK-1" in text and "RSK-6" not in text  # the oldest five risks, then "…and 3 more"


def test_a_home_button_answer_survives_a_slack_outage(accord: RunningAccord) -> None:
    """Home has no response_url, so the answer is a DM: it leaves through the outbox and
    arrives once Slack is back, exactly once."""
    accord.command(NEW, user=CISO)
    home = open_home(accord, CIO)

    def cards() -> list[dict[str, Any]]:
        return [
            call.body
            for call in accord.fake.calls("chat.postMessage")
            if call.ok and call.body.get("channel") == CIO and "risk.approve" in str(call.body)
        ]

    accord.fake.fail_all(status=500, methods=["chat.postMessage"])
    accord.slack.block_action(
        "risk.show", "1", user_id=CIO, view=home, channel_id=None, message_ts=None
    )
    accord.wait_idle()
    assert cards() == [] and any(
        call.body.get("channel") == CIO for call in accord.fake.calls("chat.postMessage")
    )  # it was tried, and failed
    accord.fake.end_outage()
    accord.clock.advance(minutes=10)
    accord.wait_idle()
    assert len(cards()) == 1
    accord.clock.advance(minutes=10)
    accord.wait_idle()
    assert len(cards()) == 1
