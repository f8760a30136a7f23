"""Touchpoints through the signed-HTTP path and the clock job, with an injected clock."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from icalendar import Calendar
from sqlmodel import col, func, select

from bot.bootstrap import build_slack_services, build_web_client
from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.touchpoints import (
    OccurrenceStatus,
    TouchpointAction,
    TouchpointOccurrence,
    TouchpointSeries,
)
from bot.scheduler.clock import build_scheduler
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.harness import CIO, CIO_2, CISO, COORDINATION, RunningAccord, reply_text

JOB = "touchpoints.post_agendas"
WITH = f"with:<@{CIO}|ann>,<@{CISO}|bo>"
WEEKLY = (
    f"touchpoint new CIO-CISO weekly every:weekly at:09:00 tz:Europe/Berlin {WITH} "
    f"channel:<#{COORDINATION}|coordination> from:2027-03-22"
)


def count(accord: RunningAccord, model: type) -> int:
    with session_scope(accord.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def run_clock(accord: RunningAccord) -> None:
    """Run the job as the scheduler would: the registry's function, the clock's now."""
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job_by_id(JOB).run(accord.services, notifier, accord.clock.now())
    accord.deliver()


def agendas(accord: RunningAccord) -> list[dict[str, Any]]:
    return [
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if "Agenda" in str(call.body.get("text", "")) and not call.body.get("thread_ts")
    ]


def occurrences(accord: RunningAccord) -> list[TouchpointOccurrence]:
    with session_scope(accord.services.engine) as session:
        return list(
            session.exec(select(TouchpointOccurrence).order_by(col(TouchpointOccurrence.starts_at)))
        )


def ok(accord: RunningAccord, text: str, *, user: str = CIO) -> str:
    result = accord.command_text(text, user=user)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


def seed_records(accord: RunningAccord) -> None:
    """Created on 2026-11-25; by March 2027 INI-2 and A-1 are overdue."""
    ok(accord, "initiative new Red one")
    ok(accord, "initiative update INI-1 health:red")
    ok(accord, "initiative new Overdue one due:2027-01-10")
    ok(accord, "initiative new Held one")
    ok(accord, "initiative hold INI-3 unpatched edge firewall", user=CISO)
    ok(accord, "initiative new Blocked one")
    ok(accord, "initiative update INI-4 status:blocked")
    ok(accord, "initiative new Closed red one")
    ok(accord, "initiative update INI-5 status:done health:red")
    ok(accord, "initiative new Healthy one due:2027-12-31")


def test_weekly_agenda_across_dst_exactly_once_with_open_items(accord: RunningAccord) -> None:
    seed_records(accord)
    created = ok(accord, WEEKLY)
    assert "TP-1" in created and "Europe/Berlin" in created
    ok(accord, "touchpoint add TP-1 VPN vendor renewal")
    ok(accord, f"touchpoint action TP-1 Draft the MFA exception owner:<@{CISO}|bo> due:2027-01-05")
    ok(accord, f"touchpoint action TP-1 Already handled owner:<@{CIO}|ann>")
    ok(accord, "touchpoint done A-2")

    # 09:00 CET on Monday 22 March = 08:00 UTC; the agenda is due 24 h earlier.
    accord.clock.set(datetime(2027, 3, 21, 7, 59, tzinfo=UTC))
    run_clock(accord)
    assert agendas(accord) == []
    accord.clock.set(datetime(2027, 3, 21, 8, 0, tzinfo=UTC))
    run_clock(accord)
    run_clock(accord)
    first = agendas(accord)
    assert len(first) == 1
    assert first[0]["channel"] == COORDINATION
    text = reply_text(first[0])
    for present in ("INI-1", "INI-2", "INI-3", "INI-4", "VPN vendor renewal", "A-1"):
        assert present in text, present
    for absent in ("INI-5", "INI-6", "A-2", "Already handled", "Posted late"):
        assert absent not in text, absent
    assert "red" in text and "on hold" in text and "blocked" in text and "overdue" in text
    a1_line = next(line for line in text.splitlines() if "A-1" in line)
    assert "overdue" in a1_line and f"<@{CISO}>" in a1_line

    # After the change to CEST on 28 March, 09:00 Berlin is 07:00 UTC.
    accord.clock.set(datetime(2027, 3, 28, 6, 59, tzinfo=UTC))
    run_clock(accord)
    assert len(agendas(accord)) == 1
    accord.clock.set(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))
    run_clock(accord)
    run_clock(accord)
    second = agendas(accord)
    assert len(second) == 2
    text2 = reply_text(second[1])
    assert "A-1" in text2 and "INI-1" in text2
    assert "VPN vendor renewal" not in text2  # a topic is on the next agenda only

    starts = [(o.starts_at, o.status) for o in occurrences(accord)]
    assert starts == [
        (datetime(2027, 3, 22, 8, 0, tzinfo=UTC), OccurrenceStatus.POSTED),
        (datetime(2027, 3, 29, 7, 0, tzinfo=UTC), OccurrenceStatus.POSTED),
    ]


def test_missed_agenda_is_posted_late_once_or_skipped_after_the_meeting(
    accord: RunningAccord,
) -> None:
    ok(accord, WEEKLY)
    # Clock down from before the first agenda until after the first meeting (22 March 08:00 UTC)
    # and back between the second agenda time (28 March 07:00 UTC) and that meeting.
    accord.clock.set(datetime(2027, 3, 28, 20, 0, tzinfo=UTC))
    run_clock(accord)
    run_clock(accord)
    posted = agendas(accord)
    assert len(posted) == 1
    assert "Posted late" in reply_text(posted[0])
    assert [(o.starts_at.day, o.status) for o in occurrences(accord)] == [
        (22, OccurrenceStatus.MISSED),
        (29, OccurrenceStatus.POSTED_LATE),
    ]


def _run_scheduler_once(accord: RunningAccord, services: Any) -> None:
    """Start the real clock scheduler, fire the touchpoint job now, wait for it, shut down."""
    notifier = SlackNotifier(build_web_client(services.settings))
    scheduler = build_scheduler(services, notifier, blocking=False)
    done = threading.Event()
    errors: list[JobExecutionEvent] = []

    def listen(event: JobExecutionEvent) -> None:
        if event.job_id == JOB:
            if event.exception:
                errors.append(event)
            done.set()

    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        scheduler.get_job(JOB).modify(next_run_time=datetime.now(UTC))
        assert done.wait(10), "the touchpoint job did not run"
        assert not errors
    finally:
        scheduler.shutdown(wait=True)


def test_clock_restart_neither_loses_nor_duplicates(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    ok(accord, WEEKLY)
    accord.clock.set(datetime(2027, 3, 21, 8, 0, tzinfo=UTC))
    _run_scheduler_once(accord, accord.services)
    assert len(accord.posts_in(COORDINATION, 1)) == 1

    # A fresh clock process (new engine) on the same database, before the next agenda: nothing.
    client = build_web_client(accord.services.settings)
    restarted = build_slack_services(accord.services.settings, client=client, clock=accord.clock)
    try:
        accord.clock.set(datetime(2027, 3, 25, 12, 0, tzinfo=UTC))
        _run_scheduler_once(accord, restarted)
        assert restarted.outbound is not None
        restarted.outbound.drain()
        assert len(agendas(accord)) == 1
        # The job is persisted in the database job store.
        with restarted.engine.connect() as connection:
            ids = [row[0] for row in connection.exec_driver_sql("SELECT id FROM apscheduler_job")]
        assert JOB in ids
        # Stopped again; restarted at the second agenda time: exactly one more.
        accord.clock.set(datetime(2027, 3, 28, 7, 5, tzinfo=UTC))
        _run_scheduler_once(accord, restarted)
        _run_scheduler_once(accord, restarted)
        restarted.outbound.drain()
        assert len(agendas(accord)) == 2
    finally:
        restarted.engine.dispose()
    assert [o.status for o in occurrences(accord)] == [OccurrenceStatus.POSTED] * 2


def test_ics_export_parses_back_with_rrule_and_zone(accord: RunningAccord) -> None:
    ok(accord, WEEKLY)
    ok(accord, "touchpoint skip TP-1")
    reply = ok(accord, "touchpoint ics TP-1")
    assert "tp-1.ics" in reply
    files = accord.fake.uploaded_files()
    assert len(files) == 1
    calendar = Calendar.from_ical(next(iter(files.values())))
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event["RRULE"].to_ical().decode() == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO"
    start = event["DTSTART"].dt
    assert start.replace(tzinfo=None) == datetime(2027, 3, 22, 9, 0)
    assert str(start.tzinfo) == "Europe/Berlin"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    exdates = [d.dt for d in event["EXDATE"].dts]
    assert exdates[0].replace(tzinfo=None) == datetime(2027, 3, 22, 9, 0)


def test_bad_input_gets_helpful_reply_and_changes_nothing(accord: RunningAccord) -> None:
    cases = {
        f"touchpoint new Sync every:weekly at:09:00 tz:Mars/Olympus {WITH}": "time zone",
        f"touchpoint new Sync every:weekly at:25:00 tz:Europe/Berlin {WITH}": "HH:MM",
        f"touchpoint new Sync every:weekly at:09:00 with:<@{CIO}|a>,<@{CIO_2}|c>": "CISO side",
        f"touchpoint new Sync every:fortnight-ish at:09:00 {WITH}": "every:",
        "touchpoint new Sync every:weekly at:09:00": "with:",
    }
    for command, expected in cases.items():
        reply = accord.command(command)
        assert reply.json()["response_type"] == "ephemeral"
        text = reply_text(reply.json())
        assert ":warning:" in text and expected in text, (command, text)
    assert count(accord, TouchpointSeries) == 0
    assert count(accord, AuditEvent) == 0


def test_timezone_defaults_to_the_organisers_slack_profile(accord: RunningAccord) -> None:
    accord.fake.add_user(CIO, name="ann", tz="America/New_York")
    ok(accord, f"touchpoint new Sync every:2w at:08:30 {WITH}")
    accord.fake.wait_for("users.info")
    with session_scope(accord.services.engine) as session:
        series = session.get(TouchpointSeries, 1)
        assert series is not None
        assert series.timezone == "America/New_York"
        assert "INTERVAL=2" in series.rrule
        assert series.next_start is not None
        local = series.next_start.astimezone(series.zone)
        assert (local.hour, local.minute) == (8, 30)


def test_capture_from_the_agenda_button_goes_into_the_thread(accord: RunningAccord) -> None:
    ok(accord, WEEKLY)
    accord.clock.set(datetime(2027, 3, 21, 8, 0, tzinfo=UTC))
    run_clock(accord)
    agenda = accord.posts_in(COORDINATION)[0]
    agenda_ts = agenda.response["ts"]
    button = next(
        element
        for block in agenda.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "touchpoint.action"
    )
    accord.slack.block_action(
        "touchpoint.action",
        button["value"],
        user_id=CISO,
        message_ts=agenda_ts,
        trigger_id="t-1",
        action_ts="1.1",
    )
    view = accord.fake.wait_for("views.open")[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "touchpoint.action"
    accord.slack.view_submission(
        "touchpoint.action",
        {
            "tp_text": {"value": {"type": "plain_text_input", "value": "Patch the edge"}},
            "tp_owner": {"value": {"type": "users_select", "selected_user": CISO}},
            "tp_due": {"value": {"type": "datepicker", "selected_date": "2027-03-25"}},
        },
        user_id=CISO,
        private_metadata=view["private_metadata"],
    )
    threaded = accord.posts_in(COORDINATION, 2)[1].body
    assert threaded["thread_ts"] == agenda_ts
    assert "A-1" in threaded["text"] and "Patch the edge" in threaded["text"]
    with session_scope(accord.services.engine) as session:
        item = session.get(TouchpointAction, 1)
        assert item is not None and item.occurrence_id == occurrences(accord)[0].id

    # Overdue on the next agenda, then closed and gone.
    accord.clock.set(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))
    run_clock(accord)
    text = reply_text(agendas(accord)[1])
    assert "A-1" in text and "overdue" in next(line for line in text.splitlines() if "A-1" in line)
    ok(accord, "touchpoint done A-1", user=CISO)
    ok(accord, "touchpoint decision TP-1 Freeze firewall changes")
    shown = ok(accord, "touchpoint show TP-1")
    assert "Freeze firewall changes" in shown and "Patch the edge" not in shown


def test_pause_resume_skip_cancel(accord: RunningAccord) -> None:
    ok(accord, WEEKLY)
    skipped = ok(accord, "touchpoint skip TP-1")
    assert "skipped" in skipped
    accord.clock.set(datetime(2027, 3, 21, 8, 0, tzinfo=UTC))
    run_clock(accord)
    assert agendas(accord) == []
    ok(accord, "touchpoint pause TP-1")
    accord.clock.set(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))
    run_clock(accord)
    assert agendas(accord) == []
    ok(accord, "touchpoint resume TP-1")
    accord.clock.set(datetime(2027, 4, 4, 7, 0, tzinfo=UTC))
    run_clock(accord)
    assert len(agendas(accord)) == 1
    assert "TP-1" in ok(accord, "touchpoint list")
    ok(accord, "touchpoint cancel TP-1")
    accord.clock.set(datetime(2027, 4, 11, 7, 0, tzinfo=UTC))
    run_clock(accord)
    assert len(agendas(accord)) == 1
    assert "TP-1" not in ok(accord, "touchpoint list")


def _create_values(users: list[str], tz: str = "") -> dict[str, Any]:
    return {
        "tp_name": {"value": {"type": "plain_text_input", "value": "Monthly review"}},
        "tp_participants": {"value": {"type": "multi_users_select", "selected_users": users}},
        "tp_channel": {"value": {"type": "channels_select", "selected_channel": COORDINATION}},
        "tp_every": {"value": {"type": "static_select", "selected_option": {"value": "monthly"}}},
        "tp_time": {"value": {"type": "timepicker", "selected_time": "16:30"}},
        "tp_tz": {"value": {"type": "plain_text_input", "value": tz}},
        "tp_first": {"value": {"type": "datepicker", "selected_date": "2027-01-14"}},
    }


def test_modal_creates_a_series_and_marks_the_wrong_field(accord: RunningAccord) -> None:
    reply = accord.command("touchpoint", trigger_id="t-modal")
    assert reply.status == 200
    view = accord.fake.wait_for("views.open")[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "touchpoint.create"

    refused = accord.slack.view_submission(
        "touchpoint.create", _create_values([CIO, CIO_2]), user_id=CIO, view_id="V1"
    )
    errors = refused.json()["errors"]
    assert "CISO side" in errors["tp_participants"]
    bad_tz = accord.slack.view_submission(
        "touchpoint.create", _create_values([CIO, CISO], tz="Nowhere"), user_id=CIO, view_id="V2"
    )
    assert "time zone" in bad_tz.json()["errors"]["tp_tz"]
    assert count(accord, TouchpointSeries) == 0

    accord.slack.view_submission(
        "touchpoint.create",
        _create_values([CIO, CISO], tz="Europe/London"),
        user_id=CIO,
        view_id="V3",
        private_metadata=json.dumps({"channel": COORDINATION}),
    )
    with session_scope(accord.services.engine) as session:
        series = session.get(TouchpointSeries, 1)
        assert series is not None
        # 14 January 2027 is the second Thursday.
        assert series.rrule == "FREQ=MONTHLY;INTERVAL=1;BYDAY=+2TH"
        assert series.next_start == datetime(2027, 1, 14, 16, 30, tzinfo=UTC)


def test_the_form_offers_duration_and_agenda_lead_time(accord: RunningAccord) -> None:
    accord.command("touchpoint", trigger_id="t-modal-2")
    view = accord.fake.wait_for("views.open")[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    assert blocks["tp_duration"]["element"]["initial_value"] == "60"
    assert blocks["tp_lead"]["element"]["initial_value"] == "24"
    assert blocks["tp_every"]["element"]["type"] == "static_select"  # the recurrence

    values = _create_values([CIO, CISO], tz="Europe/London")
    values["tp_duration"] = {"value": {"type": "plain_text_input", "value": "600"}}
    refused = accord.slack.view_submission("touchpoint.create", values, user_id=CIO, view_id="V1")
    assert "duration" in refused.json()["errors"]["tp_duration"].lower()
    values["tp_duration"] = {"value": {"type": "plain_text_input", "value": "45"}}
    values["tp_lead"] = {"value": {"type": "plain_text_input", "value": "72"}}
    accord.slack.view_submission(
        "touchpoint.create",
        values,
        user_id=CIO,
        view_id="V2",
        private_metadata=json.dumps({"channel": COORDINATION}),
    )
    with session_scope(accord.services.engine) as session:
        series = session.get(TouchpointSeries, 1)
        assert series is not None
        assert (series.duration_minutes, series.lead_minutes) == (45, 72 * 60)
