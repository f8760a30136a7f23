"""Scheduled work for disagreements: the time box and overdue escalation decisions.

Both are idempotent in the database: a time-box proposal is claimed by setting
`timebox_proposed_at` with a guarded UPDATE, an automatic escalation is guarded by the
disagreement's state (and the unique escalation per disagreement), and an overdue reminder by
`last_reminded_on` (at most one a day).
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.db import session_scope
from bot.domain import disagreements as dis
from bot.domain import escalations as esc
from bot.domain.audit import record_event
from bot.domain.errors import UserError
from bot.services import Services
from bot.slack import disputes
from bot.slack.blocks import disagreements as render
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


def timebox(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    settings = services.settings
    days, grace = settings.accord_disagreement_timebox_days, settings.accord_escalation_grace_days
    touchpoints = settings.accord_disagreement_timebox_touchpoints
    reason = f"has been open for {days}+ days" + (
        f" or {touchpoints}+ touchpoints" if touchpoints > 0 else ""
    )
    with session_scope(services.engine) as session:
        proposed = dis.claim_timebox_proposals(
            session, now=now, timebox_days=days, timebox_touchpoints=touchpoints
        )
        for disagreement in proposed:
            message = render.timebox_proposal(disagreement, reason=reason, grace_days=grace)
            disputes.to_sides(session, services, disagreement, message)
    with session_scope(services.engine) as session:
        due = [d.id for d in dis.due_for_auto_escalation(session, now=now, grace_days=grace)]
    for number in due:
        assert number is not None
        try:
            with session_scope(services.engine) as session:
                escalated = disputes.escalate(
                    session,
                    services,
                    actor=None,
                    request=esc.EscalationRequest(number=number),
                    now=now,
                )
                log.info("time box: escalated DIS-%s as %s", number, escalated.ref)
        except UserError as error:  # e.g. the bot is not in the executive channel
            log.warning("time box could not escalate DIS-%s: %s", number, error.message)


def deadlines(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """Overdue escalations: a reminder in the thread (once a day) and the brief shows OVERDUE.
    Also deletes escalation reservations a crash left in `posting` (before the outbox,
    escalating took two transactions)."""
    today = now.date()
    with session_scope(services.engine) as session:
        for ref in esc.clean_stale_reservations(session, now=now):
            log.warning("deleted the stale escalation reservation %s", ref)
        overdue = [
            e for e in esc.list_pending_escalations(session, today=today) if e.is_overdue(today)
        ]
        for escalation in overdue:
            if esc.claim_reminder(session, escalation, today=today):
                record_event(
                    session,
                    at=now,
                    actor_id=esc.SYSTEM_ACTOR,
                    record_ref=escalation.ref,
                    action="escalation.overdue_reminder",
                    note=f"decision was due {escalation.decide_by}",
                )
                disagreement = dis.get_disagreement(session, number=escalation.disagreement_id)
                disputes.escalation_posts(
                    session, services, disagreement, render.overdue_note(escalation), today=today
                )
