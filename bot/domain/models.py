"""Imports every table so SQLModel's metadata (and Alembic) sees the whole schema."""

from bot.domain.audit import AuditEvent
from bot.domain.digest import DigestRun
from bot.domain.disagreements import Disagreement
from bot.domain.escalations import Escalation
from bot.domain.gate.models import GateCheck, GateToken, GithubReview
from bot.domain.gate.overrides import GateOverride
from bot.domain.idempotency import ProcessedRequest
from bot.domain.initiatives import Initiative, InitiativeCoverage, InitiativeTag
from bot.domain.risks import RiskAcceptance, RiskApproval, RiskReminder, RiskRound
from bot.domain.roles import RoleGrant
from bot.domain.touchpoints import (
    TouchpointAction,
    TouchpointDecision,
    TouchpointOccurrence,
    TouchpointSeries,
    TouchpointTopic,
)
from bot.summarize.cache import SummaryCacheEntry

__all__ = [
    "AuditEvent",
    "DigestRun",
    "Disagreement",
    "Escalation",
    "GateCheck",
    "GateOverride",
    "GateToken",
    "GithubReview",
    "Initiative",
    "InitiativeCoverage",
    "InitiativeTag",
    "ProcessedRequest",
    "RiskAcceptance",
    "RiskApproval",
    "RiskReminder",
    "RiskRound",
    "RoleGrant",
    "SummaryCacheEntry",
    "TouchpointAction",
    "TouchpointDecision",
    "TouchpointOccurrence",
    "TouchpointSeries",
    "TouchpointTopic",
]
