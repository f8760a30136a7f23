"""The touchpoint clock job: post each due agenda exactly once, from the database's truth.

Every minute the job walks the active series whose next meeting's agenda time has come, claims
the occurrence under a unique key (series, start), advances the series, commits, and only then
posts. A restart therefore neither loses (the pointer still names the unhandled meeting) nor
repeats (the claim exists) an agenda. A meeting whose start passed while the clock was down is
marked missed once; one still ahead is posted late with a note.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.domain import touchpoints as tp
from bot.domain.agenda import build_agenda
from bot.services import Services
from bot.slack.blocks.touchpoints import agenda_failed, agenda_message
from bot.slack.notifier import NotInChannel, SlackNotifier

log = logging.getLogger(__name__)
#: A series cannot have more occurrences handled in one run than this (a long outage).
MAX_PER_RUN = 200


def post_agendas(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    with session_scope(services.engine) as session:
        series_ids = tp.due_series_ids(session, now=now)
    for series_id in series_ids:
        for _ in range(MAX_PER_RUN):
            try:
                with session_scope(services.engine) as session:
                    claim = tp.claim_next(session, series_id=series_id, now=now)
            except IntegrityError as error:
                if not tp.is_duplicate_claim(error):
                    raise
                log.info("another clock claimed an occurrence of TP-%s first", series_id)
                continue
            if claim is None:
                break
            if claim.action == tp.SlotAction.MISSED:
                if claim.occurrence_id:
                    log.warning(
                        "TP-%s meeting at %s passed while the clock was down; not posted",
                        series_id,
                        claim.starts_at.isoformat(),
                    )
                continue
            _post(
                services,
                notifier,
                occurrence_id=claim.occurrence_id,
                window_end=claim.window_end,
                late=claim.action == tp.SlotAction.POST_LATE,
                now=now,
            )
    with session_scope(services.engine) as session:
        retry = [(o.id, o.series_id, o.starts_at) for o in tp.retryable(session, now=now)]
    for occurrence_id, series_id, starts_at in retry:
        assert occurrence_id is not None
        with session_scope(services.engine) as session:
            series = tp.get_series(session, number=series_id)
            window_end = tp.next_occurrence(series, after=starts_at) or now
        _post(
            services,
            notifier,
            occurrence_id=occurrence_id,
            window_end=window_end,
            late=True,
            now=now,
        )
    _tell_organisers(services, notifier, now)


def _tell_organisers(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """An agenda Accord gave up on is reported once, by DM, to the series' organiser."""
    with session_scope(services.engine) as session:
        given_up = tp.to_abandon(session, now=now)
    for occurrence_id in given_up:
        with session_scope(services.engine) as session:
            occurrence = tp.abandon(session, occurrence_id=occurrence_id)
            if occurrence is None:
                continue  # another clock told the organiser
            series = tp.get_series(session, number=occurrence.series_id)
            message = agenda_failed(
                series, starts_at=occurrence.starts_at, reason=occurrence.note or "unknown"
            )
            try:  # inside the claim's transaction: a second clock waits, then skips it
                notifier.direct(series.organiser_id, message)
            except Exception:
                log.exception("could not tell the organiser of %s", series.ref)
            log.warning(
                "gave up on the agenda of %s for %s: %s",
                series.ref,
                occurrence.starts_at.isoformat(),
                occurrence.note,
            )


def _reason(error: Exception) -> str:
    """Slack's error code (e.g. `not_in_channel`), or the kind of failure."""
    if isinstance(error, NotInChannel):
        return "not_in_channel"
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or "slack_error")
    return type(error).__name__


def _post(
    services: Services,
    notifier: SlackNotifier,
    *,
    occurrence_id: int,
    window_end: datetime,
    late: bool,
    now: datetime,
) -> None:
    with session_scope(services.engine) as session:
        occurrence = session.get(tp.TouchpointOccurrence, occurrence_id)
        assert occurrence is not None
        series = tp.get_series(session, number=occurrence.series_id)
        # Dates as the participants live them: today and the next meeting's day in the
        # organiser's zone (what "overdue" and "expiring before the next touchpoint" mean).
        agenda = build_agenda(
            session,
            series_id=occurrence.series_id,
            today=now.astimezone(series.zone).date(),
            window_end=window_end,
            zone=series.zone,
        )
        message = agenda_message(
            series, agenda, starts_at=occurrence.starts_at, occurrence_id=occurrence_id, late=late
        )
        channel = series.channel_id
    try:
        posted = notifier.post(channel, message)
    except Exception as error:
        log.exception("could not post the agenda of TP-%s", occurrence.series_id)
        with session_scope(services.engine) as session:
            tp.record_post_failure(session, occurrence_id=occurrence_id, reason=_reason(error))
        return
    with session_scope(services.engine) as session:
        row = session.get(tp.TouchpointOccurrence, occurrence_id)
        assert row is not None
        if row.status != tp.OccurrenceStatus.SKIPPED:  # skipped while it was being posted
            row.status = tp.OccurrenceStatus.POSTED_LATE if late else tp.OccurrenceStatus.POSTED
        row.attempts += 1
        row.channel_id, row.message_ts = posted.channel, posted.ts
        tp.consume_topics(session, series_id=row.series_id, occurrence_id=occurrence_id)
    log.info("posted the agenda of TP-%s for %s", row.series_id, row.starts_at.isoformat())
