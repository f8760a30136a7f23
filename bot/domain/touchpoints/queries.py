"""Reading touchpoints: series, occurrences, open items and the App Home summary."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import String, cast, func
from sqlmodel import Session, SQLModel, col, or_, select

from bot.db import lock_row
from bot.domain.errors import NotFound
from bot.domain.paging import Page, clamp_page
from bot.domain.refs import Kind, format_ref
from bot.domain.touchpoints.models import (
    ActionStatus,
    OccurrenceStatus,
    SeriesStatus,
    TouchpointAction,
    TouchpointDecision,
    TouchpointHome,
    TouchpointOccurrence,
    TouchpointSeries,
    TouchpointTopic,
)
from bot.domain.touchpoints.recurrence import upcoming


def get_series(session: Session, *, number: int, lock: bool = False) -> TouchpointSeries:
    """The series; with `lock`, locked for a change until the transaction ends (`lock_row`)."""
    series = (
        lock_row(session, TouchpointSeries, number)
        if lock
        else session.get(TouchpointSeries, number)
    )
    if series is None:
        raise NotFound(
            f"There is no {format_ref(Kind.TOUCHPOINT, number)}.",
            hint="`/accord touchpoint list` shows every touchpoint series.",
        )
    return series


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


def skipped_starts(session: Session, *, series_id: int) -> list[datetime]:
    rows = session.exec(
        select(TouchpointOccurrence.starts_at).where(
            TouchpointOccurrence.series_id == series_id,
            col(TouchpointOccurrence.status).in_([OccurrenceStatus.SKIPPED]),
        )
    )
    return list(rows)


def next_meetings(
    session: Session, *, series: TouchpointSeries, now: datetime, count: int = 3
) -> list[datetime]:
    """The next meetings that have not started, leaving out the skipped ones."""
    if series.id is None:
        return upcoming(series, now=now, count=count)
    skipped = {
        start.replace(tzinfo=UTC) if start.tzinfo is None else start
        for start in skipped_starts(session, series_id=series.id)
    }
    found = [s for s in upcoming(series, now=now, count=count + len(skipped)) if s not in skipped]
    return found[:count]


def latest_occurrence(session: Session, *, series_id: int) -> TouchpointOccurrence | None:
    return session.exec(
        select(TouchpointOccurrence)
        .where(
            TouchpointOccurrence.series_id == series_id,
            col(TouchpointOccurrence.message_ts).is_not(None),
        )
        .order_by(col(TouchpointOccurrence.starts_at).desc())
    ).first()


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


def actions_falling_due(session: Session, *, now: datetime) -> list[TouchpointAction]:
    """Open action items whose due date has come in their series' time zone (today or
    earlier), oldest due first, in live series."""
    # The widest "today" on Earth is at most 14 hours ahead of UTC.
    latest = (now + timedelta(hours=14)).date()
    rows = session.exec(
        select(TouchpointAction, TouchpointSeries)
        .join(TouchpointSeries, col(TouchpointSeries.id) == col(TouchpointAction.series_id))
        .where(
            TouchpointAction.status == ActionStatus.OPEN,
            col(TouchpointAction.due_date).is_not(None),
            col(TouchpointAction.due_date) <= latest,
            col(TouchpointSeries.status) != SeriesStatus.CANCELLED,
        )
        .order_by(col(TouchpointAction.due_date), col(TouchpointAction.id))
    )
    return [
        action
        for action, series in rows
        if action.due_date is not None and action.due_date <= now.astimezone(series.zone).date()
    ]


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
