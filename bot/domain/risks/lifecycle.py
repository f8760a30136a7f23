"""What time does to a risk record: expiry, expiry warnings, lapsed rounds."""

from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.domain.audit import record_event
from bot.domain.risks.models import (
    SYSTEM_ACTOR,
    RiskAcceptance,
    RiskReminder,
    RiskRound,
    RiskState,
    RoundKind,
    RoundState,
)
from bot.domain.risks.policy import RiskPolicy, _restore_state
from bot.domain.risks.queries import _open_round_ids, get_risk
from bot.domain.risks.service import _apply


def due_for_expiry(session: Session, *, today: date) -> list[int]:
    query = select(RiskAcceptance.id).where(
        RiskAcceptance.state == RiskState.ACCEPTED, col(RiskAcceptance.expires_on) <= today
    )
    return [number for number in session.exec(query) if number is not None]


def expire_one(session: Session, *, number: int, now: datetime) -> RiskAcceptance | None:
    """Move one record from accepted to expired in one guarded UPDATE.

    Returns the record only to the transaction whose UPDATE changed the row, so only that
    caller announces it; a second clock or a rerun finds the state already changed.
    """
    result = session.execute(
        update(RiskAcceptance)
        .where(
            col(RiskAcceptance.id) == number,
            col(RiskAcceptance.state) == RiskState.ACCEPTED,
            col(RiskAcceptance.expires_on) <= now.date(),
        )
        .values(state=RiskState.EXPIRED, updated_by=SYSTEM_ACTOR, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    risk = get_risk(session, number=number, lock=True)
    session.refresh(risk)
    record_event(
        session,
        at=now,
        actor_id=SYSTEM_ACTOR,
        record_ref=risk.ref,
        action="risk.expired",
        before={"state": RiskState.ACCEPTED.value},
        after={"state": RiskState.EXPIRED.value},
    )
    return risk


def claim_reminder(session: Session, *, risk_id: int, kind: str, key: str, now: datetime) -> bool:
    """Claim a reminder slot; False when it was sent already (the caller sends nothing)."""
    exists = session.exec(
        select(RiskReminder.id).where(
            RiskReminder.risk_id == risk_id, RiskReminder.kind == kind, RiskReminder.key == key
        )
    ).first()
    if exists is not None:
        return False
    session.add(RiskReminder(risk_id=risk_id, kind=kind, key=key[:64], sent_at=now))
    session.flush()
    return True


def expiry_warning_keys(risk: RiskAcceptance, *, today: date, policy: RiskPolicy) -> list[str]:
    """The reminder keys due for this record today; one warning is sent if any is new.

    Thresholds (e.g. 30, 7, 1 days) are warned once each per approved expiry date (a pending
    renewal does not restart them). While snoozed, nothing is
    sent; on the snooze date one reminder is sent, then the thresholds apply again.
    """
    if risk.state != RiskState.ACCEPTED:
        return []
    left = risk.days_left(today)
    if left <= 0:
        return []
    if risk.snoozed_until is not None and today < risk.snoozed_until:
        return []
    keys: list[str] = []
    if risk.snoozed_until is not None:
        keys.append(f"e{risk.expires_on.isoformat()}:snooze:{risk.snoozed_until.isoformat()}")
    crossed = [days for days in policy.reminder_days if left <= days]
    if crossed:
        keys.append(f"e{risk.expires_on.isoformat()}:{min(crossed)}d")
    return keys


def pending_risks(session: Session, *, today: date) -> list[RiskAcceptance]:
    """Records with a round waiting for approvers that can still be approved."""
    query = select(RiskAcceptance).where(col(RiskAcceptance.id).in_(_open_round_ids()))
    found = session.exec(query.order_by(col(RiskAcceptance.id)))
    return [r for r in found if r.state != RiskState.DRAFT and r.decision_expiry() > today]


def due_for_lapse(session: Session, *, today: date) -> list[int]:
    """Open rounds whose expiry date (the proposed one for a renewal) has passed."""
    return [
        r.id
        for r in session.exec(
            select(RiskAcceptance).where(col(RiskAcceptance.id).in_(_open_round_ids()))
        )
        if r.id is not None and r.decision_expiry() <= today
    ]


def lapse_one(
    session: Session, *, number: int, now: datetime
) -> tuple[RiskAcceptance, RiskRound] | None:
    """Close one open round whose expiry passed before both sides approved it.

    The guarded UPDATE (open → lapsed) lets only one transaction win, so the lapse is
    announced once. A pending record becomes `lapsed`; an accepted or expired record whose
    renewal lapsed keeps its state.
    """
    risk = get_risk(session, number=number, lock=True)
    row = risk.open_round()
    if row is None or risk.decision_expiry() > now.date():
        return None
    result = session.execute(
        update(RiskRound)
        .where(col(RiskRound.id) == row.id, col(RiskRound.state) == RoundState.OPEN)
        .values(state=RoundState.LAPSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    session.refresh(row)
    if row.kind == RoundKind.RENEWAL:
        _restore_state(risk, row)
    if risk.state == RiskState.PENDING:
        _apply(
            session,
            risk,
            {"state": RiskState.LAPSED},
            actor=SYSTEM_ACTOR,
            now=now,
            action="risk.lapsed",
            note="the expiry date passed before both sides approved",
        )
    else:
        record_event(
            session,
            at=now,
            actor_id=SYSTEM_ACTOR,
            record_ref=risk.ref,
            action="risk.renewal_lapsed",
            after={"round": row.round, "proposed": dict(row.proposed)},
        )
    return risk, row
