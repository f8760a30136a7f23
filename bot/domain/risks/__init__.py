"""Risk acceptances: a register both sides sign, with expiry, review and an auditor's export.

Lifecycle: `draft` → `pending_approval` → `accepted` → `expired` | `revoked`, plus `rejected`
and `lapsed` (a request nobody approved before its expiry date passed).
`/accord risk new` creates a record straight in `pending_approval`; `draft` is the state of a
record that is still being written (no approvals are asked for yet).

Every approval *round* is a `RiskRound` row: who asked for it, what it proposes, its outcome and
where its approval request was posted (so the message can be updated when it is decided).

* A **renewal** never suspends the acceptance in force: the proposed expiry lives on the round,
  the record stays `accepted` with its approved expiry (and still expires and is warned about on
  time) until both sides approve the renewal; a rejected renewal closes only that round.
* A **material change** (score, controls, expiry, scope) is applied at once and suspends the
  acceptance (`pending_approval`) until both sides approve again: the record no longer says what
  was approved, so it must not count as accepted. A rejected change rejects the record.
* The requester of a *round* (not only of the record) cannot decide on it.

Separation of duties: a record becomes `accepted` only when, in the current approval *round*, one
person from the CIO side and one from the CISO side approved it, neither of them the requester.
The database enforces one decision per side per round (a unique key), so double or concurrent
clicks record one approval. Each decision freezes a snapshot of what was approved. A material
change (score, controls, expiry, scope) or a renewal opens a new round: both sides approve again,
and the earlier rounds stay in the history.
"""

from bot.domain.risks.lifecycle import (
    claim_reminder,
    due_for_expiry,
    due_for_lapse,
    expire_one,
    expiry_warning_keys,
    lapse_one,
    pending_risks,
)
from bot.domain.risks.models import (
    ASSET_MAX,
    BAND_CEILINGS,
    CONTROLS_MAX,
    DESCRIPTION_MAX,
    MAX_TECHNIQUES,
    OPEN_STATES,
    REASON_MAX,
    SYSTEM_ACTOR,
    TECHNIQUE_ID,
    TITLE_MAX,
    Band,
    Decision,
    DecisionResult,
    RiskAcceptance,
    RiskApproval,
    RiskChanges,
    RiskDraft,
    RiskFilter,
    RiskReminder,
    RiskRound,
    RiskState,
    RoundKind,
    RoundState,
    Treatment,
    band_of,
)
from bot.domain.risks.policy import (
    MATERIAL_FIELDS,
    RiskPolicy,
    approver_side,
    ensure_decidable,
    parse_evidence,
    parse_rating,
    parse_residual,
    parse_techniques,
)
from bot.domain.risks.queries import (
    all_risks,
    already_decided_message,
    awaiting_decision,
    band_expression,
    get_risk,
    list_risks,
)
from bot.domain.risks.service import (
    create_risk,
    decide,
    renew,
    revoke,
    set_round_messages,
    snooze,
    submit_risk,
    update_risk,
)

__all__ = [
    "ASSET_MAX",
    "BAND_CEILINGS",
    "CONTROLS_MAX",
    "DESCRIPTION_MAX",
    "MATERIAL_FIELDS",
    "MAX_TECHNIQUES",
    "OPEN_STATES",
    "REASON_MAX",
    "SYSTEM_ACTOR",
    "TECHNIQUE_ID",
    "TITLE_MAX",
    "Band",
    "Decision",
    "DecisionResult",
    "RiskAcceptance",
    "RiskApproval",
    "RiskChanges",
    "RiskDraft",
    "RiskFilter",
    "RiskPolicy",
    "RiskReminder",
    "RiskRound",
    "RiskState",
    "RoundKind",
    "RoundState",
    "Treatment",
    "all_risks",
    "already_decided_message",
    "approver_side",
    "awaiting_decision",
    "band_expression",
    "band_of",
    "claim_reminder",
    "create_risk",
    "decide",
    "due_for_expiry",
    "due_for_lapse",
    "ensure_decidable",
    "expire_one",
    "expiry_warning_keys",
    "get_risk",
    "lapse_one",
    "list_risks",
    "parse_evidence",
    "parse_rating",
    "parse_residual",
    "parse_techniques",
    "pending_risks",
    "renew",
    "revoke",
    "set_round_messages",
    "snooze",
    "submit_risk",
    "update_risk",
]
