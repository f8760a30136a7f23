"""Imports every domain table so SQLModel's metadata sees it (`bot.schema` adds the rest)."""

from bot.domain.attack.models import AttackRelease
from bot.domain.audit import AuditChainHead, AuditEvent
from bot.domain.digest import DigestRun
from bot.domain.disagreements import Disagreement
from bot.domain.escalations import Escalation
from bot.domain.gate.models import GateCheck, GateToken, GithubReview
from bot.domain.gate.overrides import GateOverride
from bot.domain.idempotency import ProcessedRequest
from bot.domain.initiatives import Initiative, InitiativeCoverage, InitiativeTag
from bot.domain.outbox import OutboxMessage
from bot.domain.risks import RiskAcceptance, RiskApproval, RiskReminder, RiskRound
from bot.domain.roles import RoleGrant
from bot.domain.threats.models import KevEntry, ThreatBrief
from bot.domain.touchpoints import (
    TouchpointAction,
    TouchpointDecision,
    TouchpointOccurrence,
    TouchpointSeries,
    TouchpointTopic,
)

__all__ = [
    "AttackRelease",
    "AuditChainHead",
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
    "KevEntry",
    "OutboxMessage",
    "ProcessedRequest",
    "RiskAcceptance",
    "RiskApproval",
    "RiskReminder",
    "RiskRound",
    "RoleGrant",
    "ThreatBrief",
    "TouchpointAction",
    "TouchpointDecision",
    "TouchpointOccurrence",
    "TouchpointSeries",
    "TouchpointTopic",
]
