"""Action ids and modal callback ids: one enum, so listeners and renderers cannot drift apart."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    INITIATIVE_SHOW = "initiative.show"
    INITIATIVE_PAGE = "initiative.page"
    INITIATIVE_HOLD = "initiative.hold"
    INITIATIVE_RELEASE = "initiative.release"
    INITIATIVE_EDIT = "initiative.edit"
    INITIATIVE_AUDIT = "initiative.audit"
    RISK_APPROVE = "risk.approve"
    RISK_REJECT = "risk.reject"
    RISK_SHOW = "risk.show"
    RISK_SNOOZE = "risk.snooze"


class CallbackId(StrEnum):
    INITIATIVE_CREATE = "initiative.create"
    INITIATIVE_HOLD = "initiative.hold"
    INITIATIVE_RELEASE = "initiative.release"
    INITIATIVE_EDIT = "initiative.edit"
    RISK_CREATE = "risk.create"
    RISK_REJECT = "risk.reject"


class BlockId(StrEnum):
    TITLE = "title"
    DESCRIPTION = "description"
    CIO_OWNER = "cio_owner"
    CISO_OWNER = "ciso_owner"
    DUE = "due"
    TAGS = "tags"
    REASON = "reason"
    STATUS = "status"
    HEALTH = "health"
    ASSET = "asset"
    LIKELIHOOD = "likelihood"
    IMPACT = "impact"
    EXPIRES = "expires"
    CONTROLS = "controls"
    ATTACK = "attack"
    INITIATIVE = "initiative"
