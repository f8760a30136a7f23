"""Escalations: a disagreement put to executives as a Slack thread where they decide.

The row stores the thread's channel and ts, so every later post lands in that thread, also
after a restart. A decision is a guarded state transition (`UPDATE … WHERE state IN
(undecided)`), so two clicks or a retried delivery record it once.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, UniqueConstraint, update
from sqlmodel import Column, Field, Session, SQLModel, col, select

from bot.domain import disagreements as dis
from bot.domain import initiatives
from bot.domain.audit import record_event
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, InvalidInput, NotFound, person
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, format_ref, parse_any_ref
from bot.domain.roles import Actor
from bot.domain.validation import bounded_text

QUESTION_MAX = 300
RATIONALE_MAX = 1500
SYSTEM_ACTOR = "accord"


class EscalationState(StrEnum):
    PENDING = "pending"
    MORE_INFO = "more_info"
    DEFERRED = "deferred"
    DECIDED = "decided"


UNDECIDED = (EscalationState.PENDING, EscalationState.MORE_INFO, EscalationState.DEFERRED)


class DecisionKind(StrEnum):
    OPTION = "option"
    MORE_INFO = "more_info"
    DEFER = "defer"


class Escalation(SQLModel, table=True):
    __tablename__ = "escalation"
    # Public ids (INI-7, RSK-3, …) are never reused on SQLite, even after a rollback.
    __table_args__ = (
        UniqueConstraint("disagreement_id", name="uq_escalation_disagreement"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    disagreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("disagreement.id"), nullable=False, index=True)
    )
    question: str = Field(max_length=QUESTION_MAX)
    addressed_to: str | None = Field(default=None, max_length=32)
    decide_by: date | None = Field(default=None, index=True)
    state: EscalationState = Field(
        default=EscalationState.PENDING, sa_column=enum_column(EscalationState, index=True)
    )
    channel_id: str = Field(default="", max_length=32)
    thread_ts: str = Field(default="", max_length=32)
    escalated_by: str = Field(max_length=32)
    escalated_at: datetime
    decision: str | None = Field(default=None, max_length=200)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = None
    rationale: str | None = Field(default=None, max_length=RATIONALE_MAX)
    released_hold: str | None = Field(default=None, max_length=16)
    last_reminded_on: date | None = None

    @property
    def ref(self) -> str:
        assert self.id is not None
        return format_ref(Kind.ESCALATION, self.id)

    @property
    def is_open(self) -> bool:
        return self.state in UNDECIDED

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.decide_by is not None and self.decide_by < today

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "question": self.question,
            "to": self.addressed_to,
            "decide_by": self.decide_by.isoformat() if self.decide_by else None,
            "thread": f"{self.channel_id}/{self.thread_ts}",
            "decision": self.decision,
            "decided_by": self.decided_by,
            "rationale": self.rationale,
        }


def get_escalation(session: Session, *, number: int) -> Escalation:
    escalation = session.get(Escalation, number)
    if escalation is None:
        raise NotFound(f"There is no {format_ref(Kind.ESCALATION, number)}.")
    return escalation


def escalation_for(session: Session, disagreement_id: int | None) -> Escalation | None:
    if disagreement_id is None:
        return None
    return session.exec(
        select(Escalation).where(Escalation.disagreement_id == disagreement_id)
    ).first()


def linked_hold(session: Session, disagreement: dis.Disagreement) -> initiatives.Initiative | None:
    """The linked initiative when it is on security hold (shown in the brief)."""
    parsed = parse_any_ref(disagreement.linked_ref or "")
    if parsed is None or parsed[0] != Kind.INITIATIVE:
        return None
    initiative = session.get(initiatives.Initiative, parsed[1])
    return initiative if initiative is not None and initiative.on_hold else None


@dataclass(frozen=True)
class EscalationRequest:
    number: int
    addressed_to: str | None = None
    decide_by: date | None = None
    question: str | None = None


def reserve_escalation(
    session: Session,
    *,
    actor: Actor | None,
    request: EscalationRequest,
    executives: frozenset[str],
    now: datetime,
) -> tuple[Escalation, dis.Disagreement]:
    """Validate and add the row (flushed for its number, not committed).

    The caller posts the root message, then `attach_thread` — all in one transaction, so a
    failed post leaves nothing behind. `actor=None` is Accord's own time-box escalation.
    """
    if actor is not None:
        ensure_allowed(actor, Permission.ESCALATE)
    disagreement = dis.get_disagreement(session, number=request.number)
    if disagreement.state != dis.DisagreementState.OPEN:
        existing = escalation_for(session, disagreement.id)
        where = f" as {existing.ref}" if existing else ""
        raise Conflict(
            f"{disagreement.ref} is {disagreement.state.value}{where}; only an open "
            "disagreement can be escalated.",
            hint=f"`/accord disagree show {disagreement.ref}`",
        )
    if request.decide_by is not None and request.decide_by <= now.date():
        raise InvalidInput(
            f"The decision date {request.decide_by.isoformat()} is not in the future.",
            hint="Give a later date, e.g. `by:"
            + date.fromordinal(now.date().toordinal() + 7).isoformat()
            + "`.",
        )
    if request.addressed_to is not None and request.addressed_to not in executives:
        raise InvalidInput(
            "That person is not a configured executive, so they cannot decide.",
            hint="Leave out `to:` to put it to every executive.",
        )
    question = bounded_text(
        request.question or f"How do we resolve: {disagreement.subject}?",
        field="question",
        max_length=QUESTION_MAX,
        required=True,
    )
    escalation = Escalation(
        disagreement_id=disagreement.id,  # type: ignore[arg-type]
        question=question,
        addressed_to=request.addressed_to,
        decide_by=request.decide_by,
        escalated_by=actor.user_id if actor else SYSTEM_ACTOR,
        escalated_at=now,
    )
    session.add(escalation)
    session.flush()
    return escalation, disagreement


def attach_thread(
    session: Session,
    escalation: Escalation,
    disagreement: dis.Disagreement,
    *,
    channel_id: str,
    thread_ts: str,
    now: datetime,
) -> None:
    escalation.channel_id = channel_id
    escalation.thread_ts = thread_ts
    dis.mark_escalated(
        session,
        disagreement,
        actor_id=escalation.escalated_by,
        now=now,
        escalation_ref=escalation.ref,
    )
    record_event(
        session,
        at=now,
        actor_id=escalation.escalated_by,
        record_ref=escalation.ref,
        action="escalation.created",
        after={**escalation.snapshot(), "disagreement": disagreement.ref},
    )
    session.flush()


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    option: int | None = None
    rationale: str = ""
    defer_to: date | None = None
    release_hold: bool = False


def decide(
    session: Session, *, actor: Actor, number: int, decision: Decision, now: datetime
) -> tuple[Escalation, dis.Disagreement]:
    """Record an executive's answer. Choosing an option decides the disagreement, once."""
    ensure_allowed(actor, Permission.ESCALATION_DECIDE)
    escalation = get_escalation(session, number=number)
    disagreement = dis.get_disagreement(session, number=escalation.disagreement_id)
    if not escalation.is_open:
        raise Conflict(
            f"{escalation.ref} was already decided by {person(escalation.decided_by or '')}; "
            "nothing changed.",
        )
    rationale = bounded_text(
        decision.rationale,
        field="rationale",
        max_length=RATIONALE_MAX,
        required=decision.kind != DecisionKind.OPTION,
    )
    before = escalation.snapshot()
    values: dict[str, Any]
    if decision.kind == DecisionKind.OPTION:
        choices = disagreement.choices
        if decision.option is None or not 0 <= decision.option < len(choices):
            raise InvalidInput("That option no longer exists; reopen the escalation thread.")
        values = {
            "state": EscalationState.DECIDED,
            "decision": choices[decision.option][:200],
            "decided_by": actor.user_id,
            "decided_at": now,
            "rationale": rationale,
        }
        action = "escalation.decided"
    elif decision.kind == DecisionKind.MORE_INFO:
        values = {"state": EscalationState.MORE_INFO, "rationale": rationale}
        action = "escalation.more_info"
    else:
        if decision.defer_to is None or decision.defer_to <= now.date():
            raise InvalidInput("Defer to a date after today.", field="date")
        values = {
            "state": EscalationState.DEFERRED,
            "decide_by": decision.defer_to,
            "rationale": rationale,
            "last_reminded_on": None,
        }
        action = "escalation.deferred"
    result = session.execute(
        update(Escalation)
        .where(col(Escalation.id) == escalation.id, col(Escalation.state).in_(list(UNDECIDED)))
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"{escalation.ref} was decided meanwhile; nothing changed.")
    session.refresh(escalation)
    if decision.kind == DecisionKind.OPTION:
        if decision.release_hold:
            hold = linked_hold(session, disagreement)
            if hold is None:
                raise Conflict("The linked initiative is no longer on security hold.")
            initiatives.release_hold(
                session,
                actor=actor,
                number=hold.id,  # type: ignore[arg-type]
                reason=f"Executive decision: {escalation.decision}",
                now=now,
                via=escalation.ref,
            )
            escalation.released_hold = hold.ref
        outcome = f"{escalation.decision}" + (f" — {rationale}" if rationale else "")
        dis.mark_decided(
            session,
            disagreement,
            actor_id=actor.user_id,
            now=now,
            outcome=outcome,
            escalation_ref=escalation.ref,
        )
    after = escalation.snapshot()
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=escalation.ref,
        action=action,
        before={k: before[k] for k in after if before.get(k) != after.get(k)},
        after={k: v for k, v in after.items() if before.get(k) != v},
        note=rationale or None,
    )
    session.flush()
    return escalation, disagreement


def claim_reminder(session: Session, escalation: Escalation, *, today: date) -> bool:
    """Claim today's overdue reminder; False when it was already sent today."""
    result = session.execute(
        update(Escalation)
        .where(
            col(Escalation.id) == escalation.id,
            col(Escalation.state).in_(list(UNDECIDED)),
            (col(Escalation.last_reminded_on).is_(None))
            | (col(Escalation.last_reminded_on) < today),
        )
        .values(last_reminded_on=today)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def list_pending_escalations(session: Session, *, today: date) -> list[Escalation]:
    """Undecided escalations, the overdue first, then by decision date (agendas, digests)."""
    rows = session.exec(
        select(Escalation)
        .where(col(Escalation.state).in_(list(UNDECIDED)))
        .order_by(col(Escalation.id))
    ).all()
    return sorted(rows, key=lambda e: (not e.is_overdue(today), e.decide_by or date.max))
