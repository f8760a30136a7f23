"""The agenda slots: what the clock claims, retries and abandons, exactly once."""

from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from bot.domain.touchpoints.models import (
    LATE_AFTER,
    MAX_POST_ATTEMPTS,
    MAX_SCAN,
    Claim,
    OccurrenceStatus,
    SeriesStatus,
    SlotAction,
    TouchpointOccurrence,
    TouchpointSeries,
)
from bot.domain.touchpoints.queries import _handled, pending_topics
from bot.domain.touchpoints.recurrence import _next_meeting, next_occurrence, occurrences


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
