"""Scheduled work for risk acceptances: expire, remind approvers, warn owners before expiry.

Every send is claimed in the database first (a guarded state change or a unique reminder key),
so a rerun, a restart or a second clock sends nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.db import session_scope
from bot.domain import risks as service
from bot.domain.risks import RiskPolicy
from bot.domain.roles import SIDES
from bot.services import Services
from bot.slack.blocks import risks as render
from bot.slack.blocks.common import Message
from bot.slack.notifier import SlackNotifier
from bot.slack.risk_delivery import refresh_round_messages

log = logging.getLogger(__name__)


def expire(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """accepted → expired once, and open rounds past their expiry date lapse once; only the
    transaction that made the change announces it."""
    with session_scope(services.engine) as session:
        due = service.due_for_expiry(session, today=now.date())
        lapsing = service.due_for_lapse(session, today=now.date())
    for number in due:
        with session_scope(services.engine) as session:
            risk = service.expire_one(session, number=number, now=now)
            message = render.expired_announcement(risk) if risk else None
            owner = risk.requested_by if risk else ""
        if message is not None:
            _announce(services, notifier, message, owner=owner, number=number)
    for number in lapsing:
        with session_scope(services.engine) as session:
            lapsed = service.lapse_one(session, number=number, now=now)
            message = render.lapsed_announcement(*lapsed) if lapsed else None
            owner = lapsed[1].requested_by if lapsed else ""
            round_ = lapsed[1].round if lapsed else 0
        if message is not None:
            refresh_round_messages(services, notifier, number=number, round_=round_)
            _announce(services, notifier, message, owner=owner, number=number)


def _announce(
    services: Services, notifier: SlackNotifier, message: Message, *, owner: str, number: int
) -> None:
    channel = services.settings.accord_coordination_channel
    try:
        if channel:
            notifier.post(channel, message)
        else:
            notifier.direct(owner, message)
    except Exception:
        log.exception("could not announce the change of RSK-%s", number)


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
        sends: list[tuple[str, Message]] = []
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
                        sends.append((member, message))
        for member, message in sends:
            try:
                notifier.direct(member, message)
            except Exception:
                log.exception("could not remind %s about RSK-%s", member, number)


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
            message = render.expiry_warning(risk, today) if claimed else None
            owner = risk.requested_by
        if message is not None:
            try:
                notifier.direct(owner, message)
            except Exception:
                log.exception("could not warn %s about RSK-%s", owner, number)


def _aware(moment: datetime) -> datetime:
    from bot.clock import as_utc

    return as_utc(moment)
