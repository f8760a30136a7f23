"""Risk acceptance tables, enums, limits and the score bands."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from bot.domain.attack.catalogue import Technique, shipped
from bot.domain.columns import enum_column
from bot.domain.initiatives import Initiative
from bot.domain.refs import Kind, format_ref
from bot.domain.roles import Role

TITLE_MAX = 150

DESCRIPTION_MAX = 2000

ASSET_MAX = 200

CONTROLS_MAX = 2000

REASON_MAX = 500

MAX_TECHNIQUES = 20

# The format of an ATT&CK technique id; the service then checks the id against the catalogue
# (bot.domain.attack): unknown, revoked and deprecated ids are refused.
TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")


def technique_details(
    techniques: Sequence[str], technique_info: Sequence[dict[str, Any]] | None
) -> list[Technique]:
    """A record's techniques with the names and tactics kept when they were checked."""
    known = {row["id"]: Technique.from_json(row) for row in technique_info or ()}
    return [known.get(t) or shipped().describe(t) for t in techniques]


def tactics_of(techniques: Sequence[Technique]) -> list[str]:
    found: list[str] = []
    for technique in techniques:
        found.extend(t for t in technique.tactics if t not in found)
    return found


class Treatment(StrEnum):
    """The treatment plan: accepting is one of four ways to handle a risk."""

    ACCEPT = "accept"
    MITIGATE = "mitigate"
    TRANSFER = "transfer"
    AVOID = "avoid"


MAX_EVIDENCE = 5
EVIDENCE_MAX = 300


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
    #: Every role the approver held at that moment (their side may change later).
    held_roles: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    #: The run-time grant that gave the approver `side`, if it came from one.
    via_grant: str | None = Field(default=None, max_length=400)


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
    #: Name and tactics of each technique as the catalogue had them when the ids were checked.
    technique_info: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    requested_by: str = Field(max_length=32, index=True)
    #: Who answers for the risk itself (the requester asks for the acceptance).
    owner_id: str | None = Field(default=None, max_length=32, index=True)
    treatment: Treatment = Field(
        default=Treatment.ACCEPT,
        sa_column=enum_column(Treatment),
    )
    treatment_due: date | None = None
    #: Likelihood × impact after the compensating controls; the band follows it when given.
    residual_likelihood: int | None = None
    residual_impact: int | None = None
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    #: The initiative whose completion would retire the risk ("accepted because unfunded").
    retired_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("initiative.id", ondelete="SET NULL"), nullable=True),
    )
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

    retired_by: Initiative | None = Relationship(
        sa_relationship_kwargs={
            "lazy": "selectin",
            "foreign_keys": "[RiskAcceptance.retired_by_id]",
            "viewonly": True,
        }
    )

    @property
    def inherent_score(self) -> int:
        return self.likelihood * self.impact

    @property
    def residual_score(self) -> int | None:
        if self.residual_likelihood is None or self.residual_impact is None:
            return None
        return self.residual_likelihood * self.residual_impact

    @property
    def score(self) -> int:
        """The score that counts (band, expiry cap, exposure): residual when given."""
        residual = self.residual_score
        return self.inherent_score if residual is None else residual

    @property
    def owner(self) -> str:
        return self.owner_id or self.requested_by

    @property
    def retired_by_ref(self) -> str | None:
        return format_ref(Kind.INITIATIVE, self.retired_by_id) if self.retired_by_id else None

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

    @property
    def technique_details(self) -> list[Technique]:
        """The techniques to show, with names and tactics (records from before the catalogue
        are described from the shipped snapshot)."""
        return technique_details(self.techniques, self.technique_info)

    @property
    def tactics(self) -> list[str]:
        return tactics_of(self.technique_details)

    def round_row(self, number: int | None = None) -> RiskRound | None:
        wanted = self.round if number is None else number
        return next((r for r in self.rounds if r.round == wanted), None)

    def open_round(self) -> RiskRound | None:
        """The round waiting for decisions, if any (drafts and closed rounds have none)."""
        row = self.round_row()
        return row if row is not None and row.state == RoundState.OPEN else None

    @property
    def requesters(self) -> frozenset[str]:
        """Everyone who requested the record or any of its rounds: none of them approves it."""
        return frozenset({self.requested_by, *(r.requested_by for r in self.rounds)})

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
            "inherent_score": self.inherent_score,
            "residual_likelihood": self.residual_likelihood,
            "residual_impact": self.residual_impact,
            "residual_score": self.residual_score,
            "score": self.score,
            "band": self.band.value,
            "owner": self.owner,
            "treatment": self.treatment.value,
            "treatment_due": self.treatment_due.isoformat() if self.treatment_due else None,
            "evidence": list(self.evidence),
            "retired_by": self.retired_by_ref,
            "controls": self.controls,
            "techniques": list(self.techniques),
            "expires_on": self.expires_on.isoformat(),
            "review_days": self.review_days,
            "state": self.state.value,
            "round": self.round,
        }


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
    owner_id: str | None = None
    treatment: Treatment = Treatment.ACCEPT
    treatment_due: date | None = None
    residual: tuple[int, int] | None = None
    evidence: tuple[str, ...] = ()
    retired_by_id: int | None = None


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
    owner_id: str | None = None
    treatment: Treatment | None = None
    treatment_due: date | None = None
    residual: tuple[int, int] | None = None
    evidence: tuple[str, ...] | None = None
    retired_by_id: int | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())


@dataclass(frozen=True)
class DecisionResult:
    risk: RiskAcceptance
    approval: RiskApproval
    became_accepted: bool
    round: RiskRound

    @property
    def closed(self) -> bool:
        return self.round.state != RoundState.OPEN


SYSTEM_ACTOR = "accord"
