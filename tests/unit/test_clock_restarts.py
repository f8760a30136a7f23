"""A restart of the clock keeps every job's next run: the scheduler the `clock` process builds,
started and stopped against one job store while the wall clock is moved (time-machine)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from bot.bootstrap import build_slack_services, build_web_client
from bot.scheduler.clock import build_scheduler, stored_next_run_times
from bot.services import Services
from bot.slack.notifier import SlackNotifier
from tests import harness
from tests.fakes.slack_api import FakeSlackServer

T0 = datetime(2026, 12, 21, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
HOURLY = ("risks.expire", "disagreements.timebox", "escalations.deadlines", "digests.retry")


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'clock.db'}"


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as moved:
        yield moved


def restart_clock(
    database: str, fake: FakeSlackServer, **settings: object
) -> dict[str, datetime | None]:
    """One life of the clock process: build its scheduler, start it, stop it; the store after."""
    config = harness.test_settings(database, fake, **settings)
    client = build_web_client(config)
    services: Services = build_slack_services(config, client=client)
    try:
        scheduler = build_scheduler(services, SlackNotifier(client), blocking=False)
        scheduler.start(paused=True)  # writes the jobs to the store; runs nothing
        try:
            stored = stored_next_run_times(scheduler._lookup_jobstore("default"))
        finally:
            scheduler.shutdown(wait=True)
    finally:
        services.engine.dispose()
    return stored


def test_three_restarts_in_five_minutes_do_not_postpone_hourly_jobs(
    database: str, fake_slack: FakeSlackServer, traveller: time_machine.Coordinates
) -> None:
    first = restart_clock(database, fake_slack)
    assert [first[job] for job in HOURLY] == [T0 + HOUR] * len(HOURLY)
    for seconds in (100, 200, 300):
        traveller.move_to(T0 + timedelta(seconds=seconds))
        again = restart_clock(database, fake_slack)
        assert again["risks.expire"] == T0 + HOUR, f"restart at +{seconds}s"
        assert [again[job] for job in HOURLY] == [T0 + HOUR] * len(HOURLY)
        assert again["digests.weekly"] == first["digests.weekly"]


def test_a_job_that_fell_due_while_the_clock_was_down_runs_at_start_up(
    database: str, fake_slack: FakeSlackServer, traveller: time_machine.Coordinates
) -> None:
    restart_clock(database, fake_slack)
    back = T0 + 3 * HOUR  # down across three hourly runs: one run now, not three, not in 1 h
    traveller.move_to(back)
    stored = restart_clock(database, fake_slack)
    for job in HOURLY:
        assert stored[job] == back, job
    # The daily 08:00 reminders were not missed (the clock was down 09:30–12:30): tomorrow.
    assert stored["risks.remind"] == datetime(2026, 12, 22, 8, 0, tzinfo=UTC)


def test_a_missed_daily_run_still_runs_late_within_its_grace(
    database: str, fake_slack: FakeSlackServer, traveller: time_machine.Coordinates
) -> None:
    traveller.move_to(datetime(2026, 12, 21, 7, 55, tzinfo=UTC))
    assert restart_clock(database, fake_slack)["risks.remind"] == datetime(
        2026, 12, 21, 8, 0, tzinfo=UTC
    )
    traveller.move_to(datetime(2026, 12, 21, 9, 0, tzinfo=UTC))  # down over 08:00, back at 09:00
    assert restart_clock(database, fake_slack)["risks.remind"] == datetime(
        2026, 12, 21, 8, 0, tzinfo=UTC
    ), "kept, so APScheduler runs it once, late (grace 6 h)"
    traveller.move_to(datetime(2026, 12, 21, 15, 0, tzinfo=UTC))  # back only after the grace
    assert restart_clock(database, fake_slack)["risks.remind"] == datetime(
        2026, 12, 22, 8, 0, tzinfo=UTC
    )


def test_a_shorter_interval_takes_effect_at_the_next_start(
    database: str, fake_slack: FakeSlackServer, traveller: time_machine.Coordinates
) -> None:
    assert restart_clock(database, fake_slack)["digests.retry"] == T0 + HOUR
    traveller.move_to(T0 + timedelta(minutes=5))
    stored = restart_clock(database, fake_slack, accord_digest_retry_minutes=15)
    assert stored["digests.retry"] == T0 + timedelta(minutes=20)
