"""Records' titles by their public ids, for lists that name records of several kinds (the
audit feed, the digest's "what changed"): one statement per kind, whatever the number."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from bot.domain.disagreements import Disagreement
from bot.domain.escalations import Escalation
from bot.domain.initiatives import Initiative
from bot.domain.refs import Kind, parse_any_ref
from bot.domain.risks import RiskAcceptance
from bot.domain.touchpoints import TouchpointSeries

_TITLED: dict[Kind, tuple[Any, Any]] = {
    Kind.INITIATIVE: (Initiative.id, Initiative.title),
    Kind.RISK: (RiskAcceptance.id, RiskAcceptance.title),
    Kind.DISAGREEMENT: (Disagreement.id, Disagreement.subject),
    Kind.TOUCHPOINT: (TouchpointSeries.id, TouchpointSeries.name),
}


def record_titles(session: Session, refs: set[str]) -> dict[str, str]:
    """Each ref's title (an escalation: its disagreement's subject), one statement per kind."""
    wanted: dict[Kind, set[int]] = {}
    for ref in refs:
        parsed = parse_any_ref(ref)
        if parsed is not None:
            wanted.setdefault(parsed[0], set()).add(parsed[1])
    titles: dict[str, str] = {}
    for kind, (id_column, title_column) in _TITLED.items():
        if wanted.get(kind):
            rows = session.exec(
                select(id_column, title_column).where(col(id_column).in_(sorted(wanted[kind])))
            ).all()
            titles.update({f"{kind.value}-{number}": str(title) for number, title in rows})
    if wanted.get(Kind.ESCALATION):
        rows = session.exec(
            select(Escalation.id, Disagreement.subject)
            .join(Disagreement, col(Disagreement.id) == col(Escalation.disagreement_id))
            .where(col(Escalation.id).in_(sorted(wanted[Kind.ESCALATION])))
        ).all()
        titles.update({f"{Kind.ESCALATION.value}-{n}": str(title) for n, title in rows})
    return titles
