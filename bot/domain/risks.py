"""Risk acceptances: a register both sides sign, with expiry, review and an auditor's export.

Lifecycle: `draft` → `pending_approval` → `accepted` → `expired` | `revoked`, plus `rejected`
and `lapsed` (a request nobody approved before its expiry date passed).
`/accord risk new` creates a record straight in `pending_approval`; `draft` is the state of a
record that is still being written (no approvals are asked for yet).

Every approval *round* is a `RiskRound` row: who asked for it, what it proposes, its outcome and
where its approval request was posted (so the message can be updated when it is decided).

* A **renewal** never suspends the acceptance in force: the proposed expiry lives on the round,
  the record stays `accepted` with its approved expiry (and still expires and is warned about on
  time) until both sides approve the renewal; a rejected renewal closes only that round.
* A **material change** (score, controls, expiry, scope) is applied at once and suspends the
  acceptance (`pending_approval`) until both sides approve again: the record no longer says what
  was approved, so it must not count as accepted. A rejected change rejects the record.
* The requester of a *round* (not only of the record) cannot decide on it.

Separation of duties: a record becomes `accepted` only when, in the current approval *round*, one
person from the CIO side and one from the CISO side approved it, neither of them the requester.
The database enforces one decision per side per round (a unique key), so double or concurrent
clicks record one approval. Each decision freezes a snapshot of what was approved. A material
change (score, controls, expiry, scope) or a renewal opens a new round: both sides approve again,
and the earlier rounds stay in the history.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint, case, func, update
from sqlmodel import Field, Relationship, Session, SQLModel, col, select

from bot.config import Settings
from bot.domain.audit import changed_fields, record_event
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, UserError, person
from bot.domain.initiatives import Initiative
from bot.domain.paging import Page, clamp_page
from bot.domain.permissions import Permission, ensure_allowed, side_of
from bot.domain.refs import Kind, format_ref
from bot.domain.roles import ROLE_LABELS, Actor, Role
from bot.domain.validation import bounded_text

TITLE_MAX = 150
DESCRIPTION_MAX = 2000
ASSET_MAX = 200
CONTROLS_MAX = 2000
REASON_MAX = 500
MAX_TECHNIQUES = 20

# ATT&CK technique ids are checked for their format only: no well-kept Python package ships the
# ATT&CK data set offline (mitreattack-python downloads it), so unknown-but-well-formed ids pass.
TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")


class RiskState(StrEnum):
    DRAFT = "draft"
    PENDING = "pending_approval"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LAPSED = "lapsed"


#: The states `/accord risk list open` shows; agendas and digests count the same records.
OPEN_STATES = (RiskState.DRAFT, RiskState.PENDING, RiskState.ACCEPTED)


class Band(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# The one place the score bands are defined: the highest score of each band (score = L × I).
BAND_CEILINGS: tuple[tuple[int, Band], ...] = (
    (4, Band.LOW),
    (9, Band.MEDIUM),
    (15, Band.HIGH),
    (25, Band.CRITICAL),
)


def band_of(score: int) -> Band:
    for ceiling, band in BAND_CEILINGS:
        if score <= ceiling:
            return band
    return Band.CRITICAL


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class RiskFilter(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    MINE = "mine"
    ALL = "all"


@dataclass(frozen=True)
class RiskPolicy:
    """Limits from the settings: expiry cap and review cadence per band, reminder thresholds."""

    max_days: dict[Band, int]
    review_days: dict[Band, int]
    reminder_days: tuple[int, ...] = (30, 7, 1)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RiskPolicy":
        return cls(
            max_days={
                Band.LOW: settings.accord_risk_max_days_low,
                Band.MEDIUM: settings.accord_risk_max_days_medium,
                Band.HIGH: settings.accord_risk_max_days_high,
                Band.CRITICAL: settings.accord_risk_max_days_critical,
            },
            review_days={
                Band.LOW: settings.accord_risk_review_days_low,
                Band.MEDIUM: settings.accord_risk_review_days_medium,
                Band.HIGH: settings.accord_risk_review_days_high,
                Band.CRITICAL: settings.accord_risk_review_days_critical,
            },
            reminder_days=tuple(sorted(settings.risk_reminder_days(), reverse=True)),
        )


class RiskApproval(SQLModel, table=True):
    """One side's decision in one round; the snapshot is what that person approved."""

    __tablename__ = "risk_approval"
    __table_args__ = (UniqueConstraint("risk_id", "round", "side", name="uq_risk_approval_side"),)

    id: int | None = Field(default=None, primary_key=True)
    risk_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("risk_acceptance.id", ondelete="CASCADE"), nullable=False
        )
    )
    round: int
    side: Role = Field(sa_column=enum_column(Role))
    approver_id: str = Field(max_length=32)
    decision: Decision = Field(sa_column=enum_column(Decision))
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    at: datetime
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class RoundKind(StrEnum):
    REQUEST = "request"
    CHANGE = "change"
    RENEWAL = "renewal"


class RoundState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    LAPSED = "lapsed"
    CLOSED = "closed"


class RiskRound(SQLModel, table=True):
    """One approval round: who asked, what it proposes, how it ended, where it was posted."""

    __tablename__ = "risk_round"
    __table_args__ = (UniqueConstraint("risk_id", "round", name="uq_risk_round"),)

    id: int | None = Field(default=None, primary_key=True)
    risk_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("risk_acceptance.id", ondelete="CASCADE"), nullable=False
        )
    )
    round: int
    kind: RoundKind = Field(sa_column=enum_column(RoundKind))
    requested_by: str = Field(max_length=32)
    requested_at: datetime
    #: Values that take effect only when both sides approve (a renewal's expiry).
    proposed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: RoundState = Field(default=RoundState.OPEN, sa_column=enum_column(RoundState))
    closed_at: datetime | None = None
    #: Where the approval request was posted: [{"channel": …, "ts": …}, …].
    messages: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON))

    @property
    def proposed_expiry(self) -> date | None:
        value = self.proposed.get("expires_on")
        return date.fromisoformat(value) if value else None


class RiskReminder(SQLModel, table=True):
    """A reminder that was sent (or claimed): the unique key makes every send happen once."""

    __tablename__ = "risk_reminder"
    __table_args__ = (UniqueConstraint("risk_id", "kind", "key", name="uq_risk_reminder"),)

    id: int | None = Field(default=None, primary_key=True)
    risk_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("risk_acceptance.id", ondelete="CASCADE"), nullable=False
        )
    )
    kind: str = Field(max_length=16)
    key: str = Field(max_length=64)
    sent_at: datetime


class RiskAcceptance(SQLModel, table=True):
    __tablename__ = "risk_acceptance"
    # Public ids (INI-7, RSK-3, …) are never reused on SQLite, even after a rollback.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    initiative_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("initiative.id", ondelete="SET NULL"), nullable=True),
    )
    asset: str = Field(default="", max_length=ASSET_MAX)
    likelihood: int
    impact: int
    controls: str = Field(default="", max_length=CONTROLS_MAX)
    techniques: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    requested_by: str = Field(max_length=32, index=True)
    expires_on: date = Field(index=True)
    review_days: int
    next_review_on: date
    state: RiskState = Field(
        default=RiskState.PENDING, sa_column=enum_column(RiskState, index=True)
    )
    round: int = 1
    closed_reason: str | None = Field(default=None, max_length=REASON_MAX)
    snoozed_until: date | None = None
    created_at: datetime
    updated_by: str = Field(max_length=32)
    updated_at: datetime

    approvals: list[RiskApproval] = Relationship(
        sa_relationship_kwargs={
            "cascade": "all, delete-orphan",
            "lazy": "selectin",
            "order_by": "RiskApproval.id",
        }
    )
    rounds: list[RiskRound] = Relationship(
        sa_relationship_kwargs={
            "cascade": "all, delete-orphan",
            "lazy": "selectin",
            "order_by": "RiskRound.round",
        }
    )

    @property
    def ref(self) -> str:
        assert self.id is not None, "a risk acceptance gets its id when it is flushed"
        return format_ref(Kind.RISK, self.id)

    @property
    def score(self) -> int:
        return self.likelihood * self.impact

    @property
    def band(self) -> Band:
        return band_of(self.score)

    @property
    def initiative_ref(self) -> str | None:
        return format_ref(Kind.INITIATIVE, self.initiative_id) if self.initiative_id else None

    @property
    def steward_ids(self) -> frozenset[str]:
        """Who answers for the record (see permissions): its requester."""
        return frozenset({self.requested_by})

    def round_row(self, number: int | None = None) -> RiskRound | None:
        wanted = self.round if number is None else number
        return next((r for r in self.rounds if r.round == wanted), None)

    def open_round(self) -> RiskRound | None:
        """The round waiting for decisions, if any (drafts and closed rounds have none)."""
        row = self.round_row()
        return row if row is not None and row.state == RoundState.OPEN else None

    @property
    def round_requester(self) -> str:
        row = self.round_row()
        return row.requested_by if row is not None else self.requested_by

    def decision_expiry(self) -> date:
        """The expiry the open round asks approvers to sign (a renewal's proposed date)."""
        row = self.open_round()
        proposed = row.proposed_expiry if row is not None else None
        return proposed or self.expires_on

    def round_decisions(self) -> dict[Role, RiskApproval]:
        return {Role(a.side): a for a in self.approvals if a.round == self.round}

    def days_left(self, today: date) -> int:
        return (self.expires_on - today).days

    def snapshot(self) -> dict[str, Any]:
        """The fields as approved (and as the audit trail records them)."""
        return {
            "title": self.title,
            "description": self.description,
            "initiative": self.initiative_ref,
            "asset": self.asset,
            "likelihood": self.likelihood,
            "impact": self.impact,
            "score": self.score,
            "band": self.band.value,
            "controls": self.controls,
            "techniques": list(self.techniques),
            "expires_on": self.expires_on.isoformat(),
            "review_days": self.review_days,
            "state": self.state.value,
            "round": self.round,
        }


def band_expression() -> Any:
    """The band as SQL: a CASE over likelihood × impact built from `BAND_CEILINGS`, so a
    GROUP BY agrees with `band_of` (score and band are Python properties, not columns)."""
    score = col(RiskAcceptance.likelihood) * col(RiskAcceptance.impact)
    return case(
        *((score <= ceiling, band.value) for ceiling, band in BAND_CEILINGS),
        else_=Band.CRITICAL.value,
    )


# Changing any of these after an approval sends the record back to both sides.
MATERIAL_FIELDS = (
    "likelihood",
    "impact",
    "controls",
    "expires_on",
    "asset",
    "initiative",
    "techniques",
)


@dataclass(frozen=True)
class RiskDraft:
    title: str
    likelihood: int
    impact: int
    expires_on: date
    description: str = ""
    asset: str = ""
    controls: str = ""
    initiative_id: int | None = None
    techniques: tuple[str, ...] = ()
    review_days: int | None = None


@dataclass(frozen=True)
class RiskChanges:
    """A partial update; `None` leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    asset: str | None = None
    controls: str | None = None
    likelihood: int | None = None
    impact: int | None = None
    expires_on: date | None = None
    initiative_id: int | None = None
    techniques: tuple[str, ...] | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())


# -- validation ------------------------------------------------------------------------------


def parse_rating(text: str, *, field: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= 5:
        raise InvalidInput(
            f"`{value[:20]}` is not a valid {field}: it is a whole number from 1 to 5.",
            hint=f"e.g. `{field}:3` (1 = rare/minor … 5 = almost certain/severe).",
            field=field,
        )
    return int(value)


def _rating(value: int, *, field: str) -> int:
    return parse_rating(str(value), field=field)


def parse_techniques(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    found: list[str] = []
    for item in items:
        technique = item.strip().upper()
        if not technique:
            continue
        if not TECHNIQUE_ID.match(technique):
            raise InvalidInput(
                f"`{item.strip()[:30]}` is not an ATT&CK technique id.",
                hint="Technique ids look like `T1078` or `T1078.004`, separated by commas.",
                field="attack",
            )
        if technique not in found:
            found.append(technique)
    if len(found) > MAX_TECHNIQUES:
        raise InvalidInput(f"At most {MAX_TECHNIQUES} technique ids.", field="attack")
    return tuple(found)


def _expiry(value: date, *, band: Band, today: date, policy: RiskPolicy) -> date:
    if value <= today:
        raise InvalidInput(
            f"The expiry date {value.isoformat()} is not in the future.",
            hint="An acceptance must end after today, e.g. `expires:"
            f"{(today + timedelta(days=30)).isoformat()}`.",
            field="expires",
        )
    limit = policy.max_days[band]
    if (value - today).days > limit:
        latest = today + timedelta(days=limit)
        raise InvalidInput(
            f"A {band.value} risk can be accepted for at most {limit} days, "
            f"so the expiry can be {latest.isoformat()} at the latest.",
            hint=f"Use `expires:{latest.isoformat()}` or earlier; renew it when it runs out.",
            field="expires",
        )
    return value


def _initiative(session: Session, number: int | None) -> int | None:
    if number is None:
        return None
    if session.get(Initiative, number) is None:
        raise NotFound(
            f"There is no {format_ref(Kind.INITIATIVE, number)} to link.",
            hint="`/accord initiative list all` shows every initiative.",
        )
    return number


# -- services --------------------------------------------------------------------------------


def get_risk(session: Session, *, number: int) -> RiskAcceptance:
    risk = session.get(RiskAcceptance, number)
    if risk is None:
        raise NotFound(
            f"There is no {format_ref(Kind.RISK, number)}.",
            hint="`/accord risk list all` shows every risk acceptance.",
        )
    return risk


def create_risk(
    session: Session,
    *,
    actor: Actor,
    draft: RiskDraft,
    now: datetime,
    policy: RiskPolicy,
    submit: bool = True,
) -> RiskAcceptance:
    """Create a record; with `submit` it goes straight to `pending_approval`."""
    ensure_allowed(actor, Permission.RISK_REQUEST)
    today = now.date()
    likelihood = _rating(draft.likelihood, field="likelihood")
    impact = _rating(draft.impact, field="impact")
    band = band_of(likelihood * impact)
    expires = _expiry(draft.expires_on, band=band, today=today, policy=policy)
    review_days = draft.review_days or policy.review_days[band]
    risk = RiskAcceptance(
        title=bounded_text(draft.title, field="title", max_length=TITLE_MAX, required=True),
        description=bounded_text(
            draft.description, field="description", max_length=DESCRIPTION_MAX
        ),
        asset=bounded_text(draft.asset, field="asset", max_length=ASSET_MAX),
        controls=bounded_text(draft.controls, field="controls", max_length=CONTROLS_MAX),
        initiative_id=_initiative(session, draft.initiative_id),
        likelihood=likelihood,
        impact=impact,
        techniques=list(parse_techniques(draft.techniques)),
        requested_by=actor.user_id,
        expires_on=expires,
        review_days=review_days,
        next_review_on=min(today + timedelta(days=review_days), expires),
        state=RiskState.PENDING if submit else RiskState.DRAFT,
        created_at=now,
        updated_by=actor.user_id,
        updated_at=now,
    )
    session.add(risk)
    session.flush()
    if submit:
        _start_round(session, risk, kind=RoundKind.REQUEST, actor=actor, now=now)
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.requested" if submit else "risk.drafted",
        after=risk.snapshot(),
    )
    return risk


def _start_round(
    session: Session,
    risk: RiskAcceptance,
    *,
    kind: RoundKind,
    actor: Actor,
    now: datetime,
    proposed: dict[str, Any] | None = None,
) -> RiskRound:
    """Open a new approval round requested by `actor`; an open earlier round is superseded."""
    previous = risk.round_row()
    if previous is not None:
        if previous.state == RoundState.OPEN:
            previous.state = RoundState.SUPERSEDED
            previous.closed_at = now
        risk.round += 1
    row = RiskRound(
        risk_id=risk.id,  # type: ignore[arg-type]
        round=risk.round,
        kind=kind,
        requested_by=actor.user_id,
        requested_at=now,
        proposed=dict(proposed or {}),
    )
    risk.rounds.append(row)
    session.flush()
    return row


def submit_risk(session: Session, *, actor: Actor, number: int, now: datetime) -> RiskAcceptance:
    risk = get_risk(session, number=number)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state != RiskState.DRAFT:
        raise Conflict(f"{risk.ref} is {risk.state.value}, not a draft.")
    _start_round(session, risk, kind=RoundKind.REQUEST, actor=actor, now=now)
    _transition(session, risk, RiskState.PENDING, actor=actor, now=now, action="risk.submitted")
    return risk


def _transition(
    session: Session,
    risk: RiskAcceptance,
    state: RiskState,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    note: str | None = None,
) -> None:
    before = risk.snapshot()
    risk.state = state
    risk.updated_by = actor.user_id
    risk.updated_at = now
    old, new = changed_fields(before, risk.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action=action,
        before=old,
        after=new,
        note=note,
    )


@dataclass(frozen=True)
class DecisionResult:
    risk: RiskAcceptance
    approval: RiskApproval
    became_accepted: bool
    round: RiskRound

    @property
    def closed(self) -> bool:
        return self.round.state != RoundState.OPEN


def approver_side(actor: Actor) -> Role:
    """The side an approver signs for; someone on both sides or on neither cannot sign."""
    ensure_allowed(actor, Permission.RISK_APPROVE)
    side = side_of(actor)
    if side is None:
        raise Forbidden(
            "You are configured on both the CIO and the CISO side, so you cannot approve for "
            "either: separation of duties needs one person per side.",
            hint="An Accord admin can adjust the roles (`/accord whoami` shows yours).",
        )
    return side


def decide(
    session: Session,
    *,
    actor: Actor,
    number: int,
    decision: Decision,
    now: datetime,
    reason: str | None = None,
) -> DecisionResult:
    """Record one side's approval or rejection in the current round."""
    side = approver_side(actor)
    risk = get_risk(session, number=number)
    row = ensure_decidable(risk, actor, side=side, today=now.date())
    clean_reason = None
    if decision == Decision.REJECTED:
        clean_reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    elif reason:
        clean_reason = bounded_text(reason, field="reason", max_length=REASON_MAX)
    approval = RiskApproval(
        risk_id=risk.id,  # type: ignore[arg-type]
        round=risk.round,
        side=side,
        approver_id=actor.user_id,
        decision=decision,
        reason=clean_reason,
        at=now,
        snapshot=_decision_snapshot(risk, row),
    )
    session.add(approval)
    session.flush()  # a concurrent click on the same side fails here on the unique key
    session.refresh(risk, attribute_names=["approvals"])
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action=f"risk.{decision.value}",
        after={"side": side.value, "round": risk.round},
        note=clean_reason,
    )
    became_accepted = False
    if decision == Decision.REJECTED:
        row.state, row.closed_at = RoundState.REJECTED, now
        if row.kind == RoundKind.RENEWAL:
            _restore_state(risk, row)
            # Only the renewal is refused; the acceptance in force (if any) stays as it was.
            record_event(
                session,
                at=now,
                actor_id=actor.user_id,
                record_ref=risk.ref,
                action="risk.renewal_rejected",
                after={"round": row.round, "proposed": dict(row.proposed)},
                note=clean_reason,
            )
        else:
            risk.closed_reason = clean_reason
            _transition(
                session, risk, RiskState.REJECTED, actor=actor, now=now, action="risk.closed"
            )
    elif all(
        d.decision == Decision.APPROVED and d.approver_id != row.requested_by
        for d in risk.round_decisions().values()
    ) and set(risk.round_decisions()) == {Role.CIO, Role.CISO}:
        row.state, row.closed_at = RoundState.APPROVED, now
        changes: dict[str, Any] = {"state": RiskState.ACCEPTED}
        expiry = row.proposed_expiry
        if expiry is not None:
            changes.update(
                expires_on=expiry,
                snoozed_until=None,
                next_review_on=min(now.date() + timedelta(days=risk.review_days), expiry),
            )
        action = "risk.renewed" if row.kind == RoundKind.RENEWAL else "risk.accepted"
        _apply(session, risk, changes, actor=actor, now=now, action=action)
        became_accepted = True
    return DecisionResult(risk=risk, approval=approval, became_accepted=became_accepted, round=row)


def ensure_decidable(risk: RiskAcceptance, actor: Actor, *, side: Role, today: date) -> RiskRound:
    """The open round `actor` may decide on for `side`, or the reason they may not."""
    existing = risk.round_decisions().get(side)
    if existing is not None:
        raise Conflict(_already(risk, existing))
    row = risk.open_round()
    if row is None or risk.state == RiskState.DRAFT:
        raise Conflict(
            f"{risk.ref} is {risk.state.value.replace('_', ' ')} and has no approval round "
            "open; there is nothing to decide.",
            hint=f"`/accord risk show {risk.ref}` shows its history.",
        )
    if actor.user_id == row.requested_by:
        what = risk.ref if row.kind == RoundKind.REQUEST else f"round {row.round} of {risk.ref}"
        raise Forbidden(
            f"You requested {what}, so you cannot approve or reject it.",
            hint="Separation of duties: another member of your side decides for it.",
        )
    expiry = risk.decision_expiry()
    if expiry <= today:
        raise Conflict(
            f"The expiry date {expiry.isoformat()} of this request for {risk.ref} has passed, so "
            "it can no longer be approved.",
            hint=f"Ask for a new date: `/accord risk renew {risk.ref} expires:YYYY-MM-DD`.",
        )
    return row


def _restore_state(risk: RiskAcceptance, row: RiskRound) -> None:
    """A renewal of a record that was not in force ends: back to the state it had."""
    before = row.proposed.get("state_before")
    if before and risk.state == RiskState.PENDING:
        risk.state = RiskState(before)


def _decision_snapshot(risk: RiskAcceptance, row: RiskRound) -> dict[str, Any]:
    """What the approver signs: the record with the round's proposed values."""
    snapshot = risk.snapshot()
    expiry = row.proposed_expiry
    if expiry is not None:
        snapshot["expires_on"] = expiry.isoformat()
    snapshot["round_kind"] = row.kind.value
    snapshot["round_requested_by"] = row.requested_by
    return snapshot


def _apply(
    session: Session,
    risk: RiskAcceptance,
    changes: dict[str, Any],
    *,
    actor: Actor | str,
    now: datetime,
    action: str,
    note: str | None = None,
) -> None:
    actor_id = actor if isinstance(actor, str) else actor.user_id
    before = risk.snapshot()
    for key, value in changes.items():
        setattr(risk, key, value)
    risk.updated_by = actor_id
    risk.updated_at = now
    old, new = changed_fields(before, risk.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor_id,
        record_ref=risk.ref,
        action=action,
        before=old,
        after=new,
        note=note,
    )


def _already(risk: RiskAcceptance, existing: RiskApproval) -> str:
    side = ROLE_LABELS[Role(existing.side)]
    verb = "approved" if existing.decision == Decision.APPROVED else "rejected"
    return (
        f"{risk.ref} is already {verb} for the {side} (by {person(existing.approver_id)}) in this "
        "round; nothing changed."
    )


def already_decided_message(session: Session, *, number: int, actor: Actor) -> str | None:
    """After a lost race on the unique key: say who decided first."""
    risk = session.get(RiskAcceptance, number)
    side = side_of(actor)
    if risk is None or side is None:
        return None
    existing = risk.round_decisions().get(side)
    return _already(risk, existing) if existing else None


def revoke(
    session: Session, *, actor: Actor, number: int, reason: str, now: datetime
) -> RiskAcceptance:
    risk = get_risk(session, number=number)
    ensure_allowed(actor, Permission.RISK_REVOKE, record=risk)
    reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    if risk.state not in (RiskState.ACCEPTED, RiskState.PENDING, RiskState.DRAFT):
        raise Conflict(f"{risk.ref} is {risk.state.value}; only a live acceptance is revoked.")
    row = risk.open_round()
    if row is not None:
        row.state, row.closed_at = RoundState.CLOSED, now
    risk.closed_reason = reason
    _transition(
        session, risk, RiskState.REVOKED, actor=actor, now=now, action="risk.revoked", note=reason
    )
    return risk


def renew(
    session: Session,
    *,
    actor: Actor,
    number: int,
    expires_on: date,
    now: datetime,
    policy: RiskPolicy,
) -> RiskAcceptance:
    """Ask both sides to approve a new expiry in a new round.

    The acceptance in force is untouched (state, expiry, reminders) until the renewal is
    approved; earlier rounds stay in the history.
    """
    risk = get_risk(session, number=number)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state not in (RiskState.ACCEPTED, RiskState.EXPIRED, RiskState.LAPSED):
        raise Conflict(
            f"{risk.ref} is {risk.state.value.replace('_', ' ')}; only an accepted or expired "
            "acceptance can be renewed."
        )
    current = risk.open_round()
    if current is not None:
        raise Conflict(
            f"Round {current.round} of {risk.ref} is already waiting for approval.",
            hint=f"Wait for it, or have it rejected: `/accord risk reject {risk.ref} <reason>`.",
        )
    expires = _expiry(expires_on, band=risk.band, today=now.date(), policy=policy)
    if expires == risk.expires_on and risk.state == RiskState.ACCEPTED:
        raise Conflict(f"{risk.ref} already expires on {expires.isoformat()}; nothing to renew.")
    proposed: dict[str, Any] = {"expires_on": expires.isoformat()}
    if risk.state != RiskState.ACCEPTED:
        # Nothing is in force to keep: the record waits for approval again, and returns to
        # its previous state if the renewal is rejected or lapses.
        proposed["state_before"] = risk.state.value
    row = _start_round(
        session, risk, kind=RoundKind.RENEWAL, actor=actor, now=now, proposed=proposed
    )
    if risk.state != RiskState.ACCEPTED:
        risk.state = RiskState.PENDING
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.renewal_requested",
        before={"expires_on": risk.expires_on.isoformat()},
        after={"round": row.round, "proposed_expires_on": expires.isoformat()},
    )
    return risk


def update_risk(
    session: Session,
    *,
    actor: Actor,
    number: int,
    changes: RiskChanges,
    now: datetime,
    policy: RiskPolicy,
) -> tuple[RiskAcceptance, bool]:
    """Edit a record; a material change to an approved or pending record opens a new round.

    Returns the record and whether the approvals were reset.
    """
    if changes.is_empty():
        raise InvalidInput(
            "Nothing to change.",
            hint='e.g. `/accord risk update RSK-2 likelihood:2 controls:"WAF rule 91"`',
        )
    risk = get_risk(session, number=number)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state not in (RiskState.DRAFT, RiskState.PENDING, RiskState.ACCEPTED):
        raise Conflict(f"{risk.ref} is {risk.state.value}; it can no longer be changed.")
    before = risk.snapshot()
    if changes.title is not None:
        risk.title = bounded_text(changes.title, field="title", max_length=TITLE_MAX, required=True)
    if changes.description is not None:
        risk.description = bounded_text(
            changes.description, field="description", max_length=DESCRIPTION_MAX
        )
    if changes.asset is not None:
        risk.asset = bounded_text(changes.asset, field="asset", max_length=ASSET_MAX)
    if changes.controls is not None:
        risk.controls = bounded_text(changes.controls, field="controls", max_length=CONTROLS_MAX)
    if changes.likelihood is not None:
        risk.likelihood = _rating(changes.likelihood, field="likelihood")
    if changes.impact is not None:
        risk.impact = _rating(changes.impact, field="impact")
    if changes.initiative_id is not None:
        risk.initiative_id = _initiative(session, changes.initiative_id)
    if changes.techniques is not None:
        risk.techniques = list(parse_techniques(changes.techniques))
    if changes.expires_on is not None or changes.likelihood or changes.impact:
        # A higher band may shorten the longest allowed acceptance.
        risk.expires_on = _expiry(
            changes.expires_on or risk.expires_on, band=risk.band, today=now.date(), policy=policy
        )
    old, new = changed_fields(before, risk.snapshot())
    if not new:
        raise Conflict(f"{risk.ref} already has those values; nothing changed.")
    material = any(key in new for key in (*MATERIAL_FIELDS, "score"))
    reset = material and risk.state in (RiskState.PENDING, RiskState.ACCEPTED)
    if reset:
        # The record no longer says what was approved: it is suspended until both sides
        # approve the changed record in a new round requested by whoever changed it.
        _start_round(session, risk, kind=RoundKind.CHANGE, actor=actor, now=now)
        risk.state = RiskState.PENDING
    risk.updated_by = actor.user_id
    risk.updated_at = now
    old, new = changed_fields(before, risk.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.updated",
        before=old,
        after=new,
        note="material change: both sides must approve again" if reset else None,
    )
    return risk, reset


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


# -- scheduled work --------------------------------------------------------------------------

SYSTEM_ACTOR = "accord"


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
    risk = get_risk(session, number=number)
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


def snooze(
    session: Session, *, actor: Actor, number: int, days: int, now: datetime
) -> RiskAcceptance:
    risk = get_risk(session, number=number)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state != RiskState.ACCEPTED:
        raise Conflict(f"{risk.ref} is {risk.state.value}; there is no expiry reminder to snooze.")
    until = min(now.date() + timedelta(days=days), risk.expires_on - timedelta(days=1))
    if until <= now.date():
        raise Conflict(f"{risk.ref} expires too soon to snooze its reminder.")
    previous = risk.snoozed_until.isoformat() if risk.snoozed_until else None
    risk.snoozed_until = until
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.reminder_snoozed",
        before={"snoozed_until": previous},
        after={"snoozed_until": until.isoformat()},
    )
    return risk


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
    risk = get_risk(session, number=number)
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


def set_round_messages(
    session: Session, *, number: int, round_: int, messages: list[dict[str, str]]
) -> None:
    """Remember where a round's approval request was posted (for later chat.update)."""
    risk = get_risk(session, number=number)
    row = risk.round_row(round_)
    if row is not None:
        row.messages = [*row.messages, *messages]
