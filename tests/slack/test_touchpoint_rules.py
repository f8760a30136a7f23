"""Touchpoint rules a new user trips over, through the signed-HTTP path: recurrences more often
than daily, recurrences in words, and skipped meetings after a pause."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.touchpoints import TouchpointSeries
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.harness import CIO, CISO, COORDINATION, RunningAccord

WITH = f"with:<@{CIO}|ann>,<@{CISO}|bo> channel:<#{COORDINATION}|coordination>"
MEETING_1 = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
MEETING_2 = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)


def run_clock(accord: RunningAccord) -> None:
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job_by_id("touchpoints.post_agendas").run(accord.services, notifier, accord.clock.now())
    accord.deliver()


def ok(accord: RunningAccord, text: str) -> str:
    result = accord.command_text(text, user=CIO)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


def date_tag(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^"


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY",
        "FREQ=MINUTELY;INTERVAL=5",
        "FREQ=SECONDLY",
        "FREQ=DAILY;BYHOUR=9,15",
        "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9,10",
    ],
)
def test_a_recurrence_more_often_than_daily_is_refused(accord: RunningAccord, rule: str) -> None:
    reply = accord.command_text(
        f'touchpoint new Flood every:"{rule}" at:09:00 tz:Europe/Berlin {WITH}'
    )
    assert "more than once a day" in reply and "at most daily" in reply, reply
    assert "TP-1" not in ok(accord, "touchpoint list")


def test_a_daily_rule_is_still_accepted(accord: RunningAccord) -> None:
    created = ok(accord, f'touchpoint new Standup every:"FREQ=DAILY" at:09:00 {WITH}')
    assert "Created *TP-1*" in created and "Every day at 09:00" in created


def test_an_hourly_series_saved_earlier_posts_a_few_agendas_per_clock_run(
    accord: RunningAccord,
) -> None:
    now = accord.clock.now()
    with session_scope(accord.services.engine) as session:
        series = TouchpointSeries(
            name="Saved before the check",
            participants=[CIO, CISO],
            channel_id=COORDINATION,
            rrule="FREQ=HOURLY;INTERVAL=1",
            first_date=now.date(),
            local_time=time(11, 0),
            timezone="UTC",
            organiser_id=CIO,
            created_at=now,
            updated_by=CIO,
            updated_at=now,
            next_start=datetime.combine(now.date(), time(11, 0), tzinfo=UTC),
        )
        session.add(series)
    run_clock(accord)
    posted = [
        call
        for call in accord.fake.calls("chat.postMessage")
        if call.body.get("channel") == COORDINATION and not call.body.get("thread_ts")
    ]
    assert len(posted) == 3


@pytest.mark.parametrize(
    ("every", "first", "words"),
    [
        (
            '"FREQ=MONTHLY;INTERVAL=3;BYDAY=1TU"',
            "2027-04-06",
            "Every 3 months on the first Tuesday",
        ),
        ("monthly", "2027-03-09", "Every month on the second Tuesday"),
        ("2w", "2027-03-22", "Every 2 weeks on Monday"),
        ("weekly", "2027-03-22", "Every Monday"),
        ('"FREQ=WEEKLY;BYDAY=MO,TH"', "2027-03-22", "Every Monday and Thursday"),
    ],
)
def test_recurrences_are_described_in_words(
    accord: RunningAccord, every: str, first: str, words: str
) -> None:
    created = ok(
        accord, f"touchpoint new Sync every:{every} at:09:00 tz:Europe/Berlin {WITH} from:{first}"
    )
    assert f"{words} at 09:00 Europe/Berlin" in created, created
    assert "Monthly (" not in created and "RRULE" not in created
    assert f"{words} at 09:00" in ok(accord, "touchpoint list")


def test_resume_does_not_bring_back_a_skipped_meeting(accord: RunningAccord) -> None:
    accord.clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    ok(
        accord,
        f"touchpoint new W every:weekly at:09:00 tz:Europe/Berlin {WITH} from:{date(2027, 3, 22)}",
    )
    ok(accord, "touchpoint skip TP-1")
    ok(accord, "touchpoint pause TP-1")
    resumed = ok(accord, "touchpoint resume TP-1")
    later = resumed[resumed.index("Next meetings") :]
    assert date_tag(MEETING_1) not in later and date_tag(MEETING_2) in later
    assert f"next {date_tag(MEETING_2)}" in ok(accord, "touchpoint list")
    shown = ok(accord, "touchpoint show TP-1")
    assert date_tag(MEETING_1) not in shown
    # And its agenda is never posted: the clock's next agenda is the 29 March one.
    accord.clock.set(datetime(2027, 3, 21, 9, 0, tzinfo=UTC))
    run_clock(accord)
    assert accord.fake.messages_in(COORDINATION) == []
