"""Parsing times and zones, and the RRULE arithmetic of a series (pure, no session)."""

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import rrule, rrulestr

from bot.domain.errors import InvalidInput
from bot.domain.touchpoints.models import (
    MAX_SCAN,
    RECURRENCE_HINT,
    TZ_HINT,
    OccurrenceStatus,
    SeriesStatus,
    TouchpointOccurrence,
    TouchpointSeries,
)

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")

_WEEKS = re.compile(r"^(\d{1,2})w$")

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def parse_time(text: str) -> time:
    match = _TIME.match(text.strip())
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    if hour > 23 or minute > 59:
        raise InvalidInput(
            f"`{text[:20]}` is not a time of day.",
            hint="Times are 24-hour `HH:MM`, e.g. `at:09:00` or `at:16:30`.",
            field="time",
        )
    return time(hour, minute)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def parse_timezone(text: str) -> str:
    name = text.strip()
    if name in _zones():
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise InvalidInput(f"`{name[:40]}` is not a time zone I know.", hint=TZ_HINT, field="tz")


def recurrence_rule(every: str, first: date) -> str:
    """`weekly`, `Nw`, `monthly` (Nth weekday of `first`) or an RRULE, as an RRULE string."""
    key = every.strip().strip('"').lower()
    weekday = _DAYS[first.weekday()]
    if key in ("weekly", "week", "1w"):
        return f"FREQ=WEEKLY;INTERVAL=1;BYDAY={weekday}"
    if key in ("biweekly", "fortnightly"):
        key = "2w"
    weeks = _WEEKS.match(key)
    if weeks:
        interval = int(weeks.group(1))
        if not 1 <= interval <= 52:
            raise InvalidInput(f"`every:{every[:20]}` is out of range.", hint=RECURRENCE_HINT)
        return f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={weekday}"
    if key == "monthly":
        nth = (first.day - 1) // 7 + 1
        return f"FREQ=MONTHLY;INTERVAL=1;BYDAY={'-1' if nth == 5 else f'+{nth}'}{weekday}"
    rule = every.strip().strip('"')
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    if "FREQ=" not in rule.upper() or "DTSTART" in rule.upper():
        raise InvalidInput(f"`every:{every[:40]}` is not a recurrence.", hint=RECURRENCE_HINT)
    try:
        rrulestr(rule, dtstart=datetime.combine(first, time(9)))
    except (ValueError, TypeError):
        raise InvalidInput(
            f"`{rule[:60]}` is not a valid RRULE.", hint=RECURRENCE_HINT, field="every"
        ) from None
    return rule.upper()


def _rule(series: TouchpointSeries) -> rrule:
    start = datetime.combine(series.first_date, series.local_time)
    rule = rrulestr(series.rrule, dtstart=start)
    assert isinstance(rule, rrule)
    return rule


def localise(naive_local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone` as a UTC instant.

    PEP 495 semantics (fold=0): an ambiguous autumn time is the first one, and a time skipped by
    the spring change (e.g. 02:30) uses the offset before the change, i.e. moves forward an hour.
    """
    return naive_local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def occurrences(series: TouchpointSeries, *, after: datetime) -> Iterator[datetime]:
    """Meeting starts (UTC) strictly after `after`, in order."""
    zone = series.zone
    local_from = after.astimezone(zone).replace(tzinfo=None) - timedelta(days=2)
    for naive in _rule(series).xafter(local_from, inc=True):
        start = localise(naive, zone)
        if start > after:
            yield start


def next_occurrence(series: TouchpointSeries, *, after: datetime) -> datetime | None:
    return next(occurrences(series, after=after), None)


def describe_recurrence(series: TouchpointSeries) -> str:
    parts = dict(part.split("=", 1) for part in series.rrule.split(";") if "=" in part)
    interval = int(parts.get("INTERVAL", "1"))
    freq = parts.get("FREQ", "")
    when = f"{series.local_time:%H:%M} {series.timezone}"
    day = series.first_date.strftime("%A")
    if freq == "WEEKLY" and set(parts) <= {"FREQ", "INTERVAL", "BYDAY"}:
        every = "Every" if interval == 1 else f"Every {interval} weeks on"
        return f"{every} {day} at {when}"
    if freq == "MONTHLY" and set(parts) <= {"FREQ", "INTERVAL", "BYDAY"}:
        return f"Monthly ({parts.get('BYDAY', '')}) at {when}"
    return f"`RRULE:{series.rrule}` at {when}"


def _known_zone(name: str) -> bool:
    try:
        parse_timezone(name)
    except InvalidInput:
        return False
    return True


def upcoming(series: TouchpointSeries, *, now: datetime, count: int = 3) -> list[datetime]:
    """The next meetings that have not started (skipped ones excluded by the caller's session)."""
    if series.status != SeriesStatus.ACTIVE or series.next_start is None:
        return []
    after = max(series.next_start - timedelta(seconds=1), now)
    return list(islice(occurrences(series, after=after), count))


def _next_meeting(
    series: TouchpointSeries, rows: dict[datetime, TouchpointOccurrence], *, now: datetime
) -> datetime | None:
    """The series' pointer: the earliest meeting that is not skipped and has not started, or
    an earlier one nobody has handled yet (the clock marks it missed on its next run)."""
    assert series.next_start is not None
    starts = occurrences(series, after=series.next_start - timedelta(seconds=1))
    for start in islice(starts, MAX_SCAN):
        row = rows.get(start)
        if row is None or (row.status != OccurrenceStatus.SKIPPED and start > now):
            return start
    return next_occurrence(series, after=now)
