"""Time comes from an injected clock so tests can move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def today(clock: Clock) -> date:
    """Today's date in UTC: due dates and expiry dates are whole UTC days."""
    return clock.now().date()


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored datetime is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
