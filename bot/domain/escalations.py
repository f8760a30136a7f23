"""Escalations: a disagreement put to executives as a Slack thread where they decide.

The row stores the thread's channel and ts, so every later post lands in that thread, also
after a restart. A decision is a guarded state transition (`UPDATE … WHERE state IN
(undecided)`), so two clicks or a retried delivery record it once.

Escalating takes two transactions with the Slack post between them (no Slack call runs while
a transaction is open): `reserve_escalation` commits a row in state `posting` (it gives the
brief its ESC number; the disagreement stays open), the root message is posted, then
`attach_thread` stores channel + ts, makes the row `pending` and the disagreement
`escalated`. A failed post deletes the reservation (`release_reservation`). A reservation
left in `posting` by a crash is stale after `RESERVATION_STALE`: the deadlines job deletes
it (`clean_stale_reservations`) and a new escalation of the same disagreement replaces it.

Decision buttons carry the chosen option's text key (`option_key`), so a decision is never
recorded for an option that changed after the brief was posted (`OptionsChanged`).
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, UniqueConstraint, delete, update
from sqlmodel import Column, Field, Session, SQLModel, col, select

from bot.domain import disagreements as dis
from bot.domain import initiatives
from bot.domain.audit import record_event
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, InvalidInput, NotFound, person
from bot.domain.permissions import (
    Permission,
    authority,
    ensure_allowed,
    ensure_may_decide_escalation,
)
from bot.domain.refs import Kind, format_ref, parse_any_ref
from bot.domain.roles import Actor, Role
from bot.domain.validation import bounded_text

QUESTION_MAX = 300
RATIONALE_MAX = 1500
SYSTEM_ACTOR = "accord"
#: A reservation still `posting` after this long was left by a crash; it is cleaned up.
RESERVATION_STALE = timedelta(minutes=10)


class EscalationState(StrEnum):
    POSTING = "posting"  # reserved; the root message is being posted
    PENDING = "pending"
    MORE_INFO = "more_info"
    DEFERRED = "deferred"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"  # the disagreement was withdrawn before a decision


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
    #: The executive `addressed_to` named to decide in their stead (`delegate:@exec`).
    delegate: str | None = Field(default=None, max_length=32)
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
            "delegate": self.delegate,
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
    delegate: str | None = None
    decide_by: date | None = None
    question: str | None = None


def option_key(option: str) -> str:
    """A short fingerprint of an option's text, carried by its decision button and form."""
    return hashlib.sha256(option.encode("utf-8")).hexdigest()[:10]


class OptionsChanged(Conflict):
    """The option on a button or form is not (or no longer) what the disagreement offers."""

    def __init__(self, escalation_ref: str) -> None:
        super().__init__(
            f"The options changed since this brief of {escalation_ref} was posted, so nothing "
            "was recorded — here is the current brief.",
        )
        self.escalation_ref = escalation_ref


def _not_open(escalation: Escalation) -> Conflict:
    if escalation.state == EscalationState.WITHDRAWN:
        return Conflict(
            f"{escalation.ref} was withdrawn by the side that raised it; there is nothing to "
            "decide."
        )
    if escalation.state == EscalationState.POSTING:
        return Conflict(f"{escalation.ref} is still being posted; try again in a moment.")
    return Conflict(
        f"{escalation.ref} was already decided by {person(escalation.decided_by or '')}; "
        "nothing changed.",
    )


def open_escalation(session: Session, *, actor: Actor, number: int) -> Escalation:
    """An escalation executives can still answer (for opening a decision form)."""
    escalation = get_escalation(session, number=number)
    ensure_may_decide_escalation(
        actor,
        ref=escalation.ref,
        addressed_to=escalation.addressed_to,
        delegate=escalation.delegate,
    )
    if not escalation.is_open:
        raise _not_open(escalation)
    return escalation


def check_option(
    escalation: Escalation, disagreement: dis.Disagreement, index: int, key: str
) -> str:
    """The option at `index` when its text still matches `key`; else `OptionsChanged`."""
    choices = disagreement.choices
    if not 0 <= index < len(choices) or option_key(choices[index]) != key:
        raise OptionsChanged(escalation.ref)
    return choices[index]


def reserve_escalation(
    session: Session,
    *,
    actor: Actor | None,
    request: EscalationRequest,
    executives: frozenset[str],
    now: datetime,
) -> tuple[Escalation, dis.Disagreement]:
    """Validate and add the row in state `posting` (flushed; the caller commits it).

    The caller then posts the root message outside any transaction and calls `attach_thread`
    (or `release_reservation` when the post failed). `actor=None` is Accord's own time-box
    escalation.
    """
    if actor is not None:
        ensure_allowed(actor, Permission.ESCALATE)
    disagreement = dis.get_disagreement(session, number=request.number)
    existing = escalation_for(session, disagreement.id)
    if disagreement.state != dis.DisagreementState.OPEN:
        where = f" as {existing.ref}" if existing else ""
        raise Conflict(
            f"{disagreement.ref} is {disagreement.state.value}{where}; only an open "
            "disagreement can be escalated.",
            hint=f"`/accord disagree show {disagreement.ref}`",
        )
    if existing is not None:
        if existing.state == EscalationState.POSTING and existing.escalated_at > (
            now - RESERVATION_STALE
        ):
            raise Conflict(
                f"{disagreement.ref} is being escalated right now as {existing.ref}; "
                "nothing else was done.",
                hint=f"`/accord disagree show {disagreement.ref}` in a moment.",
            )
        # A stale reservation (its post crashed) or a leftover row: replace it.
        session.delete(existing)
        session.flush()
    if request.decide_by is not None and request.decide_by <= now.date():
        raise InvalidInput(
            f"The decision date {request.decide_by.isoformat()} is not in the future.",
            hint="Give a later date, e.g. `by:"
            + date.fromordinal(now.date().toordinal() + 7).isoformat()
            + "`.",
        )
    if request.addressed_to is not None and request.addressed_to not in executives:
        raise InvalidInput(
            "That person is not a configured executive, or is on the CIO or CISO side, so "
            "they cannot decide.",
            hint="Leave out `to:` to put it to every executive.",
        )
    if request.delegate is not None:
        if request.addressed_to is None:
            raise InvalidInput(
                "`delegate:` names who decides in the stead of the executive in `to:`.",
                hint="e.g. `to:@erin delegate:@dan`.",
            )
        if request.delegate not in executives:
            raise InvalidInput(
                "The delegate is not a configured executive, or is on the CIO or CISO side, "
                "so they cannot decide.",
                hint="Name a configured executive, or leave out `delegate:`.",
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
        delegate=request.delegate,
        decide_by=request.decide_by,
        state=EscalationState.POSTING,
        escalated_by=actor.user_id if actor else SYSTEM_ACTOR,
        escalated_at=now,
    )
    session.add(escalation)
    session.flush()
    return escalation, disagreement


def release_reservation(session: Session, *, number: int) -> bool:
    """Forget a reservation whose root message could not be posted; True if one was removed."""
    result = session.execute(
        delete(Escalation).where(
            col(Escalation.id) == number, col(Escalation.state) == EscalationState.POSTING
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def clean_stale_reservations(session: Session, *, now: datetime) -> list[str]:
    """Delete reservations a crash left in `posting`; their disagreements stay open."""
    stale = session.exec(
        select(Escalation).where(
            Escalation.state == EscalationState.POSTING,
            col(Escalation.escalated_at) <= now - RESERVATION_STALE,
        )
    ).all()
    cleaned = []
    for escalation in stale:
        if release_reservation(session, number=escalation.id):  # type: ignore[arg-type]
            record_event(
                session,
                at=now,
                actor_id=SYSTEM_ACTOR,
                record_ref=format_ref(Kind.DISAGREEMENT, escalation.disagreement_id),
                action="escalation.abandoned",
                note=f"{escalation.ref} was reserved at {escalation.escalated_at:%Y-%m-%d %H:%M} "
                "but its root message was never recorded; the disagreement stays open",
            )
            cleaned.append(escalation.ref)
    return cleaned


def attach_thread(
    session: Session, *, number: int, channel_id: str, thread_ts: str, now: datetime
) -> tuple[Escalation, dis.Disagreement]:
    """Second step of escalating: the posted root message makes the escalation real."""
    result = session.execute(
        update(Escalation)
        .where(col(Escalation.id) == number, col(Escalation.state) == EscalationState.POSTING)
        .values(state=EscalationState.PENDING, channel_id=channel_id, thread_ts=thread_ts)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"{format_ref(Kind.ESCALATION, number)} was cancelled while its brief was posted; "
            "escalate again."
        )
    escalation = get_escalation(session, number=number)
    session.refresh(escalation)
    disagreement = dis.get_disagreement(session, number=escalation.disagreement_id)
    if disagreement.state != dis.DisagreementState.OPEN:
        raise Conflict(f"{disagreement.ref} became {disagreement.state.value} meanwhile.")
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
    return escalation, disagreement


def withdraw_disagreement(
    session: Session, *, actor: Actor, number: int, reason: str, now: datetime
) -> tuple[dis.Disagreement, Escalation | None]:
    """Withdraw an open or escalated disagreement; an undecided escalation is withdrawn too,
    so executives' buttons are refused from then on."""
    disagreement = dis.withdraw(session, actor=actor, number=number, reason=reason, now=now)
    escalation = escalation_for(session, disagreement.id)
    if escalation is None or escalation.state not in UNDECIDED:
        return disagreement, None
    before = escalation.snapshot()
    result = session.execute(
        update(Escalation)
        .where(col(Escalation.id) == escalation.id, col(Escalation.state).in_(list(UNDECIDED)))
        .values(state=EscalationState.WITHDRAWN)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"{escalation.ref} was decided meanwhile; nothing was withdrawn.")
    session.refresh(escalation)
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=escalation.ref,
        action="escalation.withdrawn",
        before={"state": before["state"]},
        after={"state": escalation.state.value},
        note=disagreement.outcome,
    )
    session.flush()
    return disagreement, escalation


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    option: int | None = None
    #: `option_key` of the option the executive saw; a mismatch is refused.
    option_key: str | None = None
    rationale: str = ""
    defer_to: date | None = None
    release_hold: bool = False


def decide(
    session: Session, *, actor: Actor, number: int, decision: Decision, now: datetime
) -> tuple[Escalation, dis.Disagreement]:
    """Record an executive's answer. Choosing an option decides the disagreement, once."""
    escalation = get_escalation(session, number=number)
    ensure_may_decide_escalation(
        actor,
        ref=escalation.ref,
        addressed_to=escalation.addressed_to,
        delegate=escalation.delegate,
    )
    disagreement = dis.get_disagreement(session, number=escalation.disagreement_id)
    if not escalation.is_open:
        raise _not_open(escalation)
    rationale = bounded_text(
        decision.rationale,
        field="rationale",
        max_length=RATIONALE_MAX,
        required=True,  # every answer says why: a decision, a question or a deferral
    )
    before = escalation.snapshot()
    values: dict[str, Any]
    if decision.kind == DecisionKind.OPTION:
        index = decision.option if decision.option is not None else -1
        chosen = check_option(escalation, disagreement, index, decision.option_key or "")
        values = {
            "state": EscalationState.DECIDED,
            "decision": chosen[:200],
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
        after={
            **{k: v for k, v in after.items() if before.get(k) != v},
            **authority(actor, Role.EXECUTIVE),
        },
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


def list_escalations(
    session: Session, *, today: date, include_decided: bool = False, limit: int = 200
) -> list[tuple[Escalation, dis.Disagreement]]:
    """Escalations with their disagreements: the undecided (overdue first), or with
    `include_decided` the most recent of every state."""
    if include_decided:
        rows = list(
            session.exec(select(Escalation).order_by(col(Escalation.id).desc()).limit(limit)).all()
        )
    else:
        rows = list_pending_escalations(session, today=today)[:limit]
    ids = [e.disagreement_id for e in rows]
    found = {
        d.id: d
        for d in session.exec(select(dis.Disagreement).where(col(dis.Disagreement.id).in_(ids)))
    }
    return [(e, found[e.disagreement_id]) for e in rows if e.disagreement_id in found]
