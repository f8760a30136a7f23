"""The touchpoint clock job: post each due agenda exactly once, from the database's truth.

Every minute the job walks the active series whose next meeting's agenda time has come, claims
the occurrence under a unique key (series, start), advances the series and queues the agenda in
the outbox, all in one transaction. A restart or a crash therefore neither loses (the claim and
its message commit together) nor repeats (the claim exists) an agenda, and a Slack outage only
delays it. When Slack answers, the occurrence is marked posted with the message's ts (replies in
its thread are captured from then on). A meeting whose start passed while the clock was down is
marked missed once; one still ahead is posted late with a note.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.db import session_scope
from bot.domain import touchpoints as tp
from bot.domain.agenda import build_agenda
from bot.domain.idempotency import claim_request
from bot.domain.threats.service import mark_on_agenda
from bot.services import Services
from bot.slack import send
from bot.slack.blocks.touchpoints import action_due_reminder, agenda_message
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)
#: A series cannot have more occurrences handled in one run than this (a long outage).
MAX_PER_RUN = 200
#: At most this many agendas of one series are posted in one run; the rest wait for the next
#: runs. A rule refused today (an hourly one saved before the check) cannot flood the channel.
MAX_AGENDAS_PER_RUN = 3


def post_agendas(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    with session_scope(services.engine) as session:
        series_ids = tp.due_series_ids(session, now=now)
    for series_id in series_ids:
        posted = 0
        for _ in range(MAX_PER_RUN):
            if posted >= MAX_AGENDAS_PER_RUN:
                log.warning(
                    "TP-%s has more than %s agendas due; the rest wait for the next run",
                    series_id,
                    MAX_AGENDAS_PER_RUN,
                )
                break
            try:
                with session_scope(services.engine) as session:
                    claim = tp.claim_next(session, series_id=series_id, now=now)
                    if claim is not None and claim.action != tp.SlotAction.MISSED:
                        _queue(
                            session,
                            services,
                            occurrence_id=claim.occurrence_id,
                            window_end=claim.window_end,
                            late=claim.action == tp.SlotAction.POST_LATE,
                            now=now,
                        )
            except IntegrityError as error:
                if not tp.is_duplicate_claim(error):
                    raise
                log.info("another clock claimed an occurrence of TP-%s first", series_id)
                continue
            if claim is None:
                break
            if claim.action != tp.SlotAction.MISSED:
                posted += 1
            if claim.action == tp.SlotAction.MISSED and claim.occurrence_id:
                log.warning(
                    "TP-%s meeting at %s passed while the clock was down; not posted",
                    series_id,
                    claim.starts_at.isoformat(),
                )
    # Occurrences whose post failed before the outbox existed: queue them once more.
    with session_scope(services.engine) as session:
        for occurrence in tp.retryable(session, now=now):
            assert occurrence.id is not None
            series = tp.get_series(session, number=occurrence.series_id)
            occurrence.status = tp.OccurrenceStatus.CLAIMED
            _queue(
                session,
                services,
                occurrence_id=occurrence.id,
                window_end=tp.next_occurrence(series, after=occurrence.starts_at) or now,
                late=True,
                now=now,
            )


def _queue(
    session: Session,
    services: Services,
    *,
    occurrence_id: int,
    window_end: datetime,
    late: bool,
    now: datetime,
) -> None:
    """Build the agenda and queue it, in the claim's transaction."""
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
        people=frozenset([*series.participants, series.organiser_id]),
    )
    message = agenda_message(
        series, agenda, starts_at=occurrence.starts_at, occurrence_id=occurrence_id, late=late
    )
    send.post(
        session,
        services,
        channel=series.channel_id,
        message=message,
        summary=f"the agenda of {series.ref} for {occurrence.starts_at:%Y-%m-%d %H:%M} UTC",
        subject=f"occurrence:{occurrence_id}:{'late' if late else 'agenda'}",
        notify=series.organiser_id,
    )
    tp.consume_topics(session, series_id=occurrence.series_id, occurrence_id=occurrence_id)
    mark_on_agenda(
        session,
        refs=[
            item.ref
            for section in agenda.sections
            if section.key == "threats"
            for item in section.items
        ],
        occurrence_id=occurrence_id,
    )
    log.info("queued the agenda of %s for %s", series.ref, occurrence.starts_at.isoformat())


def remind_due_actions(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """Once a day: the owner of each open action item that has fallen due hears of it once.

    The reminder is claimed under a key (item, due date) in the transaction that queues it, so a
    rerun, a restart or a second clock sends nothing twice; a new due date is reminded again."""
    with session_scope(services.engine) as session:
        due = [(item.id, item.due_date) for item in tp.actions_falling_due(session, now=now)]
    for item_id, due_date in due:
        assert item_id is not None and due_date is not None
        with session_scope(services.engine) as session:
            key = f"reminder:action:{item_id}:{due_date.isoformat()}"
            if not claim_request(session, key=key, at=now):
                continue
            item = session.get(tp.TouchpointAction, item_id)
            assert item is not None
            series = tp.get_series(session, number=item.series_id)
            send.post(
                session,
                services,
                channel=item.owner_id,
                message=action_due_reminder(series, item, today=now.astimezone(series.zone).date()),
                summary=f"the reminder that {item.label} is due",
                notify=item.owner_id,
            )
