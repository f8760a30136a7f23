"""Read models of the gate: the latest deployment checks."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.domain.gate.models import GateCheck


def recent_checks(session: Session, *, limit: int = 15) -> list[GateCheck]:
    """Newest first."""
    return list(session.exec(select(GateCheck).order_by(col(GateCheck.id).desc()).limit(limit)))
