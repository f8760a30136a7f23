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
        parsed = rrulestr(rule, dtstart=datetime.combine(first, time(9)))
    except (ValueError, TypeError):
        raise InvalidInput(
            f"`{rule[:60]}` is not a valid RRULE.", hint=RECURRENCE_HINT, field="every"
        ) from None
    assert isinstance(parsed, rrule)
    _at_most_daily(rule, parsed)
    return rule.upper()


#: How many meetings of a custom rule are checked for two on one day.
_DAILY_CHECK = 60


def _at_most_daily(rule: str, parsed: rrule) -> None:
    """Refuse rules that meet more than once a day: each meeting posts an agenda, so an hourly
    rule would fill the channel (one clock run once posted 200)."""
    freq = _parts(rule.upper()).get("FREQ", "")
    days = [start.date() for start in islice(parsed, _DAILY_CHECK)]
    if freq in _SUB_DAILY or len(days) != len(set(days)):
        raise InvalidInput(
            f"`{rule[:60]}` meets more than once a day; a touchpoint meets at most daily "
            "(each meeting gets its own agenda in the channel).",
            hint="For several meetings a day, create one series per time slot. " + RECURRENCE_HINT,
            field="every",
        )


_SUB_DAILY = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})


def _parts(rule: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in rule.split(";") if "=" in part)


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


_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_DAY_NAMES = dict(
    zip(
        _DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_UNIT = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _weekdays(value: str) -> str | None:
    """`+1TU` → `the first Tuesday`, `MO,TH` → `Monday and Thursday`; None if unusual."""
    words = []
    for item in value.split(","):
        match = _BYDAY.match(item.strip())
        if match is None:
            return None
        nth, day = match.group(1), _DAY_NAMES[match.group(2)]
        if nth is None:
            words.append(day)
        elif int(nth) in _ORDINALS:
            words.append(f"the {_ORDINALS[int(nth)]} {day}")
        else:
            return None
    return _and(words)


def _ordinal_day(day: int) -> str:
    if day == -1:
        return "the last day"
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"the {day}{suffix}"


def _in_words(series: TouchpointSeries) -> tuple[str, str] | None:
    """The rule as a person says it, or None when it uses parts the words do not cover."""
    parts = _parts(series.rrule.upper())
    freq = parts.pop("FREQ", "")
    if freq not in _UNIT:
        return None
    interval = int(parts.pop("INTERVAL", "1") or "1")
    byday, count, until = (
        parts.pop("BYDAY", None),
        parts.pop("COUNT", None),
        parts.pop("UNTIL", None),
    )
    bymonthday, bymonth = parts.pop("BYMONTHDAY", None), parts.pop("BYMONTH", None)
    parts.pop("WKST", None)
    if parts:
        return None
    unit = _UNIT[freq]
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    first = series.first_date
    if freq == "DAILY":
        if bymonthday or bymonth:
            return None
        days = _weekdays(byday) if byday else None
        if byday and (days is None or "the " in days):
            return None
        text = every if days is None else f"{every} on {days}" if interval > 1 else f"every {days}"
    elif freq == "WEEKLY":
        if bymonthday or bymonth:
            return None
        days = _weekdays(byday) if byday else _DAY_NAMES[_DAYS[first.weekday()]]
        if days is None or "the " in days:
            return None
        text = f"every {days}" if interval == 1 else f"{every} on {days}"
    elif freq == "MONTHLY":
        if bymonth or (byday and bymonthday):
            return None
        if byday:
            days = _weekdays(byday)
            if days is None:
                return None
            text = f"{every} on {days}"
        else:
            values = [int(v) for v in (bymonthday or str(first.day)).split(",") if v]
            text = f"{every} on {_and([_ordinal_day(v) for v in values])}"
    else:
        if byday or (bymonth and not bymonth.isdigit()):
            return None
        month = _MONTHS[int(bymonth) - 1] if bymonth else _MONTHS[first.month - 1]
        day = int(bymonthday) if bymonthday and bymonthday.lstrip("-").isdigit() else first.day
        text = f"{every} on {day} {month}" if day > 0 else f"{every} on the last day of {month}"
    end = ""
    if count:
        end += f", {count} times in all" if count != "1" else ", once"
    if until:
        end += f", until {until[:4]}-{until[4:6]}-{until[6:8]}"
    return text, end


def describe_recurrence(series: TouchpointSeries) -> str:
    """`Every 3 months on the first Tuesday at 09:00 Europe/Berlin` (the RRULE only when the
    rule uses parts these words do not cover)."""
    when = f"{series.local_time:%H:%M} {series.timezone}"
    try:
        words = _in_words(series)
    except (ValueError, IndexError):
        words = None
    if words is None:
        return f"`RRULE:{series.rrule}` at {when}"
    text, end = words
    return f"{text[0].upper()}{text[1:]} at {when}{end}"


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
