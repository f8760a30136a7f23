"""Read models of the gate: the latest deployment checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.domain.gate.models import GateCheck


def recent_checks(session: Session, *, limit: int = 15) -> list[GateCheck]:
    """Newest first."""
    return list(session.exec(select(GateCheck).order_by(col(GateCheck.id).desc()).limit(limit)))


@dataclass(frozen=True)
class BlockedDeployments:
    """Deployments the gate stopped since a moment, and which holds stopped them."""

    count: int
    by_initiative: list[tuple[str, int]]  # ("INI-3", 4), most first


def blocked_since(session: Session, *, since: datetime) -> BlockedDeployments:
    checks = session.exec(
        select(GateCheck).where(col(GateCheck.at) >= since, col(GateCheck.allowed).is_(False))
    ).all()
    per = Counter(ref for check in checks for ref in check.held_by)
    return BlockedDeployments(count=len(checks), by_initiative=per.most_common())
