"""Reading risk records: one record, filtered pages, what waits for a decision."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func
from sqlmodel import Session, col, select

from bot.db import lock_row
from bot.domain.errors import NotFound, UserError
from bot.domain.paging import Page, clamp_page
from bot.domain.permissions import side_of
from bot.domain.refs import Kind, format_ref
from bot.domain.risks.models import (
    BAND_CEILINGS,
    OPEN_STATES,
    Band,
    RiskAcceptance,
    RiskApproval,
    RiskFilter,
    RiskRound,
    RiskState,
    RoundState,
)
from bot.domain.risks.policy import _already, approver_side
from bot.domain.roles import Actor, Role


def band_expression() -> Any:
    """The band as SQL: a CASE over the score (residual when given, else likelihood × impact)
    built from `BAND_CEILINGS`, so a
    GROUP BY agrees with `band_of` (score and band are Python properties, not columns)."""
    score = func.coalesce(
        col(RiskAcceptance.residual_likelihood) * col(RiskAcceptance.residual_impact),
        col(RiskAcceptance.likelihood) * col(RiskAcceptance.impact),
    )
    return case(
        *((score <= ceiling, band.value) for ceiling, band in BAND_CEILINGS),
        else_=Band.CRITICAL.value,
    )


def get_risk(session: Session, *, number: int, lock: bool = False) -> RiskAcceptance:
    """The record; with `lock`, row-locked until the transaction ends (SELECT … FOR UPDATE on
    PostgreSQL; SQLite's transactions already hold its single write lock), so a rule checked
    on it — "both sides approved", "not revoked" — still holds when the change commits."""
    risk = (
        lock_row(session, RiskAcceptance, number) if lock else session.get(RiskAcceptance, number)
    )
    if risk is None:
        raise NotFound(
            f"There is no {format_ref(Kind.RISK, number)}.",
            hint="`/accord risk list all` shows every risk acceptance.",
        )
    return risk


def already_decided_message(session: Session, *, number: int, actor: Actor) -> str | None:
    """After a lost race on the unique key: say who decided first."""
    risk = session.get(RiskAcceptance, number)
    side = side_of(actor)
    if risk is None or side is None:
        return None
    existing = risk.round_decisions().get(side)
    return _already(risk, existing) if existing else None


def _filter_clause(which: RiskFilter, *, viewer_id: str, today: date, horizon: int) -> Any:
    state = col(RiskAcceptance.state)
    clauses: dict[RiskFilter, Any] = {
        RiskFilter.ALL: None,
        RiskFilter.OPEN: state.in_(list(OPEN_STATES)),
        RiskFilter.PENDING: col(RiskAcceptance.id).in_(_open_round_ids()),
        RiskFilter.ACCEPTED: state == RiskState.ACCEPTED,
        RiskFilter.EXPIRING: (state == RiskState.ACCEPTED)
        & (col(RiskAcceptance.expires_on) <= today + timedelta(days=horizon)),
        RiskFilter.EXPIRED: state == RiskState.EXPIRED,
        RiskFilter.MINE: col(RiskAcceptance.requested_by) == viewer_id,
    }
    return clauses[which]


def _open_round_ids() -> Any:
    return select(RiskRound.risk_id).where(col(RiskRound.state) == RoundState.OPEN)


def list_risks(
    session: Session,
    *,
    which: RiskFilter,
    viewer_id: str,
    today: date,
    horizon: int = 30,
    page: int = 1,
    page_size: int = 20,
) -> Page[RiskAcceptance]:
    clause = _filter_clause(which, viewer_id=viewer_id, today=today, horizon=horizon)
    count_query = select(func.count()).select_from(RiskAcceptance)
    query = select(RiskAcceptance)
    if clause is not None:
        count_query = count_query.where(clause)
        query = query.where(clause)
    total = session.exec(count_query).one()
    page = clamp_page(page, total=total, page_size=page_size)
    order = (
        col(RiskAcceptance.expires_on) if which == RiskFilter.EXPIRING else col(RiskAcceptance.id)
    )
    items = session.exec(query.order_by(order).offset((page - 1) * page_size).limit(page_size))
    return Page(items=list(items), total=total, page=page, page_size=page_size)


def awaiting_decision(
    session: Session, *, actor: Actor, today: date, limit: int
) -> tuple[list[RiskAcceptance], int]:
    """The records with an open round `actor` may decide on now (App Home "Needs you"): the
    first `limit` of them, oldest first, and how many there are.

    Who may decide is what `decide` enforces (`approver_side`, `ensure_decidable`), said in SQL:
    a count and one page (with their rounds and decisions, selectin), however many records
    there are. `ensure_decidable` still guards the decision itself."""
    try:
        side = approver_side(actor)
    except UserError:
        return [], 0
    clause = _decidable_clause(actor, side=side, today=today)
    total = session.exec(select(func.count()).select_from(RiskAcceptance).where(clause)).one()
    if not total:
        return [], 0
    waiting = session.exec(
        select(RiskAcceptance).where(clause).order_by(col(RiskAcceptance.id)).limit(limit)
    ).all()
    return list(waiting), total


def _decidable_clause(actor: Actor, *, side: Role, today: date) -> Any:
    """`ensure_decidable(risk, actor, side=side, today=today)` passes, as a WHERE clause: the
    record's current round is open (and the record no draft), neither `side` nor `actor` has
    decided in it, `actor` requested neither the record nor any round of it, and the expiry
    it asks approvers to sign is after today."""
    proposed = func.nullif(col(RiskRound.proposed)["expires_on"].as_string(), "")
    signed_expiry = func.coalesce(proposed, cast(col(RiskAcceptance.expires_on), String))
    open_round = (
        select(RiskRound.id)
        .where(
            col(RiskRound.risk_id) == col(RiskAcceptance.id),
            col(RiskRound.round) == col(RiskAcceptance.round),
            col(RiskRound.state) == RoundState.OPEN,
            col(RiskRound.requested_by) != actor.user_id,
            signed_expiry > today.isoformat(),
        )
        .exists()
    )
    decided = (
        select(RiskApproval.id)
        .where(
            col(RiskApproval.risk_id) == col(RiskAcceptance.id),
            col(RiskApproval.round) == col(RiskAcceptance.round),
            (col(RiskApproval.side) == side) | (col(RiskApproval.approver_id) == actor.user_id),
        )
        .exists()
    )
    requested_a_round = (
        select(RiskRound.id)
        .where(
            col(RiskRound.risk_id) == col(RiskAcceptance.id),
            col(RiskRound.requested_by) == actor.user_id,
        )
        .exists()
    )
    return and_(
        col(RiskAcceptance.state) != RiskState.DRAFT,
        col(RiskAcceptance.requested_by) != actor.user_id,
        open_round,
        ~decided,
        ~requested_a_round,
    )


def all_risks(session: Session) -> list[RiskAcceptance]:
    return list(session.exec(select(RiskAcceptance).order_by(col(RiskAcceptance.id))))
