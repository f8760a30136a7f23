"""Imports every table so SQLModel's metadata (and Alembic) sees the whole schema."""

from bot.domain.audit import AuditEvent
from bot.domain.disagreements import Disagreement
from bot.domain.escalations import Escalation
from bot.domain.idempotency import ProcessedRequest
from bot.domain.initiatives import Initiative, InitiativeTag
from bot.domain.risks import RiskAcceptance, RiskApproval, RiskReminder
from bot.domain.roles import RoleGrant
from bot.domain.touchpoints import (
    TouchpointAction,
    TouchpointDecision,
    TouchpointOccurrence,
    TouchpointSeries,
    TouchpointTopic,
)

__all__ = [
    "AuditEvent",
    "Disagreement",
    "Escalation",
    "Initiative",
    "InitiativeTag",
    "ProcessedRequest",
    "RiskAcceptance",
    "RiskApproval",
    "RiskReminder",
    "RoleGrant",
    "TouchpointAction",
    "TouchpointDecision",
    "TouchpointOccurrence",
    "TouchpointSeries",
    "TouchpointTopic",
]
