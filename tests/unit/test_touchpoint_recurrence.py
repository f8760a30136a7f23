"""Recurrence in the organiser's zone: wall-clock time kept across DST, gaps, parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.db import make_engine, session_scope, upgrade
from bot.domain.errors import InvalidInput
from bot.domain.touchpoints import (
    TouchpointSeries,
    next_occurrence,
    parse_time,
    parse_timezone,
    recurrence_rule,
)


def series(rule: str, first: date, at: time, tz: str) -> TouchpointSeries:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return TouchpointSeries(
        id=1,
        name="Sync",
        participants=["U1"],
        channel_id="C1",
        rrule=rule,
        first_date=first,
        local_time=at,
        timezone=tz,
        organiser_id="U1",
        created_at=now,
        updated_by="U1",
        updated_at=now,
    )


def test_weekly_keeps_wall_clock_across_autumn_change_in_new_york() -> None:
    s = series(
        recurrence_rule("weekly", date(2026, 10, 26)),
        date(2026, 10, 26),
        time(9),
        "America/New_York",
    )
    first = next_occurrence(s, after=datetime(2026, 10, 26, tzinfo=UTC))
    assert first is not None
    second = next_occurrence(s, after=first)
    assert first == datetime(2026, 10, 26, 13, 0, tzinfo=UTC)  # EDT, UTC-4
    assert second == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # EST, UTC-5


def test_time_in_the_spring_gap_moves_forward() -> None:
    s = series(
        recurrence_rule("weekly", date(2027, 3, 21)),
        date(2027, 3, 21),
        time(2, 30),
        "Europe/Berlin",
    )
    first = next_occurrence(s, after=datetime(2027, 3, 21, tzinfo=UTC))
    assert first is not None
    gap = next_occurrence(s, after=first)
    assert gap == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_monthly_is_the_nth_weekday_and_rrules_are_accepted() -> None:
    assert recurrence_rule("monthly", date(2027, 1, 29)) == "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1FR"
    assert recurrence_rule("3w", date(2027, 1, 4)) == "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO"
    assert (
        recurrence_rule('"FREQ=WEEKLY;BYDAY=TU,TH"', date(2027, 1, 4)) == "FREQ=WEEKLY;BYDAY=TU,TH"
    )
    with pytest.raises(InvalidInput):
        recurrence_rule("FREQ=SOMETIMES", date(2027, 1, 4))


@pytest.mark.parametrize("bad", ["25:00", "9", "12:60", "noon"])
def test_bad_times(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not a time of day"):
        parse_time(bad)


def test_time_zones() -> None:
    assert parse_timezone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(InvalidInput, match="not a time zone"):
        parse_timezone("Berlin")


def test_cli_exports_ics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = make_engine(url)
    upgrade(engine)
    s = series("FREQ=WEEKLY;INTERVAL=1;BYDAY=MO", date(2027, 3, 22), time(9), "Europe/Berlin")
    with session_scope(engine) as session:
        session.add(s)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "tp.ics"
    result = CliRunner().invoke(app, ["export", "ics", "TP-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO" in text
    assert "DTSTART;TZID=Europe/Berlin:20270322T090000" in text
    missing = CliRunner().invoke(app, ["export", "ics", "TP-9"])
    assert missing.exit_code == 2 and "no TP-9" in missing.output
