"""Action ids and modal callback ids: one enum, so listeners and renderers cannot drift apart."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal


class ActionId(StrEnum):
    INITIATIVE_SHOW = "initiative.show"
    INITIATIVE_PAGE = "initiative.page"
    INITIATIVE_HOLD = "initiative.hold"
    INITIATIVE_RELEASE = "initiative.release"
    INITIATIVE_EDIT = "initiative.edit"
    INITIATIVE_AUDIT = "initiative.audit"
    TOUCHPOINT_ACTION = "touchpoint.action"
    TOUCHPOINT_DECISION = "touchpoint.decision"
    TOUCHPOINT_PAGE = "touchpoint.page"
    RISK_APPROVE = "risk.approve"
    RISK_REJECT = "risk.reject"
    RISK_SHOW = "risk.show"
    RISK_SNOOZE = "risk.snooze"
    RISK_PAGE = "risk.page"
    DISAGREEMENT_SHOW = "disagreement.show"
    DISAGREEMENT_POSITION = "disagreement.position"
    DISAGREEMENT_SETTLE = "disagreement.settle"
    DISAGREEMENT_ESCALATE = "disagreement.escalate"
    DISAGREEMENT_SNOOZE = "disagreement.snooze"
    DISAGREEMENT_PAGE = "disagreement.page"
    #: One button per option; the option's index is appended (`escalation.option.2`).
    ESCALATION_OPTION = "escalation.option"
    ESCALATION_MORE_INFO = "escalation.more_info"
    ESCALATION_DEFER = "escalation.defer"
    ROLES_CONFIRM = "roles.confirm"


PAGE_ACTIONS = frozenset(
    {
        ActionId.INITIATIVE_PAGE,
        ActionId.TOUCHPOINT_PAGE,
        ActionId.RISK_PAGE,
        ActionId.DISAGREEMENT_PAGE,
    }
)


def page_button_id(base: str, direction: Literal["previous", "next"]) -> str:
    """Previous and Next sit in one actions block, where Slack refuses a repeated action id."""
    return f"{base}.{direction}"


def action_matcher(action_id: ActionId) -> str | re.Pattern[str]:
    """What a listener registers: paging ids match their Previous/Next buttons (and the bare
    id that buttons posted before the split still carry)."""
    if action_id in PAGE_ACTIONS:
        return re.compile(rf"^{re.escape(action_id.value)}(\.(previous|next))?$")
    return action_id.value


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
    DISAGREEMENT_POSITION = "disagreement.position"
    DISAGREEMENT_SNOOZE = "disagreement.snooze"
    ESCALATION_DECIDE = "escalation.decide"
    ESCALATION_MORE_INFO = "escalation.more_info"
    ESCALATION_DEFER = "escalation.defer"
    THREAT_CREATE = "threat.create"


class BlockId(StrEnum):
    TITLE = "title"
    DESCRIPTION = "description"
    CIO_OWNER = "cio_owner"
    CISO_OWNER = "ciso_owner"
    DUE = "due"
    TAGS = "tags"
    COVERS = "covers"
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
    TP_DURATION = "tp_duration"
    TP_LEAD = "tp_lead"
    TP_TEXT = "tp_text"
    TP_OWNER = "tp_owner"
    TP_DUE = "tp_due"
    ASSET = "asset"
    LIKELIHOOD = "likelihood"
    IMPACT = "impact"
    EXPIRES = "expires"
    CONTROLS = "controls"
    ATTACK = "attack"
    SEVERITY = "severity"
    RISK_OWNER = "risk_owner"
    BUDGET = "budget"
    FUNDING = "funding"
    MONEY = "money"
    TREATMENT = "treatment"
    TREATMENT_DUE = "treatment_due"
    RESIDUAL_LIKELIHOOD = "residual_likelihood"
    RESIDUAL_IMPACT = "residual_impact"
    EVIDENCE = "evidence"
    RETIRED_BY = "retired_by"
    RELEVANCE = "relevance"
    SOURCE = "source"
    INITIATIVE = "initiative"
    POSITION = "position"
    RATIONALE = "rationale"
    RELEASE_HOLD = "release_hold"
    DEFER_TO = "date"
