"""Touchpoint review fixes through the signed-HTTP path: one error note per thread reply,
however often Slack delivers it, and a series card that counts the action items it leaves out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.bootstrap import build_web_client
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    CIO,
    CISO,
    COORDINATION,
    OUTSIDER,
    FakeClock,
    RunningAccord,
    reply_text,
    running_accord,
)

WEEKLY = (
    f"touchpoint new CIO-CISO weekly every:weekly at:09:00 tz:Europe/Berlin "
    f"with:<@{CIO}|ann>,<@{CISO}|bo> channel:<#{COORDINATION}|coordination> from:2027-03-22"
)


def ok(accord: RunningAccord, text: str) -> str:
    result = accord.command_text(text, user=CIO)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


@pytest.fixture
def accord_serial(
    migrated_database_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[RunningAccord]:
    """One listener thread: events are handled in the order they were sent."""
    with running_accord(
        migrated_database_url, fake_slack, clock=clock, accord_listener_threads=1
    ) as acc:
        yield acc


def message(text: str, *, ts: str, thread_ts: str, user: str = CISO) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": COORDINATION,
        "channel_type": "channel",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "client_msg_id": f"msg-{ts}",
    }


def test_a_wrong_thread_reply_gets_one_note_however_often_it_is_delivered(
    accord_serial: RunningAccord,
) -> None:
    accord = accord_serial
    ok(accord, WEEKLY)
    accord.clock.set(datetime(2027, 3, 21, 8, 0, tzinfo=UTC))
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job_by_id("touchpoints.post_agendas").run(accord.services, notifier, accord.clock.now())
    accord.deliver()
    agenda_ts = accord.posts_in(COORDINATION)[0].response["ts"]

    wrong = message("action: Someone should do it", ts="1800000003.000100", thread_ts=agenda_ts)
    accord.slack.event(wrong, event_id="Ev0WRONG")
    accord.slack.event(wrong, event_id="Ev0WRONG", retry_num=1, retry_reason="http_timeout")
    accord.slack.event(wrong, event_id="Ev0WRONG", retry_num=2, retry_reason="http_timeout")
    accord.slack.event(wrong, event_id="Ev0WRONG2")  # a client resending it
    # Then another wrong reply (a different message): it gets its own note.
    accord.slack.event(
        message("decision: ship it", ts="1800000004.000100", thread_ts=agenda_ts, user=OUTSIDER)
    )
    notes = accord.fake.wait_for("chat.postEphemeral", 2)
    assert notes[0].body["user"] == CISO and "@owner" in reply_text(notes[0].body)
    assert notes[1].body["user"] == OUTSIDER
    assert len(accord.fake.calls("chat.postEphemeral")) == 2


def test_the_card_counts_the_action_items_it_leaves_out(accord: RunningAccord) -> None:
    ok(accord, WEEKLY)
    for n in range(1, 19):
        ok(accord, f"touchpoint action TP-1 Item number {n} owner:<@{CISO}|bo>")
    shown = ok(accord, "touchpoint show TP-1")
    assert "Item number 15" in shown and "Item number 16" not in shown
    assert "…and 3 more" in shown
    assert "/accord touchpoint done A-n" in shown


def test_a_reply_with_an_incomplete_line_records_the_others_and_names_that_line(
    accord_serial: RunningAccord,
) -> None:
    accord = accord_serial
    ok(accord, WEEKLY)
    accord.clock.set(datetime(2027, 3, 21, 8, 0, tzinfo=UTC))
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job_by_id("touchpoints.post_agendas").run(accord.services, notifier, accord.clock.now())
    accord.deliver()
    agenda_ts = accord.posts_in(COORDINATION)[0].response["ts"]

    text = "\n".join(
        [
            "Notes from today:",
            "decision: Freeze firewall changes until January",
            "action: Someone should do it",
            f"action: Patch the VPN gateway <@{CISO}|bo> due:2027-02-01",
            f"action: Rotate the signing keys <@{CISO}|bo> due:2027-04-30",
        ]
    )
    accord.slack.event(message(text, ts="1800000005.000100", thread_ts=agenda_ts))
    accord.wait_idle()
    replies = [
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if call.body.get("thread_ts") == agenda_ts
    ]
    assert len(replies) == 1
    said = reply_text(replies[0])
    assert "Freeze firewall changes" in said and "Rotate the signing keys" in said
    assert "Not recorded (2)" in said
    assert "Line 3: An action item needs what is to be done and an @owner" in said
    assert "Line 4:" in said and "past" in said.split("Line 4:")[1]
    assert "Patch the VPN gateway" not in said.split("Not recorded")[0]
    assert accord.fake.calls("chat.postEphemeral") == []
    shown = ok(accord, "touchpoint show TP-1")
    assert "Rotate the signing keys" in shown and "Patch the VPN gateway" not in shown
    assert "Freeze firewall changes" in shown
