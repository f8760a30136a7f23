"""What waits on one person (the App Home's "Needs you"): risk acceptances their side has yet to
decide, escalations an executive has yet to decide, disagreements their side has yet to state
a position on. A bounded number of statements, whatever the number of records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from sqlmodel import Session

from bot.domain import disagreements as dis
from bot.domain import escalations as esc
from bot.domain import risks
from bot.domain.permissions import may_decide_escalation
from bot.domain.roles import Actor

T = TypeVar("T")


@dataclass(frozen=True)
class Waiting(Generic[T]):
    """The first items of one kind and how many there are in all."""

    items: list[T] = field(default_factory=list)
    total: int = 0


@dataclass(frozen=True)
class NeedsYou:
    risks: Waiting[risks.RiskAcceptance]
    escalations: Waiting[esc.Escalation]  # the overdue first
    disagreements: Waiting[dis.Disagreement]
    today: date

    @property
    def is_empty(self) -> bool:
        return not (self.risks.total or self.escalations.total or self.disagreements.total)


def needs_you(session: Session, *, actor: Actor, today: date, limit: int) -> NeedsYou:
    waiting_risks, risks_total = risks.awaiting_decision(
        session, actor=actor, today=today, limit=limit
    )
    pending = [
        escalation
        for escalation in (
            esc.list_pending_escalations(session, today=today) if actor.is_executive else []
        )
        if may_decide_escalation(
            actor, addressed_to=escalation.addressed_to, delegate=escalation.delegate
        )
    ]
    unstated, unstated_total = dis.awaiting_position(session, sides=actor.sides, limit=limit)
    return NeedsYou(
        risks=Waiting(waiting_risks, risks_total),
        escalations=Waiting(pending[:limit], len(pending)),
        disagreements=Waiting(unstated, unstated_total),
        today=today,
    )
