"""Scheduled work for risk acceptances: expire, remind approvers, warn owners before expiry.

Every send is claimed in the database (a guarded state change or a unique reminder key) in the
same transaction as its outbox row, so a rerun, a restart or a second clock sends nothing twice
and a crash or a Slack outage loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.db import session_scope
from bot.domain import risks as service
from bot.domain.risks import RiskPolicy
from bot.domain.roles import SIDES
from bot.services import Services
from bot.slack import send
from bot.slack.blocks import risks as render
from bot.slack.notifier import SlackNotifier
from bot.slack.risk_delivery import announce_closure, refresh_round_cards

log = logging.getLogger(__name__)


def expire(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """accepted → expired once, and open rounds past their expiry date lapse once; only the
    transaction that made the change announces it (its outbox rows commit with it)."""
    with session_scope(services.engine) as session:
        due = service.due_for_expiry(session, today=now.date())
        lapsing = service.due_for_lapse(session, today=now.date())
    for number in due:
        with session_scope(services.engine) as session:
            risk = service.expire_one(session, number=number, now=now)
            if risk is not None:
                message = render.expired_announcement(risk)
                announce_closure(session, services, risk=risk, message=message, now=now)
    for number in lapsing:
        with session_scope(services.engine) as session:
            lapsed = service.lapse_one(session, number=number, now=now)
            if lapsed is not None:
                risk, row = lapsed
                refresh_round_cards(session, services, risk=risk, round_=row.round, now=now)
                send.post(
                    session,
                    services,
                    channel=services.settings.accord_coordination_channel or row.requested_by,
                    message=render.lapsed_announcement(risk, row),
                    summary=f"the announcement about {risk.ref}",
                )


def remind(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    policy = RiskPolicy.from_settings(services.settings)
    _remind_approvers(services, notifier, now)
    _warn_owners(services, notifier, now, policy)


def _remind_approvers(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    today = now.date()
    with session_scope(services.engine) as session:
        pending = [
            r.id
            for r in service.pending_risks(session, today=today)
            if r.id is not None and now - _aware(r.updated_at) >= timedelta(days=1)
        ]
    for number in pending:
        with session_scope(services.engine) as session:
            risk = service.get_risk(session, number=number)
            if not service.claim_reminder(
                session, risk_id=number, kind="approval", key=f"r{risk.round}:{today}", now=now
            ):
                continue
            decided = risk.round_decisions()
            for side in SIDES:
                if side in decided:
                    continue
                message = render.approval_reminder(risk, today, side)
                for member in sorted(services.directory.members(session, side)):
                    if member != risk.round_requester:
                        send.post(
                            session,
                            services,
                            channel=member,
                            message=message,
                            summary=f"the approval reminder for {risk.ref}",
                        )


def _warn_owners(
    services: Services, notifier: SlackNotifier, now: datetime, policy: RiskPolicy
) -> None:
    today = now.date()
    with session_scope(services.engine) as session:
        accepted = service.list_risks(
            session, which=service.RiskFilter.ACCEPTED, viewer_id="", today=today, page_size=10_000
        ).items
        candidates = [
            r.id
            for r in accepted
            if r.id is not None and service.expiry_warning_keys(r, today=today, policy=policy)
        ]
    for number in candidates:
        with session_scope(services.engine) as session:
            risk = service.get_risk(session, number=number)
            keys = service.expiry_warning_keys(risk, today=today, policy=policy)
            claimed = [
                key
                for key in keys
                if service.claim_reminder(
                    session,
                    risk_id=number,
                    kind="expiry",
                    key=key,
                    now=now,
                )
            ]
            if claimed:
                send.post(
                    session,
                    services,
                    channel=risk.requested_by,
                    message=render.expiry_warning(risk, today),
                    summary=f"the expiry warning for {risk.ref}",
                )


def _aware(moment: datetime) -> datetime:
    from bot.clock import as_utc

    return as_utc(moment)
