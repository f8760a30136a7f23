"""Disagreements between the CIO and CISO sides: both positions stated by their own side,
settled between the sides (both confirm) or escalated to executives (see escalations.py).

States: open → settled | escalated → decided; open/escalated → withdrawn.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, or_, update
from sqlmodel import Field, Session, SQLModel, col, func, select

from bot.db import lock_row
from bot.domain import initiatives, risks
from bot.domain.audit import changed_fields, record_event
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.domain.paging import Page, clamp_page
from bot.domain.permissions import (
    Permission,
    authority,
    ensure_allowed,
    ensure_may_write_side_field,
    side_of,
)
from bot.domain.refs import Kind, format_ref, parse_any_ref
from bot.domain.roles import ROLE_LABELS, Actor, Role
from bot.domain.touchpoints import OccurrenceStatus, TouchpointOccurrence
from bot.domain.validation import bounded_text

SUBJECT_MAX = 200
POSITION_MAX = 2000
IMPACT_MAX = 1000
OPTION_MAX = 70  # fits a button label
MAX_OPTIONS = 5
OUTCOME_MAX = 1000
REASON_MAX = 500
LIST_PAGE_SIZE = 20


class DisagreementState(StrEnum):
    OPEN = "open"
    SETTLED = "settled"
    ESCALATED = "escalated"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


ACTIVE_STATES = (DisagreementState.OPEN, DisagreementState.ESCALATED)
DEFAULT_OPTIONS = ("Adopt the CIO-side position", "Adopt the CISO-side position")


class Disagreement(SQLModel, table=True):
    __tablename__ = "disagreement"
    # Public ids (INI-7, RSK-3, …) are never reused on SQLite, even after a rollback.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=SUBJECT_MAX)
    linked_ref: str | None = Field(default=None, max_length=16, index=True)
    cio_position: str = Field(default="", max_length=POSITION_MAX)
    cio_author: str | None = Field(default=None, max_length=32)
    ciso_position: str = Field(default="", max_length=POSITION_MAX)
    ciso_author: str | None = Field(default=None, max_length=32)
    business_impact: str = Field(default="", max_length=IMPACT_MAX)
    security_impact: str = Field(default="", max_length=IMPACT_MAX)
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: DisagreementState = Field(
        default=DisagreementState.OPEN, sa_column=enum_column(DisagreementState, index=True)
    )
    outcome: str | None = Field(default=None, max_length=OUTCOME_MAX)
    raised_by: str = Field(max_length=32)
    raised_side: Role = Field(sa_column=enum_column(Role))
    # A settlement proposal needs one confirmation per side; `settle_version` makes a button
    # for an older proposal stale.
    settle_text: str | None = Field(default=None, max_length=OUTCOME_MAX)
    settle_version: int = 0
    settle_cio_by: str | None = Field(default=None, max_length=32)
    settle_ciso_by: str | None = Field(default=None, max_length=32)
    # Time box: counted from `timebox_from`; a snooze restarts it.
    timebox_from: datetime
    timebox_proposed_at: datetime | None = None
    snooze_reason: str | None = Field(default=None, max_length=REASON_MAX)
    created_at: datetime
    updated_by: str = Field(max_length=32)
    updated_at: datetime

    @property
    def ref(self) -> str:
        assert self.id is not None
        return format_ref(Kind.DISAGREEMENT, self.id)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def choices(self) -> list[str]:
        """What executives choose between: the options considered, or each side's position."""
        return list(self.options) or list(DEFAULT_OPTIONS)

    def position(self, side: Role) -> str:
        return self.cio_position if side == Role.CIO else self.ciso_position

    def author(self, side: Role) -> str | None:
        return self.cio_author if side == Role.CIO else self.ciso_author

    def snapshot(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "linked": self.linked_ref,
            "cio_position": self.cio_position,
            "ciso_position": self.ciso_position,
            "business_impact": self.business_impact,
            "security_impact": self.security_impact,
            "options": list(self.options),
            "state": self.state.value,
            "outcome": self.outcome,
            "settle_proposal": self.settle_text,
        }


def other_side(side: Role) -> Role:
    return Role.CISO if side == Role.CIO else Role.CIO


def actor_side(actor: Actor, explicit: Role | None = None) -> Role:
    """The side a person speaks for: their only side, or the one they name if on both."""
    if explicit is not None:
        if not actor.on_side(explicit):
            raise InvalidInput(f"You are not on the {ROLE_LABELS[explicit]}.")
        return explicit
    side = side_of(actor)
    if side is None:
        if actor.sides:
            raise InvalidInput(
                "You are on both sides; say which one you speak for.",
                hint="Add `as:cio` or `as:ciso`.",
            )
        raise InvalidInput("Only members of the CIO or CISO side state a side's position.")
    return side


@dataclass(frozen=True)
class DisagreementDraft:
    position: str
    subject: str | None = None
    linked_ref: str | None = None
    side: Role | None = None


def validate_link(session: Session, text: str) -> tuple[str, str | None]:
    """A link to `INI-n` (must exist; gives its title) or `RSK-n`; returns (ref, title)."""
    parsed = parse_any_ref(text)
    if parsed is None or parsed[0] not in (Kind.INITIATIVE, Kind.RISK):
        raise InvalidInput(
            f"`{text[:30]}` is not an initiative or risk id.",
            hint='Link `INI-3` or `RSK-2`, or give a "quoted subject".',
        )
    kind, number = parsed
    if kind == Kind.INITIATIVE:
        initiative = initiatives.get_initiative(session, number=number)
        return initiative.ref, initiative.title
    risk = risks.get_risk(session, number=number)
    return format_ref(Kind.RISK, number), risk.title


def get_disagreement(session: Session, *, number: int, lock: bool = False) -> Disagreement:
    """The record; with `lock`, locked for a change until the transaction ends (`lock_row`)."""
    disagreement = (
        lock_row(session, Disagreement, number) if lock else session.get(Disagreement, number)
    )
    if disagreement is None:
        raise NotFound(
            f"There is no {format_ref(Kind.DISAGREEMENT, number)}.",
            hint="`/accord disagree list all` shows every disagreement.",
        )
    return disagreement


def create_disagreement(
    session: Session, *, actor: Actor, draft: DisagreementDraft, now: datetime
) -> Disagreement:
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    side = actor_side(actor, draft.side)
    linked_ref, linked_title = (None, None)
    if draft.linked_ref:
        linked_ref, linked_title = validate_link(session, draft.linked_ref)
    subject = (
        draft.subject or linked_title or (f"Disagreement about {linked_ref}" if linked_ref else "")
    )
    subject = bounded_text(subject, field="subject", max_length=SUBJECT_MAX, required=True)
    position = bounded_text(
        draft.position, field="position", max_length=POSITION_MAX, required=True
    )
    disagreement = Disagreement(
        subject=subject,
        linked_ref=linked_ref,
        raised_by=actor.user_id,
        raised_side=side,
        timebox_from=now,
        created_at=now,
        updated_by=actor.user_id,
        updated_at=now,
    )
    _set_position(disagreement, side, position, actor.user_id)
    session.add(disagreement)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=disagreement.ref,
        action="disagreement.created",
        after={**disagreement.snapshot(), **authority(actor, side)},
    )
    return disagreement


def _set_position(disagreement: Disagreement, side: Role, text: str, author: str) -> None:
    if side == Role.CIO:
        disagreement.cio_position, disagreement.cio_author = text, author
    else:
        disagreement.ciso_position, disagreement.ciso_author = text, author


def _ensure_active(disagreement: Disagreement, doing: str) -> None:
    if not disagreement.is_active:
        raise Conflict(
            f"{disagreement.ref} is {disagreement.state.value}, so you cannot {doing}.",
            hint=f"`/accord disagree show {disagreement.ref}` shows its outcome.",
        )


def _change(
    session: Session,
    disagreement: Disagreement,
    before: dict[str, Any],
    *,
    actor_id: str,
    action: str,
    now: datetime,
    note: str | None = None,
) -> None:
    old, new = changed_fields(before, disagreement.snapshot())
    disagreement.updated_by = actor_id
    disagreement.updated_at = now
    record_event(
        session,
        at=now,
        actor_id=actor_id,
        record_ref=disagreement.ref,
        action=action,
        before=old,
        after=new,
        note=note,
    )


def state_position(
    session: Session,
    *,
    actor: Actor,
    number: int,
    position: str,
    now: datetime,
    side: Role | None = None,
) -> tuple[Disagreement, Role]:
    """Each side writes its own position; a new position is a new fact for the thread."""
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    chosen = actor_side(actor, side)
    text = bounded_text(position, field="position", max_length=POSITION_MAX, required=True)
    disagreement = get_disagreement(session, number=number, lock=True)
    _ensure_active(disagreement, "change a position")
    before = disagreement.snapshot()
    _set_position(disagreement, chosen, text, actor.user_id)
    _change(
        session,
        disagreement,
        before,
        actor_id=actor.user_id,
        action="disagreement.position",
        now=now,
        note=authority(actor, chosen).get("via_grant"),
    )
    return disagreement, chosen


@dataclass(frozen=True)
class DisagreementDetails:
    business_impact: str | None = None
    security_impact: str | None = None
    options: list[str] | None = None
    subject: str | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())


def parse_options(text: str) -> list[str]:
    """`A | B | C` → three options, each short enough for a decision button."""
    options = [part.strip() for part in text.split("|") if part.strip()]
    if len(options) > MAX_OPTIONS:
        raise InvalidInput(f"Give at most {MAX_OPTIONS} options.", field="options")
    for option in options:
        if len(option) > OPTION_MAX:
            raise InvalidInput(
                f"The option `{option[:30]}…` is longer than {OPTION_MAX} characters.",
                field="options",
            )
    return options


def update_details(
    session: Session, *, actor: Actor, number: int, details: DisagreementDetails, now: datetime
) -> Disagreement:
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    if details.is_empty():
        raise InvalidInput(
            "Nothing to change.",
            hint=f'e.g. `/accord disagree update DIS-{number} business:"launch slips" '
            'security:"exposed CVE" options:"Delay | Ship with WAF"`',
        )
    disagreement = get_disagreement(session, number=number, lock=True)
    _ensure_active(disagreement, "change it")
    if details.business_impact is not None:
        ensure_may_write_side_field(actor, side=Role.CIO, what="business impact")
    if details.security_impact is not None:
        ensure_may_write_side_field(actor, side=Role.CISO, what="security impact")
    if (
        details.options is not None
        and disagreement.state == DisagreementState.ESCALATED
        and list(details.options) != list(disagreement.options)
    ):
        raise Forbidden(
            f"{disagreement.ref} is escalated: the options executives choose from change "
            "only with both sides, so they stay as they were.",
            hint="Settle it between the sides (`/accord disagree settle`), or withdraw it "
            "and escalate again with the options both sides agree on.",
        )
    before = disagreement.snapshot()
    if details.subject is not None:
        disagreement.subject = bounded_text(
            details.subject, field="subject", max_length=SUBJECT_MAX, required=True
        )
    if details.business_impact is not None:
        disagreement.business_impact = bounded_text(
            details.business_impact, field="business", max_length=IMPACT_MAX
        )
    if details.security_impact is not None:
        disagreement.security_impact = bounded_text(
            details.security_impact, field="security", max_length=IMPACT_MAX
        )
    if details.options is not None:
        disagreement.options = list(details.options)
    _change(
        session,
        disagreement,
        before,
        actor_id=actor.user_id,
        action="disagreement.updated",
        now=now,
    )
    return disagreement


def propose_settlement(
    session: Session, *, actor: Actor, number: int, outcome: str, now: datetime
) -> tuple[Disagreement, Role]:
    """The proposer's side confirms by proposing; the other side confirms by button."""
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    side = actor_side(actor)
    text = bounded_text(outcome, field="outcome", max_length=OUTCOME_MAX, required=True)
    disagreement = get_disagreement(session, number=number, lock=True)
    if disagreement.state != DisagreementState.OPEN:
        raise Conflict(
            f"{disagreement.ref} is {disagreement.state.value}; only an open disagreement "
            "can be settled between the sides.",
        )
    before = disagreement.snapshot()
    disagreement.settle_text = text
    disagreement.settle_version += 1
    disagreement.settle_cio_by = actor.user_id if side == Role.CIO else None
    disagreement.settle_ciso_by = actor.user_id if side == Role.CISO else None
    _change(
        session,
        disagreement,
        before,
        actor_id=actor.user_id,
        action="disagreement.settlement_proposed",
        now=now,
    )
    return disagreement, side


def confirm_settlement(
    session: Session, *, actor: Actor, number: int, version: int, now: datetime
) -> Disagreement:
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    side = actor_side(actor)
    disagreement = get_disagreement(session, number=number, lock=True)
    if disagreement.state != DisagreementState.OPEN:
        raise Conflict(f"{disagreement.ref} is already {disagreement.state.value}.")
    if disagreement.settle_text is None or version != disagreement.settle_version:
        raise Conflict(
            "That settlement proposal has been replaced; confirm the newest one.",
            hint=f"`/accord disagree show {disagreement.ref}`",
        )
    confirmed = disagreement.settle_cio_by if side == Role.CIO else disagreement.settle_ciso_by
    if confirmed:
        raise Conflict(f"The {ROLE_LABELS[side]} has already confirmed this settlement.")
    before = disagreement.snapshot()
    if side == Role.CIO:
        disagreement.settle_cio_by = actor.user_id
    else:
        disagreement.settle_ciso_by = actor.user_id
    if disagreement.settle_cio_by and disagreement.settle_ciso_by:
        disagreement.state = DisagreementState.SETTLED
        disagreement.outcome = disagreement.settle_text
    _change(
        session,
        disagreement,
        before,
        actor_id=actor.user_id,
        action="disagreement.settlement_confirmed",
        now=now,
    )
    return disagreement


def withdraw(
    session: Session, *, actor: Actor, number: int, reason: str, now: datetime
) -> Disagreement:
    """Withdraw an open or escalated disagreement (use `escalations.withdraw_disagreement`,
    which also withdraws its escalation)."""
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    text = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    disagreement = get_disagreement(session, number=number, lock=True)
    if not disagreement.is_active:
        raise Conflict(
            f"{disagreement.ref} is {disagreement.state.value}; only an open or escalated "
            "disagreement can be withdrawn.",
        )
    if actor.user_id != disagreement.raised_by and not actor.on_side(disagreement.raised_side):
        raise Conflict(f"Only the {ROLE_LABELS[disagreement.raised_side]} can withdraw it.")
    before = disagreement.snapshot()
    disagreement.state = DisagreementState.WITHDRAWN
    disagreement.outcome = f"Withdrawn: {text}"
    _change(
        session,
        disagreement,
        before,
        actor_id=actor.user_id,
        action="disagreement.withdrawn",
        now=now,
        note=text,
    )
    return disagreement


def mark_escalated(
    session: Session,
    disagreement: Disagreement,
    *,
    actor_id: str,
    now: datetime,
    escalation_ref: str,
) -> None:
    before = disagreement.snapshot()
    disagreement.state = DisagreementState.ESCALATED
    _change(
        session,
        disagreement,
        before,
        actor_id=actor_id,
        action="disagreement.escalated",
        now=now,
        note=escalation_ref,
    )


def mark_decided(
    session: Session,
    disagreement: Disagreement,
    *,
    actor_id: str,
    now: datetime,
    outcome: str,
    escalation_ref: str,
) -> None:
    before = disagreement.snapshot()
    disagreement.state = DisagreementState.DECIDED
    disagreement.outcome = outcome[:OUTCOME_MAX]
    _change(
        session,
        disagreement,
        before,
        actor_id=actor_id,
        action="disagreement.decided",
        now=now,
        note=escalation_ref,
    )


# --- time box ------------------------------------------------------------------------------


def touchpoints_held(session: Session, *, since: datetime, now: datetime) -> int:
    """How many touchpoint meetings were held (their agenda posted) in (since, now]."""
    return int(
        session.exec(
            select(func.count())
            .select_from(TouchpointOccurrence)
            .where(
                col(TouchpointOccurrence.status).in_(
                    [OccurrenceStatus.POSTED, OccurrenceStatus.POSTED_LATE]
                ),
                col(TouchpointOccurrence.starts_at) > since,
                col(TouchpointOccurrence.starts_at) <= now,
            )
        ).one()
    )


def _past_timebox(
    session: Session, d: Disagreement, *, now: datetime, days: int, touchpoints: int
) -> bool:
    if _aware(d.timebox_from) <= _aware(now) - timedelta(days=days):
        return True
    if touchpoints <= 0:
        return False
    return touchpoints_held(session, since=d.timebox_from, now=now) >= touchpoints


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def claim_timebox_proposals(
    session: Session, *, now: datetime, timebox_days: int, timebox_touchpoints: int = 0
) -> list[Disagreement]:
    """Open disagreements past their time box — `timebox_days` days, or (when set)
    `timebox_touchpoints` touchpoints held since it started — not yet proposed for escalation.

    Each is claimed with a guarded UPDATE, so a second clock cannot propose it twice.
    """
    candidates = session.exec(
        select(Disagreement).where(
            Disagreement.state == DisagreementState.OPEN,
            col(Disagreement.timebox_proposed_at).is_(None),
        )
    ).all()
    due = [
        d
        for d in candidates
        if _past_timebox(session, d, now=now, days=timebox_days, touchpoints=timebox_touchpoints)
    ]
    claimed = []
    for disagreement in due:
        result = session.execute(
            update(Disagreement)
            .where(
                col(Disagreement.id) == disagreement.id,
                col(Disagreement.timebox_proposed_at).is_(None),
            )
            .values(timebox_proposed_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(disagreement)
            record_event(
                session,
                at=now,
                actor_id="accord",
                record_ref=disagreement.ref,
                action="disagreement.timebox_proposed",
                note="past its time box; proposed for escalation",
            )
            claimed.append(disagreement)
    return claimed


def due_for_auto_escalation(
    session: Session, *, now: datetime, grace_days: int
) -> list[Disagreement]:
    limit = now - timedelta(days=grace_days)
    return list(
        session.exec(
            select(Disagreement).where(
                Disagreement.state == DisagreementState.OPEN,
                col(Disagreement.timebox_proposed_at).is_not(None),
                col(Disagreement.timebox_proposed_at) <= limit,
            )
        ).all()
    )


def snooze(
    session: Session, *, actor: Actor, number: int, reason: str, now: datetime
) -> Disagreement:
    """A side postpones the automatic escalation: the time box starts again from now."""
    ensure_allowed(actor, Permission.DISAGREEMENT_RAISE)
    text = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    disagreement = get_disagreement(session, number=number, lock=True)
    if disagreement.state != DisagreementState.OPEN:
        raise Conflict(f"{disagreement.ref} is {disagreement.state.value}; nothing to snooze.")
    before = disagreement.snapshot()
    disagreement.timebox_from = now
    disagreement.timebox_proposed_at = None
    disagreement.snooze_reason = text
    _change(
        session,
        disagreement,
        before,
        actor_id=actor.user_id,
        action="disagreement.snoozed",
        now=now,
        note=text,
    )
    return disagreement


# --- read API for other features -----------------------------------------------------------


def awaiting_position(
    session: Session, *, sides: Iterable[Role], limit: int
) -> tuple[list[Disagreement], int]:
    """Active disagreements where one of `sides` has yet to state a position (App Home "Needs
    you"), oldest first: the first `limit` and how many there are, in two statements."""
    blank = [func.trim(col(_POSITION_COLUMNS[side])) == "" for side in sorted(sides)]
    if not blank:
        return [], 0
    clause = col(Disagreement.state).in_(list(ACTIVE_STATES)) & or_(*blank)
    total = session.exec(select(func.count()).select_from(Disagreement).where(clause)).one()
    if not total:
        return [], 0
    rows = session.exec(
        select(Disagreement).where(clause).order_by(col(Disagreement.id)).limit(limit)
    ).all()
    return list(rows), total


_POSITION_COLUMNS = {Role.CIO: Disagreement.cio_position, Role.CISO: Disagreement.ciso_position}


def list_open_disagreements(session: Session) -> list[Disagreement]:
    """Open and escalated disagreements, oldest first (agendas, digests)."""
    return list(
        session.exec(
            select(Disagreement)
            .where(col(Disagreement.state).in_(list(ACTIVE_STATES)))
            .order_by(col(Disagreement.id))
        ).all()
    )


def _list_query(include_closed: bool) -> Any:
    query = select(Disagreement)
    if not include_closed:
        query = query.where(col(Disagreement.state).in_(list(ACTIVE_STATES)))
    return query


def list_disagreements(
    session: Session, *, include_closed: bool, page: int = 1, page_size: int = LIST_PAGE_SIZE
) -> Page[Disagreement]:
    """One page of disagreements, newest first, with the total count."""
    total = int(
        session.exec(select(func.count()).select_from(_list_query(include_closed).subquery())).one()
    )
    page = clamp_page(page, total=total, page_size=page_size)
    rows = session.exec(
        _list_query(include_closed)
        .order_by(col(Disagreement.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(items=list(rows), total=total, page=page, page_size=page_size)
