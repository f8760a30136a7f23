"""Imports every table so SQLModel's metadata (and Alembic) sees the whole schema."""

from bot.domain.audit import AuditEvent
from bot.domain.digest import DigestRun
from bot.domain.idempotency import ProcessedRequest
from bot.domain.initiatives import Initiative, InitiativeTag
from bot.domain.roles import RoleGrant
from bot.summarize.cache import SummaryCacheEntry

__all__ = [
    "AuditEvent",
    "DigestRun",
    "Initiative",
    "InitiativeTag",
    "ProcessedRequest",
    "RoleGrant",
    "SummaryCacheEntry",
]
