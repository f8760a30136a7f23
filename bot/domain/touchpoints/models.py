"""Touchpoint tables, enums, limits and the small value types the services return."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.domain.columns import enum_column
from bot.domain.refs import Kind, format_ref

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


@dataclass(frozen=True)
class SeriesChanges:
    """What `touchpoint update` changes; None leaves a field as it is."""

    name: str | None = None
    at: str | None = None
    timezone: str | None = None
    every: str | None = None
    first_date: date | None = None
    participants: list[str] | None = None
    channel_id: str | None = None
    duration_minutes: int | None = None
    lead_minutes: int | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in self.__dict__.values())


#: How many occurrences one look-ahead walks at most (a long lead on a very frequent rule).
MAX_SCAN = 500


@dataclass(frozen=True)
class Skipped:
    starts_at: datetime
    #: The agenda of the skipped meeting was already in the channel.
    agenda_posted: bool


@dataclass(frozen=True)
class ThreadEntry:
    """One item written in an agenda's thread: a decision, or an action item with its owner."""

    kind: str  # "decision" or "action"
    text: str
    owner_id: str | None = None
    due: date | None = None
    #: The line of the reply it was written on (1 = the first), to name it when it is refused.
    line: int = 0


@dataclass(frozen=True)
class RefusedLine:
    """A line of a thread reply that was not recorded, and why (written for its author)."""

    line: int
    reason: str


@dataclass(frozen=True)
class Captured:
    """What one thread reply recorded, and the lines it could not record."""

    recorded: list["TouchpointAction | TouchpointDecision"]
    refused: list[RefusedLine]


#: At most this many items are taken from one reply in an agenda's thread.
MAX_THREAD_ENTRIES = 10


@dataclass(frozen=True)
class TouchpointHome:
    """What the App Home shows a viewer: the next meetings of the series they take part in
    (or organise), soonest first, and the action items they own that are still open."""

    meetings: list[TouchpointSeries]  # each with its `next_start`
    meetings_total: int
    actions: list[TouchpointAction]
    actions_total: int


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
