"""Touchpoints: recurring CIO–CISO meetings with an agenda built from what is open.

A series (`TP-n`) recurs by an RFC 5545 RRULE evaluated in the organiser's time zone with a naive
local start, so 09:00 Europe/Berlin stays 09:00 across daylight-saving changes. The truth about
what was posted is the `touchpoint_occurrence` table: one row per (series, start instant), claimed
under a unique constraint before the agenda is posted, so a restart or a second clock can neither
lose nor repeat an agenda.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from itertools import islice
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    cast,
    func,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, or_, select

from bot.domain.audit import changed_fields, record_event
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.paging import Page, clamp_page
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, format_ref
from bot.domain.roles import Actor, Directory, Role
from bot.domain.validation import bounded_text, future_or_today

NAME_MAX = 100
TEXT_MAX = 500
MAX_PARTICIPANTS = 30
DEFAULT_DURATION_MINUTES = 60
DEFAULT_LEAD_MINUTES = 24 * 60
#: An agenda posted more than this after its planned time carries a "posted late" note.
LATE_AFTER = timedelta(minutes=15)
#: A refused agenda post is tried this many times (once a clock run) before Accord gives up.
MAX_POST_ATTEMPTS = 3
RECURRENCE_HINT = (
    "Use `every:weekly`, `every:2w` (every N weeks), `every:monthly` (the Nth weekday of the "
    'month, from the first date) or an RRULE, e.g. `every:"FREQ=WEEKLY;BYDAY=TU"`.'
)
TZ_HINT = "Time zones are IANA names such as `tz:Europe/Berlin` or `tz:America/New_York`."
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_WEEKS = re.compile(r"^(\d{1,2})w$")
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class SeriesStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class OccurrenceStatus(StrEnum):
    CLAIMED = "claimed"  # being posted right now (or the clock died mid-post)
    POSTED = "posted"
    POSTED_LATE = "posted_late"
    SKIPPED = "skipped"  # someone ran `skip`
    MISSED = "missed"  # the clock was down until after the meeting
    FAILED = "failed"  # Slack refused; retried until the meeting starts
    ABANDONED = "abandoned"  # every attempt failed; the organiser was told once


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class TouchpointSeries(SQLModel, table=True):
    __tablename__ = "touchpoint_series"
    # Public ids (INI-7, RSK-3, …) are never reused on SQLite, even after a rollback.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX)
    participants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel_id: str = Field(max_length=32)
    #: The RRULE without DTSTART, e.g. `FREQ=WEEKLY;INTERVAL=1;BYDAY=MO`.
    rrule: str = Field(max_length=500)
    #: The first meeting's local date and wall-clock time in `timezone`.
    first_date: date
    local_time: time
    timezone: str = Field(max_length=64)
    duration_minutes: int = DEFAULT_DURATION_MINUTES
    lead_minutes: int = DEFAULT_LEAD_MINUTES
    status: SeriesStatus = Field(
        default=SeriesStatus.ACTIVE, sa_column=enum_column(SeriesStatus, index=True)
    )
    #: The next meeting people see: the earliest one not skipped that has not started (or,
    #: until the clock's next run, an earlier one nobody handled). None once the rule ends.
    next_start: datetime | None = Field(default=None, index=True)
    organiser_id: str = Field(max_length=32)
    created_at: datetime
    updated_by: str = Field(max_length=32)
    updated_at: datetime

    @property
    def ref(self) -> str:
        assert self.id is not None, "a series gets its id when it is flushed"
        return format_ref(Kind.TOUCHPOINT, self.id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def lead(self) -> timedelta:
        return timedelta(minutes=self.lead_minutes)

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "participants": list(self.participants),
            "channel": self.channel_id,
            "rrule": self.rrule,
            "first_date": self.first_date.isoformat(),
            "time": self.local_time.strftime("%H:%M"),
            "timezone": self.timezone,
            "duration_minutes": self.duration_minutes,
            "lead_minutes": self.lead_minutes,
            "status": self.status.value,
        }


class TouchpointOccurrence(SQLModel, table=True):
    """One meeting of a series; the unique key is the claim that makes posting exactly-once."""

    __tablename__ = "touchpoint_occurrence"
    __table_args__ = (UniqueConstraint("series_id", "starts_at", name="uq_touchpoint_occurrence"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("touchpoint_series.id", ondelete="CASCADE"), nullable=False
        )
    )
    starts_at: datetime
    status: OccurrenceStatus = Field(sa_column=enum_column(OccurrenceStatus))
    claimed_at: datetime
    attempts: int = 0
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=300)


class TouchpointTopic(SQLModel, table=True):
    """A topic someone added for the next agenda; consumed when that agenda is posted."""

    __tablename__ = "touchpoint_topic"

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("touchpoint_series.id", ondelete="CASCADE"), nullable=False
        )
    )
    text: str = Field(max_length=TEXT_MAX)
    added_by: str = Field(max_length=32)
    added_at: datetime
    occurrence_id: int | None = Field(default=None, index=True)


class TouchpointAction(SQLModel, table=True):
    """An action item from a touchpoint: on every agenda of the series until it is done."""

    __tablename__ = "touchpoint_action"
    # Public ids (INI-7, RSK-3, …) are never reused on SQLite, even after a rollback.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("touchpoint_series.id", ondelete="CASCADE"), nullable=False
        )
    )
    occurrence_id: int | None = None
    text: str = Field(max_length=TEXT_MAX)
    owner_id: str = Field(max_length=32)
    due_date: date | None = None
    status: ActionStatus = Field(
        default=ActionStatus.OPEN, sa_column=enum_column(ActionStatus, index=True)
    )
    created_by: str = Field(max_length=32)
    created_at: datetime
    done_by: str | None = Field(default=None, max_length=32)
    done_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"A-{self.id}"

    def is_overdue(self, today: date) -> bool:
        return (
            self.status == ActionStatus.OPEN and self.due_date is not None and self.due_date < today
        )

    @property
    def series_ref(self) -> str:
        return format_ref(Kind.TOUCHPOINT, self.series_id)


class TouchpointDecision(SQLModel, table=True):
    __tablename__ = "touchpoint_decision"

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("touchpoint_series.id", ondelete="CASCADE"), nullable=False
        )
    )
    occurrence_id: int | None = None
    text: str = Field(max_length=TEXT_MAX)
    recorded_by: str = Field(max_length=32)
    recorded_at: datetime


class TimeZoneLookup(Protocol):
    """The organiser's time zone from their profile (Slack's users.info); None if unknown."""

    def timezone(self, user_id: str) -> str | None: ...


class ChannelMembership(Protocol):
    """Whether Accord is in a channel (Slack's conversations.info); None if it cannot tell."""

    def is_member(self, channel_id: str) -> bool | None: ...


def ensure_member(channels: ChannelMembership | None, channel_id: str) -> None:
    """Refuse a series whose agendas Accord could not post: it must be in the channel."""
    if channels is not None and channels.is_member(channel_id) is False:
        raise Conflict(
            f"Accord is not a member of channel {channel_id}, so it could not post agendas "
            "there; nothing was changed. Type /invite @Accord in that channel, then try again.",
            field="channel",
        )


# ---------------------------------------------------------------- parsing and recurrence


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


# ---------------------------------------------------------------- series


@dataclass(frozen=True)
class SeriesDraft:
    name: str
    participants: list[str]
    every: str
    at: str
    channel_id: str
    timezone: str | None = None
    first_date: date | None = None
    duration_minutes: int = DEFAULT_DURATION_MINUTES
    lead_minutes: int = DEFAULT_LEAD_MINUTES
    extra: dict[str, str] = field(default_factory=dict)


def get_series(session: Session, *, number: int) -> TouchpointSeries:
    series = session.get(TouchpointSeries, number)
    if series is None:
        raise NotFound(
            f"There is no {format_ref(Kind.TOUCHPOINT, number)}.",
            hint="`/accord touchpoint list` shows every touchpoint series.",
        )
    return series


def _check_sides(session: Session, directory: Directory, participants: list[str]) -> None:
    sides: set[Role] = set()
    for user_id in participants:
        sides |= directory.actor(session, user_id).sides
    missing = [
        label for role, label in ((Role.CIO, "CIO"), (Role.CISO, "CISO")) if role not in sides
    ]
    if missing:
        raise InvalidInput(
            f"A touchpoint needs at least one participant from each side; "
            f"nobody from the {' or '.join(missing)} side is invited.",
            hint="e.g. `with:@cio-person,@ciso-person`; `/accord roles` lists each side.",
            field="participants",
        )


def create_series(
    session: Session,
    *,
    actor: Actor,
    draft: SeriesDraft,
    directory: Directory,
    profiles: TimeZoneLookup | None,
    default_timezone: str,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    name = bounded_text(draft.name, field="name", max_length=NAME_MAX, required=True)
    local_time = parse_time(draft.at)
    if draft.timezone:
        zone_name = parse_timezone(draft.timezone)
    else:
        found = profiles.timezone(actor.user_id) if profiles else None
        zone_name = found if found and _known_zone(found) else default_timezone
    participants = list(dict.fromkeys(draft.participants))
    if not participants:
        raise InvalidInput(
            "Who takes part? Add `with:@alice,@bob` (at least one from each side).",
            field="participants",
        )
    if len(participants) > MAX_PARTICIPANTS:
        raise InvalidInput(f"A touchpoint takes at most {MAX_PARTICIPANTS} participants.")
    _check_sides(session, directory, participants)
    if not 5 <= draft.duration_minutes <= 8 * 60:
        raise InvalidInput("The duration is 5 minutes to 8 hours.", field="duration")
    if not 0 <= draft.lead_minutes <= 14 * 24 * 60:
        raise InvalidInput("The agenda lead time is 0 to 14 days.", field="lead")
    today_local = now.astimezone(ZoneInfo(zone_name)).date()
    first = draft.first_date or today_local
    future_or_today(first, today=today_local, field="first meeting")
    series = TouchpointSeries(
        name=name,
        participants=participants,
        channel_id=draft.channel_id,
        rrule=recurrence_rule(draft.every, first),
        first_date=first,
        local_time=local_time,
        timezone=zone_name,
        duration_minutes=draft.duration_minutes,
        lead_minutes=draft.lead_minutes,
        organiser_id=actor.user_id,
        created_at=now,
        updated_by=actor.user_id,
        updated_at=now,
    )
    series.next_start = next_occurrence(series, after=now)
    if series.next_start is None:
        raise InvalidInput("That recurrence has no meeting in the future.", hint=RECURRENCE_HINT)
    ensure_member(channels, series.channel_id)
    session.add(series)
    session.flush()
    _audit(
        session, series, actor=actor, now=now, action="touchpoint.created", after=series.snapshot()
    )
    return series


def _known_zone(name: str) -> bool:
    try:
        parse_timezone(name)
    except InvalidInput:
        return False
    return True


def _audit(
    session: Session,
    series: TouchpointSeries,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=series.ref,
        action=action,
        before=before,
        after=after,
        note=note,
    )


def list_series(
    session: Session, *, include_cancelled: bool = False, page: int = 1, page_size: int = 20
) -> Page[TouchpointSeries]:
    """One page of series (cancelled ones only when asked), oldest first, with the total."""
    query = select(TouchpointSeries)
    counted = select(func.count()).select_from(TouchpointSeries)
    if not include_cancelled:
        live = col(TouchpointSeries.status) != SeriesStatus.CANCELLED
        query, counted = query.where(live), counted.where(live)
    total = int(session.exec(counted).one())
    page = clamp_page(page, total=total, page_size=page_size)
    rows = session.exec(
        query.order_by(col(TouchpointSeries.id)).offset((page - 1) * page_size).limit(page_size)
    )
    return Page(items=list(rows), total=total, page=page, page_size=page_size)


def _set_status(
    session: Session,
    *,
    actor: Actor,
    number: int,
    status: SeriesStatus,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    if series.status == SeriesStatus.CANCELLED:
        raise Conflict(f"{series.ref} is cancelled; create a new series instead.")
    if series.status == status:
        raise Conflict(f"{series.ref} is already {status.value}.")
    if status == SeriesStatus.ACTIVE:
        ensure_member(channels, series.channel_id)
    before = series.snapshot()
    series.status = status
    if status == SeriesStatus.ACTIVE:
        # Meetings that fell in the pause are not posted late: start from the next one.
        series.next_start = next_occurrence(series, after=now)
    elif status == SeriesStatus.CANCELLED:
        series.next_start = None
    series.updated_by, series.updated_at = actor.user_id, now
    old, new = changed_fields(before, series.snapshot())
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action=f"touchpoint.{status.value}",
        before=old,
        after=new,
    )
    return series


def pause_series(session: Session, *, actor: Actor, number: int, now: datetime) -> TouchpointSeries:
    return _set_status(session, actor=actor, number=number, status=SeriesStatus.PAUSED, now=now)


def resume_series(
    session: Session,
    *,
    actor: Actor,
    number: int,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    return _set_status(
        session,
        actor=actor,
        number=number,
        status=SeriesStatus.ACTIVE,
        now=now,
        channels=channels,
    )


def cancel_series(
    session: Session, *, actor: Actor, number: int, now: datetime
) -> TouchpointSeries:
    return _set_status(session, actor=actor, number=number, status=SeriesStatus.CANCELLED, now=now)


def upcoming(series: TouchpointSeries, *, now: datetime, count: int = 3) -> list[datetime]:
    """The next meetings that have not started (skipped ones excluded by the caller's session)."""
    if series.status != SeriesStatus.ACTIVE or series.next_start is None:
        return []
    after = max(series.next_start - timedelta(seconds=1), now)
    return list(islice(occurrences(series, after=after), count))


#: How many occurrences one look-ahead walks at most (a long lead on a very frequent rule).
MAX_SCAN = 500


def _handled(
    session: Session, series: TouchpointSeries, *, since: datetime | None = None
) -> dict[datetime, TouchpointOccurrence]:
    """The occurrence rows of a series from its pointer (or `since`, if earlier) on."""
    assert series.next_start is not None
    start = min(series.next_start, since) if since else series.next_start
    rows = session.exec(
        select(TouchpointOccurrence).where(
            TouchpointOccurrence.series_id == series.id,
            col(TouchpointOccurrence.starts_at) >= start,
        )
    )
    return {row.starts_at.astimezone(UTC): row for row in rows}


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


@dataclass(frozen=True)
class Skipped:
    starts_at: datetime
    #: The agenda of the skipped meeting was already in the channel.
    agenda_posted: bool


def skip_next(session: Session, *, actor: Actor, number: int, now: datetime) -> Skipped:
    """Skip the earliest meeting that has not started: its agenda is never posted (or, if it
    already was, the meeting is marked skipped)."""
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    if series.status != SeriesStatus.ACTIVE or series.next_start is None:
        raise Conflict(f"{series.ref} is {series.status.value}; there is no next meeting to skip.")
    rows = _handled(session, series, since=now)
    start = next(
        (
            s
            for s in islice(occurrences(series, after=now), MAX_SCAN)
            if s not in rows or rows[s].status != OccurrenceStatus.SKIPPED
        ),
        None,
    )
    if start is None:
        raise Conflict(f"{series.ref} has no next meeting to skip.")
    row = rows.get(start)
    posted = row is not None and row.message_ts is not None
    if row is None:
        row = TouchpointOccurrence(
            series_id=series.id,  # type: ignore[arg-type]
            starts_at=start,
            status=OccurrenceStatus.SKIPPED,
            claimed_at=now,
        )
        session.add(row)
    row.status = OccurrenceStatus.SKIPPED
    row.note = f"skipped by {actor.user_id}"
    session.flush()
    rows[start] = row
    series.next_start = _next_meeting(series, rows, now=now)
    _audit(
        session, series, actor=actor, now=now, action="touchpoint.skipped", note=start.isoformat()
    )
    return Skipped(starts_at=start, agenda_posted=posted)


def skipped_starts(session: Session, *, series_id: int) -> list[datetime]:
    rows = session.exec(
        select(TouchpointOccurrence.starts_at).where(
            TouchpointOccurrence.series_id == series_id,
            col(TouchpointOccurrence.status).in_([OccurrenceStatus.SKIPPED]),
        )
    )
    return list(rows)


# ---------------------------------------------------------------- topics, actions, decisions


def add_topic(
    session: Session, *, actor: Actor, number: int, text: str, now: datetime
) -> TouchpointTopic:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    _require_live(series)
    topic = TouchpointTopic(
        series_id=series.id,  # type: ignore[arg-type]
        text=bounded_text(text, field="topic", max_length=TEXT_MAX, required=True),
        added_by=actor.user_id,
        added_at=now,
    )
    session.add(topic)
    session.flush()
    _audit(session, series, actor=actor, now=now, action="touchpoint.topic_added", note=topic.text)
    return topic


def _require_live(series: TouchpointSeries) -> None:
    if series.status == SeriesStatus.CANCELLED:
        raise Conflict(f"{series.ref} is cancelled.")


def latest_occurrence(session: Session, *, series_id: int) -> TouchpointOccurrence | None:
    return session.exec(
        select(TouchpointOccurrence)
        .where(
            TouchpointOccurrence.series_id == series_id,
            col(TouchpointOccurrence.message_ts).is_not(None),
        )
        .order_by(col(TouchpointOccurrence.starts_at).desc())
    ).first()


def add_action(
    session: Session,
    *,
    actor: Actor,
    number: int,
    text: str,
    owner_id: str | None,
    due: date | None,
    now: datetime,
    occurrence_id: int | None = None,
) -> TouchpointAction:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    _require_live(series)
    if not owner_id:
        raise InvalidInput("An action item needs an owner: `owner:@alice`.", field="owner")
    if due is not None:
        future_or_today(due, today=now.date(), field="due")
    if occurrence_id is None:
        latest = latest_occurrence(session, series_id=series.id)  # type: ignore[arg-type]
        occurrence_id = latest.id if latest else None
    item = TouchpointAction(
        series_id=series.id,  # type: ignore[arg-type]
        occurrence_id=occurrence_id,
        text=bounded_text(text, field="action", max_length=TEXT_MAX, required=True),
        owner_id=owner_id,
        due_date=due,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(item)
    session.flush()
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action="touchpoint.action_added",
        after={"action": item.label, "owner": owner_id, "due": due.isoformat() if due else None},
        note=item.text,
    )
    return item


def complete_action(
    session: Session, *, actor: Actor, number: int, now: datetime
) -> TouchpointAction:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    item = session.get(TouchpointAction, number)
    if item is None:
        raise NotFound(f"There is no action item A-{number}.", hint="Agendas list them as `A-n`.")
    if item.status == ActionStatus.DONE:
        raise Conflict(f"{item.label} is already done.")
    item.status, item.done_by, item.done_at = ActionStatus.DONE, actor.user_id, now
    series = get_series(session, number=item.series_id)
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action="touchpoint.action_done",
        before={"action": item.label, "status": "open"},
        after={"action": item.label, "status": "done"},
    )
    return item


def parse_action_number(text: str) -> int:
    value = text.strip().upper().removeprefix("A-")
    if not value.isdigit():
        raise InvalidInput(f"`{text[:20]}` is not an action item id.", hint="They look like `A-7`.")
    return int(value)


def record_decision(
    session: Session,
    *,
    actor: Actor,
    number: int,
    text: str,
    now: datetime,
    occurrence_id: int | None = None,
) -> TouchpointDecision:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    _require_live(series)
    if occurrence_id is None:
        latest = latest_occurrence(session, series_id=series.id)  # type: ignore[arg-type]
        occurrence_id = latest.id if latest else None
    decision = TouchpointDecision(
        series_id=series.id,  # type: ignore[arg-type]
        occurrence_id=occurrence_id,
        text=bounded_text(text, field="decision", max_length=TEXT_MAX, required=True),
        recorded_by=actor.user_id,
        recorded_at=now,
    )
    session.add(decision)
    session.flush()
    _audit(session, series, actor=actor, now=now, action="touchpoint.decision", note=decision.text)
    return decision


@dataclass(frozen=True)
class ThreadEntry:
    """One item written in an agenda's thread: a decision, or an action item with its owner."""

    kind: str  # "decision" or "action"
    text: str
    owner_id: str | None = None
    due: date | None = None


#: At most this many items are taken from one reply in an agenda's thread.
MAX_THREAD_ENTRIES = 10


def agenda_occurrence(
    session: Session, *, channel_id: str, message_ts: str
) -> TouchpointOccurrence | None:
    """The occurrence whose agenda is the message `message_ts` in `channel_id`, if any."""
    return session.exec(
        select(TouchpointOccurrence).where(
            TouchpointOccurrence.channel_id == channel_id,
            TouchpointOccurrence.message_ts == message_ts,
        )
    ).first()


def capture_from_thread(
    session: Session,
    *,
    actor: Actor,
    occurrence_id: int,
    entries: list[ThreadEntry],
    now: datetime,
) -> list[TouchpointAction | TouchpointDecision]:
    """Record what someone wrote in an agenda's thread, against that occurrence, through the
    same services (permissions, validation, audit trail) as the buttons and commands."""
    occurrence = session.get(TouchpointOccurrence, occurrence_id)
    if occurrence is None:
        raise NotFound("That agenda is no longer known to Accord.")
    if len(entries) > MAX_THREAD_ENTRIES:
        raise InvalidInput(
            f"One reply can record at most {MAX_THREAD_ENTRIES} items; split it into several."
        )
    recorded: list[TouchpointAction | TouchpointDecision] = []
    for entry in entries:
        if entry.kind == "decision":
            recorded.append(
                record_decision(
                    session,
                    actor=actor,
                    number=occurrence.series_id,
                    text=entry.text,
                    now=now,
                    occurrence_id=occurrence_id,
                )
            )
        else:
            recorded.append(
                add_action(
                    session,
                    actor=actor,
                    number=occurrence.series_id,
                    text=entry.text,
                    owner_id=entry.owner_id,
                    due=entry.due,
                    now=now,
                    occurrence_id=occurrence_id,
                )
            )
    return recorded


def open_actions(session: Session, *, series_id: int) -> list[TouchpointAction]:
    return list(
        session.exec(
            select(TouchpointAction)
            .where(
                TouchpointAction.series_id == series_id,
                TouchpointAction.status == ActionStatus.OPEN,
            )
            .order_by(col(TouchpointAction.id))
        )
    )


def pending_topics(session: Session, *, series_id: int) -> list[TouchpointTopic]:
    return list(
        session.exec(
            select(TouchpointTopic)
            .where(
                TouchpointTopic.series_id == series_id,
                col(TouchpointTopic.occurrence_id).is_(None),
            )
            .order_by(col(TouchpointTopic.id))
        )
    )


def recent_decisions(
    session: Session, *, series_id: int, limit: int = 5
) -> list[TouchpointDecision]:
    return list(
        session.exec(
            select(TouchpointDecision)
            .where(TouchpointDecision.series_id == series_id)
            .order_by(col(TouchpointDecision.id).desc())
            .limit(limit)
        )
    )


def count_rows(session: Session, model: type[SQLModel]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


# ---------------------------------------------------------------- the App Home


@dataclass(frozen=True)
class TouchpointHome:
    """What the App Home shows a viewer: the next meetings of the series they take part in
    (or organise), soonest first, and the action items they own that are still open."""

    meetings: list[TouchpointSeries]  # each with its `next_start`
    meetings_total: int
    actions: list[TouchpointAction]
    actions_total: int


def home_summary(session: Session, *, viewer_id: str, limit: int) -> TouchpointHome:
    """Two counts and two LIMITed pages, whatever the number of series and items."""
    # Participants are a JSON list of Slack ids ([A-Z0-9] only), so a quoted match is exact.
    takes_part = or_(
        col(TouchpointSeries.organiser_id) == viewer_id,
        cast(col(TouchpointSeries.participants), String).like(f'%"{viewer_id}"%'),
    )
    upcoming_series = (
        col(TouchpointSeries.status) == SeriesStatus.ACTIVE,
        col(TouchpointSeries.next_start).is_not(None),
        takes_part,
    )
    meetings_total = session.exec(
        select(func.count()).select_from(TouchpointSeries).where(*upcoming_series)
    ).one()
    meetings = session.exec(
        select(TouchpointSeries)
        .where(*upcoming_series)
        .order_by(col(TouchpointSeries.next_start), col(TouchpointSeries.id))
        .limit(limit)
    ).all()
    mine = (
        col(TouchpointAction.owner_id) == viewer_id,
        col(TouchpointAction.status) == ActionStatus.OPEN,
    )
    actions_total = session.exec(
        select(func.count()).select_from(TouchpointAction).where(*mine)
    ).one()
    due = col(TouchpointAction.due_date)
    actions = session.exec(
        select(TouchpointAction)
        .where(*mine)
        .order_by(due.is_(None), due, col(TouchpointAction.id))
        .limit(limit)
    ).all()
    return TouchpointHome(
        meetings=list(meetings),
        meetings_total=int(meetings_total),
        actions=list(actions),
        actions_total=int(actions_total),
    )


# ---------------------------------------------------------------- the agenda slots


class SlotAction(StrEnum):
    POST = "post"
    POST_LATE = "post_late"
    MISSED = "missed"


@dataclass(frozen=True)
class Claim:
    """An occurrence this clock run owns: post its agenda (or nothing, if it was missed)."""

    occurrence_id: int
    series_id: int
    starts_at: datetime
    action: SlotAction
    window_end: datetime


def due_series_ids(session: Session, *, now: datetime) -> list[int]:
    """Active series whose next agenda time has come (cheap pre-filter: max lead 14 days)."""
    horizon = now + timedelta(days=15)
    rows = session.exec(
        select(TouchpointSeries.id).where(
            TouchpointSeries.status == SeriesStatus.ACTIVE,
            col(TouchpointSeries.next_start).is_not(None),
            col(TouchpointSeries.next_start) <= horizon,
        )
    )
    return [row for row in rows if row is not None]


def claim_next(session: Session, *, series_id: int, now: datetime) -> Claim | None:
    """Claim the series' earliest unhandled occurrence whose agenda is due, and move the
    series' pointer (the next meeting people see) on past meetings that have started or were
    skipped, in the caller's transaction.

    Raises IntegrityError if another clock claimed the same occurrence first (the caller's
    transaction then rolls back and the other clock's claim stands).
    """
    series = session.get(TouchpointSeries, series_id, with_for_update=True)
    if series is None or series.status != SeriesStatus.ACTIVE or series.next_start is None:
        return None
    rows = _handled(session, series)
    claim: Claim | None = None
    starts = occurrences(series, after=series.next_start - timedelta(seconds=1))
    for start in islice(starts, MAX_SCAN):
        due = start - series.lead
        if due > now:
            break
        if start in rows:  # posted, skipped or missed already
            continue
        # Not late when the slot was due before the series existed or ran again (a series
        # created or resumed inside its own lead window posts at once, and on time).
        planned = max(due, series.created_at, series.updated_at)
        if now >= start:
            action, status = SlotAction.MISSED, OccurrenceStatus.MISSED
        elif now - planned > LATE_AFTER:
            action, status = SlotAction.POST_LATE, OccurrenceStatus.CLAIMED
        else:
            action, status = SlotAction.POST, OccurrenceStatus.CLAIMED
        occurrence = TouchpointOccurrence(
            series_id=series_id,
            starts_at=start,
            status=status,
            claimed_at=now,
            note="the clock was down until after the meeting"
            if action == SlotAction.MISSED
            else None,
        )
        session.add(occurrence)
        session.flush()
        assert occurrence.id is not None
        rows[start] = occurrence
        following = next_occurrence(series, after=start)
        window_end = following or start + timedelta(days=31)
        claim = Claim(occurrence.id, series_id, start, action, window_end)
        break
    series.next_start = _next_meeting(series, rows, now=now)
    return claim


def retryable(session: Session, *, now: datetime) -> list[TouchpointOccurrence]:
    """Occurrences whose post failed and whose meeting has not started: try again."""
    return list(
        session.exec(
            select(TouchpointOccurrence).where(
                TouchpointOccurrence.status == OccurrenceStatus.FAILED,
                col(TouchpointOccurrence.starts_at) > now,
                col(TouchpointOccurrence.attempts) < MAX_POST_ATTEMPTS,
            )
        )
    )


def record_post_failure(session: Session, *, occurrence_id: int, reason: str) -> None:
    row = session.get(TouchpointOccurrence, occurrence_id)
    assert row is not None
    row.status = OccurrenceStatus.FAILED
    row.attempts += 1
    row.note = reason[:300]


def to_abandon(session: Session, *, now: datetime) -> list[int]:
    """Failed posts that will not be tried again: out of attempts, or the meeting has begun."""
    rows = session.exec(
        select(TouchpointOccurrence.id).where(
            TouchpointOccurrence.status == OccurrenceStatus.FAILED,
            or_(
                col(TouchpointOccurrence.attempts) >= MAX_POST_ATTEMPTS,
                col(TouchpointOccurrence.starts_at) <= now,
            ),
        )
    )
    return [row for row in rows if row is not None]


def abandon(session: Session, *, occurrence_id: int) -> TouchpointOccurrence | None:
    """Move a failed post to `abandoned`, in the caller's transaction; None if another clock
    did it first (the conditional update is the claim that makes the organiser's notice
    exactly-once)."""
    claimed = session.execute(
        update(TouchpointOccurrence)
        .where(
            col(TouchpointOccurrence.id) == occurrence_id,
            col(TouchpointOccurrence.status) == OccurrenceStatus.FAILED,
        )
        .values(status=OccurrenceStatus.ABANDONED)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.expire_all()
    return session.get(TouchpointOccurrence, occurrence_id)


def consume_topics(session: Session, *, series_id: int, occurrence_id: int) -> None:
    for topic in pending_topics(session, series_id=series_id):
        topic.occurrence_id = occurrence_id


def is_duplicate_claim(error: IntegrityError) -> bool:
    text = str(error.orig) + str(error)
    return "uq_touchpoint_occurrence" in text or "touchpoint_occurrence" in text
