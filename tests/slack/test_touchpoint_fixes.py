"""Touchpoint fixes through the signed-HTTP path and the clock job with the injected clock:
capture from the agenda thread, channel membership, giving up on an agenda, confirmations,
paging, the meeting's local date, and the App Home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, func, select

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.idempotency import ProcessedRequest
from bot.domain.touchpoints import (
    OccurrenceStatus,
    SeriesStatus,
    TouchpointAction,
    TouchpointDecision,
    TouchpointOccurrence,
    TouchpointSeries,
)
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    CIO,
    CISO,
    CISO_2,
    COORDINATION,
    OUTSIDER,
    FakeClock,
    RunningAccord,
    reply_text,
    running_accord,
)

JOB = "touchpoints.post_agendas"
WITH = f"with:<@{CIO}|ann>,<@{CISO}|bo>"
WEEKLY = (
    f"touchpoint new CIO-CISO weekly every:weekly at:09:00 tz:Europe/Berlin {WITH} "
    f"channel:<#{COORDINATION}|coordination> from:2027-03-22"
)
#: 09:00 CET on Monday 22 March 2027 is 08:00 UTC; its agenda is due 24 h earlier.
FIRST_AGENDA = datetime(2027, 3, 21, 8, 0, tzinfo=UTC)


def count(accord: RunningAccord, model: type, *where: Any) -> int:
    with session_scope(accord.services.engine) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int(session.exec(query).one())


def run_clock(accord: RunningAccord) -> None:
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job_by_id(JOB).run(accord.services, notifier, accord.clock.now())
    accord.deliver()


def ok(accord: RunningAccord, text: str, *, user: str = CIO) -> str:
    result = accord.command_text(text, user=user)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


def agendas(accord: RunningAccord) -> list[Any]:
    return [
        call
        for call in accord.fake.calls("chat.postMessage")
        if call.ok and "Agenda" in str(call.body.get("text", "")) and not call.body.get("thread_ts")
    ]


def thread_replies(accord: RunningAccord, thread_ts: str) -> list[dict[str, Any]]:
    return [
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if call.body.get("thread_ts") == thread_ts
    ]


# -- 1. capture from the agenda's thread ------------------------------------------------------


@pytest.fixture
def accord_serial(
    migrated_database_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[RunningAccord]:
    """One listener thread: events are handled in the order they were sent, so a test can
    send replies that must be ignored and then one that must not, and wait for the last."""
    with running_accord(
        migrated_database_url, fake_slack, clock=clock, accord_listener_threads=1
    ) as acc:
        yield acc


def message(
    text: str, *, ts: str, thread_ts: str | None, user: str = CISO, **extra: Any
) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": COORDINATION,
        "channel_type": "channel",
        "user": user,
        "text": text,
        "ts": ts,
        "client_msg_id": f"msg-{ts}",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return event


def test_decisions_and_actions_written_in_the_agenda_thread_are_recorded_once(
    accord_serial: RunningAccord,
) -> None:
    accord = accord_serial
    ok(accord, WEEKLY)
    accord.clock.set(FIRST_AGENDA)
    run_clock(accord)
    agenda = agendas(accord)[0]
    agenda_ts = agenda.response["ts"]
    assert "decision: &lt;text&gt;" in reply_text(agenda.body)  # the agenda explains the syntax
    audit_before = count(accord, AuditEvent)

    ignored = [
        message("decision: not in a thread", ts="1800000001.000100", thread_ts=None),
        message("decision: other thread", ts="1800000001.000200", thread_ts="1700000000.000009"),
        message("we should talk about this", ts="1800000001.000300", thread_ts=agenda_ts),
        message(
            "decision: from a bot",
            ts="1800000001.000400",
            thread_ts=agenda_ts,
            bot_id="B0OTHER",
            subtype="bot_message",
        ),
        message(
            "decision: edited",
            ts="1800000001.000500",
            thread_ts=agenda_ts,
            subtype="message_changed",
        ),
    ]
    for event in ignored:
        assert accord.slack.event(event).status == 200

    reply = message(
        f"Thanks all.\ndecision: Freeze firewall changes until January\n"
        f"action: Patch the edge &amp; VPN <@{CISO_2}> due:2027-03-30",
        ts="1800000002.000100",
        thread_ts=agenda_ts,
    )
    assert accord.slack.event(reply, event_id="Ev0CAPTURE").status == 200
    answered = accord.posts_in(COORDINATION, 2)[-1].body
    assert answered["thread_ts"] == agenda_ts and answered["channel"] == COORDINATION
    text = reply_text(answered)
    assert "Freeze firewall changes until January" in text
    assert "A-1" in text and "Patch the edge &amp; VPN" in text and f"<@{CISO_2}>" in text

    # Slack retries the event (same event_id) and a client resends it: nothing twice.
    accord.slack.event(reply, event_id="Ev0CAPTURE", retry_num=1, retry_reason="http_timeout")
    accord.slack.event(reply, event_id="Ev0CAPTURE2")
    # A reply that is wrong explains itself to its author only, and records nothing.
    accord.slack.event(
        message("action: Someone should do it", ts="1800000003.000100", thread_ts=agenda_ts)
    )
    hint = accord.fake.wait_for("chat.postEphemeral")[0].body
    assert hint["user"] == CISO and "@owner" in reply_text(hint)
    # Someone outside both sides cannot record in the thread.
    accord.slack.event(
        message("decision: ship it", ts="1800000004.000100", thread_ts=agenda_ts, user=OUTSIDER)
    )
    refused = accord.fake.wait_for("chat.postEphemeral", 2)[1].body
    assert refused["user"] == OUTSIDER and "CIO or CISO side" in reply_text(refused)

    assert len(thread_replies(accord, agenda_ts)) == 1
    with session_scope(accord.services.engine) as session:
        occurrence = session.exec(select(TouchpointOccurrence)).one()
        decisions = list(session.exec(select(TouchpointDecision)))
        actions = list(session.exec(select(TouchpointAction)))
    assert [(d.text, d.occurrence_id, d.recorded_by) for d in decisions] == [
        ("Freeze firewall changes until January", occurrence.id, CISO)
    ]
    assert [(a.text, a.owner_id, a.due_date, a.occurrence_id) for a in actions] == [
        ("Patch the edge & VPN", CISO_2, datetime(2027, 3, 30).date(), occurrence.id)
    ]
    assert count(accord, AuditEvent) == audit_before + 2
    assert count(accord, AuditEvent, AuditEvent.action == "touchpoint.action_added") == 1
    # Only the one capture claimed a request key; ignored messages left no trace.
    assert count(accord, ProcessedRequest, col(ProcessedRequest.key).startswith("message:")) == 1

    # The action item from the thread is on the next agenda.
    accord.clock.set(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))
    run_clock(accord)
    assert "Patch the edge" in reply_text(agendas(accord)[-1].body)


# -- 2. the bot must be in the agenda channel; a dropped agenda is reported once -------------


def test_new_and_resume_refuse_a_channel_accord_is_not_in(accord: RunningAccord) -> None:
    accord.fake.set_not_member(COORDINATION)
    reply = accord.command(WEEKLY)
    assert reply.json()["response_type"] == "ephemeral"
    text = reply_text(reply.json())
    assert "not a member of channel" in text and "/invite @Accord" in text
    assert accord.fake.calls("conversations.info")[-1].body["channel"] == COORDINATION
    assert count(accord, TouchpointSeries) == 0 and count(accord, AuditEvent) == 0

    # The modal marks the channel field and changes nothing.
    values = {
        "tp_name": {"value": {"type": "plain_text_input", "value": "Monthly review"}},
        "tp_participants": {"value": {"type": "multi_users_select", "selected_users": [CIO, CISO]}},
        "tp_channel": {"value": {"type": "channels_select", "selected_channel": COORDINATION}},
        "tp_every": {"value": {"type": "static_select", "selected_option": {"value": "weekly"}}},
        "tp_time": {"value": {"type": "timepicker", "selected_time": "16:30"}},
        "tp_tz": {"value": {"type": "plain_text_input", "value": "Europe/London"}},
        "tp_first": {"value": {"type": "datepicker", "selected_date": "2027-01-14"}},
    }
    refused = accord.slack.view_submission("touchpoint.create", values, user_id=CIO, view_id="V1")
    error = refused.json()["errors"]["tp_channel"]
    assert "not a member of channel" in error and "/invite @Accord" in error
    assert count(accord, TouchpointSeries) == 0

    accord.fake.set_member(COORDINATION)
    ok(accord, WEEKLY)
    ok(accord, "touchpoint pause TP-1")
    accord.fake.set_not_member(COORDINATION)
    audit = count(accord, AuditEvent)
    text = accord.command_text("touchpoint resume TP-1")
    assert "not a member of channel" in text and "/invite @Accord" in text
    with session_scope(accord.services.engine) as session:
        series = session.get(TouchpointSeries, 1)
        assert series is not None and series.status == SeriesStatus.PAUSED
    assert count(accord, AuditEvent) == audit


def test_agenda_that_cannot_be_posted_is_reported_to_the_organiser_once(
    accord: RunningAccord,
) -> None:
    ok(accord, WEEKLY)
    ok(accord, "touchpoint add TP-1 VPN vendor renewal")
    accord.fake.set_not_member(COORDINATION)  # Accord was removed from the channel later
    accord.clock.set(FIRST_AGENDA)
    for _ in range(5):  # one run a minute, as the clock does
        run_clock(accord)
        accord.clock.advance(minutes=1)
    posts = accord.fake.calls("chat.postMessage")
    tries = [c for c in posts if c.body["channel"] == COORDINATION]
    dms = [c.body for c in posts if c.body["channel"] == CIO]
    assert len(tries) == 1 and not any(c.ok for c in tries)  # a refusal no retry can fix
    assert len(dms) == 1
    text = reply_text(dms[0])
    assert "could not deliver the agenda of TP-1" in text and f"<#{COORDINATION}>" in text
    assert "not a member of that channel" in text and "/invite @Accord" in text
    assert [(o.status, o.attempts, o.note) for o in occurrences(accord)] == [
        (OccurrenceStatus.ABANDONED, 1, "not_in_channel")
    ]

    # Invited again: the next agenda is posted as usual, with the topic that was not shown.
    accord.fake.set_member(COORDINATION)
    accord.clock.set(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))
    run_clock(accord)
    posted = agendas(accord)
    assert len(posted) == 1 and "VPN vendor renewal" in reply_text(posted[0].body)
    assert len([c for c in accord.fake.calls("chat.postMessage") if c.body["channel"] == CIO]) == 1


def occurrences(accord: RunningAccord) -> list[TouchpointOccurrence]:
    with session_scope(accord.services.engine) as session:
        return list(
            session.exec(select(TouchpointOccurrence).order_by(col(TouchpointOccurrence.starts_at)))
        )


# -- 3. a captured item is confirmed even when the agenda thread refuses it -------------------


def test_form_capture_the_thread_refuses_is_reported_to_the_submitter(
    accord: RunningAccord,
) -> None:
    ok(accord, WEEKLY)
    accord.clock.set(FIRST_AGENDA)
    run_clock(accord)
    agenda = agendas(accord)[0]
    button = next(
        element
        for block in agenda.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "touchpoint.decision"
    )
    accord.slack.block_action(
        "touchpoint.decision",
        button["value"],
        user_id=CISO,
        channel_id=COORDINATION,
        message_ts=agenda.response["ts"],
        trigger_id="t-1",
        action_ts="1.1",
    )
    view = accord.fake.wait_for("views.open")[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    accord.fake.error_next("chat.postMessage", "not_in_channel")
    reply = accord.slack.view_submission(
        "touchpoint.decision",
        {"tp_text": {"value": {"type": "plain_text_input", "value": "Freeze firewall changes"}}},
        user_id=CISO,
        private_metadata=view["private_metadata"],
    )
    assert reply.status == 200 and "errors" not in reply.body
    accord.wait_idle()
    # Slack refused the thread post for good: the outbox tells the submitter what did not
    # arrive, by DM; the decision itself is recorded.
    told = [reply_text(m) for m in accord.fake.messages_in(CISO)]
    assert any("could not deliver a captured agenda item" in t for t in told), told
    refused = [c for c in accord.fake.calls("chat.postMessage") if c.body.get("thread_ts")]
    assert [c.error for c in refused] == ["not_in_channel"]
    assert count(accord, TouchpointDecision) == 1


# -- 4. the list shows how many there are and pages through them -----------------------------


def test_list_pages_through_every_series(accord: RunningAccord) -> None:
    for _ in range(23):
        ok(accord, WEEKLY)
    ok(accord, "touchpoint cancel TP-2")
    first = accord.command("touchpoint list").json()
    text = reply_text(first)
    assert "Touchpoints (22)" in text and "Showing 1–20 of 22" in text
    assert "TP-21" in text and "TP-22" not in text and "*TP-2*" not in text and "*TP-1*" in text
    nav = [
        element
        for block in first["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "touchpoint.page.next"
    ]
    assert [button["text"]["text"] for button in nav] == ["Next ▶"]
    accord.slack.block_action(nav[0]["action_id"], nav[0]["value"], user_id=CISO)
    second = accord.fake.wait_for("response_url")[0].body
    assert second["replace_original"] is True
    assert "Showing 21–22 of 22" in reply_text(second)
    assert "TP-23" in reply_text(second) and "TP-21" not in reply_text(second)
    assert "◀ Previous" in json.dumps(second["blocks"], ensure_ascii=False)
    everything = accord.command_text("touchpoint list all")
    assert "All touchpoints (23)" in everything and "Showing 1–20 of 23" in everything


# -- 5. "expiring before the next touchpoint" is the meeting's day where it is held ----------


def test_risks_expiring_by_the_next_meeting_use_its_local_date(accord: RunningAccord) -> None:
    def accept(number: int, text: str) -> None:
        assert f"RSK-{number}" in ok(accord, f"risk new {text}", user=CISO)
        ok(accord, f"risk approve RSK-{number}", user=CISO_2)
        ok(accord, f"risk approve RSK-{number}", user=CIO)

    accept(1, "Lapses on the next meeting day likelihood:2 impact:2 expires:2027-03-29")
    accept(2, "Lapses the day after likelihood:2 impact:2 expires:2027-03-30")
    # Mondays 00:30 in Berlin: the meeting after 22 March is 29 March 00:30 CEST, which is
    # still 28 March in UTC.
    ok(
        accord,
        f"touchpoint new Night owls every:weekly at:00:30 tz:Europe/Berlin {WITH} "
        f"channel:<#{COORDINATION}|coordination> from:2027-03-22",
    )
    accord.clock.set(datetime(2027, 3, 20, 23, 30, tzinfo=UTC))
    run_clock(accord)
    text = reply_text(agendas(accord)[0].body)
    risk_lines = [line for line in text.splitlines() if "RSK-" in line]
    assert len(risk_lines) == 1 and "RSK-1" in risk_lines[0] and "expiring" in risk_lines[0]


# -- 6. the App Home shows your next touchpoints and your open action items ------------------


def test_app_home_shows_your_next_touchpoints_and_open_action_items(
    accord: RunningAccord,
) -> None:
    ok(accord, WEEKLY)  # TP-1: CIO organises, CISO takes part
    ok(
        accord,
        f"touchpoint new NY sync every:weekly at:10:00 tz:America/New_York {WITH} from:2027-03-24",
    )
    ok(accord, f"touchpoint new Not mine every:weekly at:11:00 with:<@{CIO}|a>,<@{CISO_2}|c>")
    ok(accord, f"touchpoint new Paused one every:weekly at:12:00 {WITH}")
    ok(accord, "touchpoint pause TP-4")
    ok(accord, f"touchpoint action TP-1 Draft the MFA exception owner:<@{CISO}|bo> due:2027-01-05")
    ok(accord, f"touchpoint action TP-2 Someone else's owner:<@{CIO}|ann>")
    ok(accord, f"touchpoint action TP-2 Already handled owner:<@{CISO}|bo>")
    ok(accord, "touchpoint done A-3", user=CISO)
    ok(accord, f"touchpoint action TP-2 Review the runbook owner:<@{CISO}|bo>")
    accord.clock.set(datetime(2027, 3, 21, 12, 0, tzinfo=UTC))

    accord.slack.event({"type": "app_home_opened", "user": CISO, "tab": "home"})
    home = accord.fake.wait_for("views.publish")[0].body["view"]
    home = json.loads(home) if isinstance(home, str) else home
    assert len(home["blocks"]) <= 100
    text = reply_text(home)
    assert "Your initiatives (" in text and "On security hold (" in text  # still there
    assert "Your next touchpoints (2)" in text
    meetings = [line for line in text.splitlines() if line.startswith("• *TP-")]
    assert meetings == [
        f"• *TP-1* CIO-CISO weekly — Mon 22 Mar 09:00 Europe/Berlin in <#{COORDINATION}>",
        f"• *TP-2* NY sync — Wed 24 Mar 10:00 America/New_York in <#{COORDINATION}>",
    ]
    assert "Your open action items (2)" in text
    items = [line for line in text.splitlines() if line.startswith("• *A-")]
    assert len(items) == 2
    assert items[0].startswith("• *A-1* Draft the MFA exception (TP-1)") and "overdue" in items[0]
    assert items[1].startswith("• *A-4* Review the runbook (TP-2)") and "overdue" not in items[1]


# -- 7. the owner of an action item closes it, even from no side ---------------------------


def test_the_owner_of_an_action_item_on_no_side_can_close_it(accord: RunningAccord) -> None:
    ok(accord, WEEKLY)
    ok(accord, f"touchpoint action TP-1 Send the vendor report owner:<@{OUTSIDER}|vera>")
    someone_else = "U0OUT2"  # on no side either, and not the owner
    refused = accord.command_text("touchpoint done A-1", user=someone_else)
    assert "Only members of the CIO or CISO side can" in refused
    assert count(accord, TouchpointAction, col(TouchpointAction.status) == "done") == 0

    closed = accord.command_text("touchpoint done A-1", user=OUTSIDER)
    assert "*A-1* is done" in closed, closed
    with session_scope(accord.services.engine) as session:
        item = session.get(TouchpointAction, 1)
        assert item is not None and item.status == "done" and item.done_by == OUTSIDER
        trail = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "touchpoint.action_done")
        ).all()
    assert [event.actor_id for event in trail] == [OUTSIDER]
    again = accord.command_text("touchpoint done A-1", user=OUTSIDER)
    assert "already done" in again
