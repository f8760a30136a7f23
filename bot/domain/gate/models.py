"""The gate's tables: API tokens (hash only), deployment checks, and GitHub reviews to send."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from bot.domain.columns import enum_column
from bot.domain.gate.coverage import ENVIRONMENT_MAX, SERVICE_MAX

TOKEN_NAME_MAX = 40
VERSION_MAX = 200
URL_MAX = 2000
COMMENT_MAX = 1024
#: GitHub environment names may be longer than what initiatives can cover (and hold spaces);
#: such an environment is matched by `*` covers only.
GITHUB_ENVIRONMENT_MAX = 255


class GateToken(SQLModel, table=True):
    """A pipeline's credential for the gate API. Only the SHA-256 of the secret is kept."""

    __tablename__ = "gate_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=TOKEN_NAME_MAX, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=32)
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=32)
    revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CheckSource(StrEnum):
    API = "api"
    GITHUB = "github"


class GateCheck(SQLModel, table=True):
    """One deployment attempt the gate answered, allowed or not."""

    __tablename__ = "gate_check"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    source: CheckSource = Field(sa_column=enum_column(CheckSource))
    caller: str = Field(max_length=64)  # the token's name, or the GitHub repository
    service: str = Field(max_length=SERVICE_MAX, index=True)
    environment: str = Field(max_length=ENVIRONMENT_MAX)
    version: str | None = Field(default=None, max_length=VERSION_MAX)
    pipeline_url: str | None = Field(default=None, max_length=URL_MAX)
    allowed: bool
    held_by: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))

    @property
    def ref(self) -> str:
        return f"GATE-{self.id}"


class ReviewState(StrEnum):
    WAITING = "waiting"  # held, in "wait" mode: approve when the hold is released
    PENDING = "pending"  # decided, to be sent to GitHub (again, after a failure)
    SENT = "sent"
    FAILED = "failed"  # gave up (GitHub refused it, or it kept failing)


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class GithubReview(SQLModel, table=True):
    """A `deployment_protection_rule` answer owed to GitHub, kept until GitHub has it.

    One row per run and environment (`review_key`), so a redelivered webhook adds nothing.
    """

    __tablename__ = "github_review"

    id: int | None = Field(default=None, primary_key=True)
    review_key: str = Field(max_length=64, unique=True)
    repository: str = Field(max_length=SERVICE_MAX)
    environment: str = Field(max_length=GITHUB_ENVIRONMENT_MAX)  # as GitHub names it
    callback_url: str = Field(max_length=URL_MAX)
    installation_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    check_id: int | None = Field(default=None, foreign_key="gate_check.id")
    state: ReviewState = Field(sa_column=enum_column(ReviewState, index=True))
    decision: ReviewDecision | None = Field(
        default=None, sa_column=enum_column(ReviewDecision, nullable=True)
    )
    comment: str = Field(default="", max_length=COMMENT_MAX)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, index=True)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime
    sent_at: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """The body GitHub's callback expects."""
        assert self.decision is not None, "only a decided review is sent"
        return {
            "environment_name": self.environment,
            "state": self.decision.value,
            "comment": self.comment,
        }
