"""Imports every table so SQLModel's metadata (and Alembic) sees the whole schema."""

from bot.domain.audit import AuditChainHead, AuditEvent
from bot.domain.digest import DigestRun
from bot.domain.disagreements import Disagreement
from bot.domain.escalations import Escalation
from bot.domain.idempotency import ProcessedRequest
from bot.domain.initiatives import Initiative, InitiativeTag
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
    "AuditChainHead",
    "AuditEvent",
    "DigestRun",
    "Disagreement",
    "Escalation",
    "Initiative",
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
