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
    TOUCHPOINT_ACTION = "touchpoint.action"
    TOUCHPOINT_DECISION = "touchpoint.decision"
    RISK_APPROVE = "risk.approve"
    RISK_REJECT = "risk.reject"
    RISK_SHOW = "risk.show"
    RISK_SNOOZE = "risk.snooze"


class CallbackId(StrEnum):
    INITIATIVE_CREATE = "initiative.create"
    INITIATIVE_HOLD = "initiative.hold"
    INITIATIVE_RELEASE = "initiative.release"
    INITIATIVE_EDIT = "initiative.edit"
    TOUCHPOINT_CREATE = "touchpoint.create"
    TOUCHPOINT_ACTION = "touchpoint.action"
    TOUCHPOINT_DECISION = "touchpoint.decision"
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
    TP_NAME = "tp_name"
    TP_PARTICIPANTS = "tp_participants"
    TP_CHANNEL = "tp_channel"
    TP_EVERY = "tp_every"
    TP_TIME = "tp_time"
    TP_TZ = "tp_tz"
    TP_FIRST = "tp_first"
    TP_TEXT = "tp_text"
    TP_OWNER = "tp_owner"
    TP_DUE = "tp_due"
    ASSET = "asset"
    LIKELIHOOD = "likelihood"
    IMPACT = "impact"
    EXPIRES = "expires"
    CONTROLS = "controls"
    ATTACK = "attack"
    INITIATIVE = "initiative"
