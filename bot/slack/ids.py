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
    DISAGREEMENT_SHOW = "disagreement.show"
    DISAGREEMENT_POSITION = "disagreement.position"
    DISAGREEMENT_SETTLE = "disagreement.settle"
    DISAGREEMENT_ESCALATE = "disagreement.escalate"
    DISAGREEMENT_SNOOZE = "disagreement.snooze"
    #: One button per option; the option's index is appended (`escalation.option.2`).
    ESCALATION_OPTION = "escalation.option"
    ESCALATION_MORE_INFO = "escalation.more_info"
    ESCALATION_DEFER = "escalation.defer"


class CallbackId(StrEnum):
    INITIATIVE_CREATE = "initiative.create"
    INITIATIVE_HOLD = "initiative.hold"
    INITIATIVE_RELEASE = "initiative.release"
    INITIATIVE_EDIT = "initiative.edit"
    DISAGREEMENT_POSITION = "disagreement.position"
    DISAGREEMENT_SNOOZE = "disagreement.snooze"
    ESCALATION_DECIDE = "escalation.decide"
    ESCALATION_MORE_INFO = "escalation.more_info"
    ESCALATION_DEFER = "escalation.defer"


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
    POSITION = "position"
    RATIONALE = "rationale"
    RELEASE_HOLD = "release_hold"
    DEFER_TO = "date"
