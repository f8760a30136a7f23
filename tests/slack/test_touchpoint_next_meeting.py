"""The next meeting during an agenda's lead window, and the "posted late" note: through the
signed-HTTP path and the clock job with the injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import col, select

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.touchpoints import OccurrenceStatus, TouchpointOccurrence
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.harness import CIO, CISO, COORDINATION, RunningAccord, reply_text

JOB = "touchpoints.post_agendas"
#: Monday 22 March 2027 09:00 Berlin (08:00 UTC); with a 72 h lead the agenda is due on
#: Friday 19 March 08:00 UTC.
SERIES = (
    f"touchpoint new W every:weekly at:09:00 tz:Europe/Berlin with:<@{CIO}|ann>,<@{CISO}|bo> "
    f"channel:<#{COORDINATION}|coordination> from:2027-03-22 lead:72h"
)
MEETING_1 = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
#: After the change to summer time: 09:00 Berlin is 07:00 UTC.
MEETING_2 = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
MEETING_3 = datetime(2027, 4, 5, 7, 0, tzinfo=UTC)


def run_clock(accord: RunningAccord) -> None:
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job_by_id(JOB).run(accord.services, notifier, accord.clock.now())
    accord.deliver()


def ok(accord: RunningAccord, text: str) -> str:
    result = accord.command_text(text, user=CIO)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


def agendas(accord: RunningAccord) -> list[str]:
    return [
        reply_text(call.body)
        for call in accord.fake.calls("chat.postMessage")
        if "Agenda" in str(call.body.get("text", "")) and not call.body.get("thread_ts")
    ]


def home_meetings(accord: RunningAccord, count: int) -> list[str]:
    accord.slack.event({"type": "app_home_opened", "user": CISO, "tab": "home"})
    view = accord.fake.wait_for("views.publish", count)[count - 1].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    return [line for line in reply_text(view).splitlines() if line.startswith("• *TP-")]


def date_tag(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^"


def statuses(accord: RunningAccord) -> list[tuple[datetime, OccurrenceStatus]]:
    with session_scope(accord.services.engine) as session:
        rows = session.exec(
            select(TouchpointOccurrence).order_by(col(TouchpointOccurrence.starts_at))
        )
        return [(row.starts_at, row.status) for row in rows]


def test_next_meeting_stays_until_it_starts_and_a_series_created_late_is_not_late(
    accord: RunningAccord,
) -> None:
    # Created inside its own lead window: the first agenda goes out at once, not "late".
    accord.clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))
    ok(accord, SERIES)
    run_clock(accord)
    posted = agendas(accord)
    assert len(posted) == 1
    assert "Posted late" not in posted[0]
    assert statuses(accord) == [(MEETING_1, OccurrenceStatus.POSTED)]

    # The agenda is out, the meeting is still ahead: everything names that meeting.
    accord.clock.set(datetime(2027, 3, 21, 9, 0, tzinfo=UTC))
    run_clock(accord)
    expected = f"• *TP-1* W — Mon 22 Mar 09:00 Europe/Berlin in <#{COORDINATION}>"
    assert home_meetings(accord, 1) == [expected]
    listed = ok(accord, "touchpoint list")
    assert f"next {date_tag(MEETING_1)}" in listed
    shown = ok(accord, "touchpoint show TP-1")
    next_meetings = shown[shown.index("Next meetings") :]
    assert next_meetings.index(date_tag(MEETING_1)) < next_meetings.index(date_tag(MEETING_2))

    # Once it has started, the next one is the one after.
    accord.clock.set(datetime(2027, 3, 22, 8, 1, tzinfo=UTC))
    run_clock(accord)
    assert home_meetings(accord, 2) == [
        f"• *TP-1* W — Mon 29 Mar 09:00 Europe/Berlin in <#{COORDINATION}>"
    ]
    assert f"next {date_tag(MEETING_2)}" in ok(accord, "touchpoint list")
    assert len(agendas(accord)) == 1  # the next agenda is due on 26 March


def test_skip_during_the_lead_window_skips_the_meeting_whose_agenda_is_out(
    accord: RunningAccord,
) -> None:
    accord.clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    ok(accord, SERIES)
    accord.clock.set(datetime(2027, 3, 19, 8, 0, tzinfo=UTC))
    run_clock(accord)
    assert len(agendas(accord)) == 1

    skipped = ok(accord, "touchpoint skip TP-1")
    assert f"The meeting {date_tag(MEETING_1)}" in skipped
    assert "already posted" in skipped
    assert statuses(accord) == [(MEETING_1, OccurrenceStatus.SKIPPED)]
    assert home_meetings(accord, 1) == [
        f"• *TP-1* W — Mon 29 Mar 09:00 Europe/Berlin in <#{COORDINATION}>"
    ]
    # A second skip, still before the first meeting, skips the one after (29 March).
    assert f"The meeting {date_tag(MEETING_2)}" in ok(accord, "touchpoint skip TP-1")
    assert home_meetings(accord, 2) == [
        f"• *TP-1* W — Mon 05 Apr 09:00 Europe/Berlin in <#{COORDINATION}>"
    ]
    assert statuses(accord) == [
        (MEETING_1, OccurrenceStatus.SKIPPED),
        (MEETING_2, OccurrenceStatus.SKIPPED),
    ]

    # The clock posts neither skipped meeting; the next agenda comes as planned.
    run_clock(accord)
    accord.clock.set(datetime(2027, 3, 26, 7, 0, tzinfo=UTC))
    run_clock(accord)
    assert len(agendas(accord)) == 1
    accord.clock.set(datetime(2027, 4, 2, 7, 0, tzinfo=UTC))
    run_clock(accord)
    posted = agendas(accord)
    assert len(posted) == 2 and "Posted late" not in posted[1]
    assert statuses(accord) == [
        (MEETING_1, OccurrenceStatus.SKIPPED),
        (MEETING_2, OccurrenceStatus.SKIPPED),
        (MEETING_3, OccurrenceStatus.POSTED),
    ]
