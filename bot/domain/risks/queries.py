"""Reading risk records: one record, filtered pages, what waits for a decision."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func
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
    RiskFilter,
    RiskRound,
    RiskState,
    RoundState,
)
from bot.domain.risks.policy import _already, approver_side, ensure_decidable
from bot.domain.roles import Actor


def band_expression() -> Any:
    """The band as SQL: a CASE over likelihood × impact built from `BAND_CEILINGS`, so a
    GROUP BY agrees with `band_of` (score and band are Python properties, not columns)."""
    score = col(RiskAcceptance.likelihood) * col(RiskAcceptance.impact)
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

    Who may decide is exactly what `decide` enforces (`approver_side`, `ensure_decidable`); two
    statements load the open records with their rounds and decisions (selectin)."""
    try:
        side = approver_side(actor)
    except UserError:
        return [], 0
    candidates = session.exec(
        select(RiskAcceptance)
        .where(col(RiskAcceptance.id).in_(_open_round_ids()))
        .order_by(col(RiskAcceptance.id))
    ).all()

    def decidable(risk: RiskAcceptance) -> bool:
        try:
            ensure_decidable(risk, actor, side=side, today=today)
        except UserError:
            return False
        return True

    waiting = [risk for risk in candidates if decidable(risk)]
    return waiting[:limit], len(waiting)


def all_risks(session: Session) -> list[RiskAcceptance]:
    return list(session.exec(select(RiskAcceptance).order_by(col(RiskAcceptance.id))))
