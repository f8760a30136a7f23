"""Pure risk rules: ratings, expiry caps, who may decide a round, what is material."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.config import Settings
from bot.domain.errors import Conflict, Forbidden, InvalidInput, person
from bot.domain.permissions import Permission, ensure_allowed, ensure_may_decide_risk, side_of
from bot.domain.risks.models import (
    EVIDENCE_MAX,
    MAX_EVIDENCE,
    MAX_TECHNIQUES,
    TECHNIQUE_ID,
    Band,
    Decision,
    RiskAcceptance,
    RiskApproval,
    RiskRound,
    RiskState,
    RoundKind,
)
from bot.domain.roles import ROLE_LABELS, Actor, Role
from bot.domain.validation import parse_whole_number


@dataclass(frozen=True)
class RiskPolicy:
    """Limits from the settings: expiry cap and review cadence per band, reminder thresholds."""

    max_days: dict[Band, int]
    review_days: dict[Band, int]
    reminder_days: tuple[int, ...] = (30, 7, 1)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RiskPolicy":
        return cls(
            max_days={
                Band.LOW: settings.accord_risk_max_days_low,
                Band.MEDIUM: settings.accord_risk_max_days_medium,
                Band.HIGH: settings.accord_risk_max_days_high,
                Band.CRITICAL: settings.accord_risk_max_days_critical,
            },
            review_days={
                Band.LOW: settings.accord_risk_review_days_low,
                Band.MEDIUM: settings.accord_risk_review_days_medium,
                Band.HIGH: settings.accord_risk_review_days_high,
                Band.CRITICAL: settings.accord_risk_review_days_critical,
            },
            reminder_days=tuple(sorted(settings.risk_reminder_days(), reverse=True)),
        )


# Changing any of these after an approval sends the record back to both sides.
MATERIAL_FIELDS = (
    "title",
    "description",
    "likelihood",
    "impact",
    "residual_likelihood",
    "residual_impact",
    "treatment",
    "treatment_due",
    "retired_by",
    "controls",
    "expires_on",
    "asset",
    "initiative",
    "techniques",
)


def parse_rating(text: str, *, field: str) -> int:
    hint = f"e.g. `{field}:3` (1 = rare/minor … 5 = almost certain/severe)."
    return parse_whole_number(text, field=field, low=1, high=5, hint=hint)


def _rating(value: int, *, field: str) -> int:
    return parse_rating(str(value), field=field)


def parse_techniques(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    found: list[str] = []
    for item in items:
        technique = item.strip().upper()
        if not technique:
            continue
        if not TECHNIQUE_ID.match(technique):
            raise InvalidInput(
                f"`{item.strip()[:30]}` is not an ATT&CK technique id.",
                hint="Technique ids look like `T1078` or `T1078.004`, separated by commas.",
                field="attack",
            )
        if technique not in found:
            found.append(technique)
    if len(found) > MAX_TECHNIQUES:
        raise InvalidInput(f"At most {MAX_TECHNIQUES} technique ids.", field="attack")
    return tuple(found)


def parse_residual(text: str) -> tuple[int, int]:
    """`residual:2x3`: likelihood × impact after the compensating controls."""
    likelihood, sep, impact = text.strip().lower().replace("×", "x").partition("x")
    if not sep:
        raise InvalidInput(
            f"`{text[:20]}` is not a residual rating.",
            hint="Give likelihood × impact after the controls, e.g. `residual:2x3`.",
            field="residual",
        )
    return (
        parse_rating(likelihood, field="residual likelihood"),
        parse_rating(impact, field="residual impact"),
    )


def check_residual(
    residual: tuple[int, int] | None, *, likelihood: int, impact: int
) -> tuple[int, int] | None:
    if residual is not None and residual[0] * residual[1] > likelihood * impact:
        raise InvalidInput(
            f"The residual score {residual[0] * residual[1]} is above the inherent score "
            f"{likelihood * impact}: controls do not make a risk worse.",
            hint="Give a residual likelihood × impact at or below the inherent one.",
            field="residual",
        )
    return residual


def parse_evidence(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Links to evidence (tickets, scan reports, test results): http(s) only, at most five."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    found: list[str] = []
    for item in items:
        link = item.strip().strip("<>")
        if not link:
            continue
        if not link.lower().startswith(("https://", "http://")) or len(link) > EVIDENCE_MAX:
            raise InvalidInput(
                f"`{link[:60]}` is not an evidence link.",
                hint=f"Links start with https:// and are at most {EVIDENCE_MAX} characters, "
                "separated by commas.",
                field="evidence",
            )
        if any(char.isspace() or char in "|<>" for char in link):
            raise InvalidInput(f"`{link[:60]}` is not one link.", field="evidence")
        if link not in found:
            found.append(link)
    if len(found) > MAX_EVIDENCE:
        raise InvalidInput(f"At most {MAX_EVIDENCE} evidence links.", field="evidence")
    return tuple(found)


def _expiry(value: date, *, band: Band, today: date, policy: RiskPolicy) -> date:
    if value <= today:
        raise InvalidInput(
            f"The expiry date {value.isoformat()} is not in the future.",
            hint="An acceptance must end after today, e.g. `expires:"
            f"{(today + timedelta(days=30)).isoformat()}`.",
            field="expires",
        )
    limit = policy.max_days[band]
    if (value - today).days > limit:
        latest = today + timedelta(days=limit)
        raise InvalidInput(
            f"A {band.value} risk can be accepted for at most {limit} days, "
            f"so the expiry can be {latest.isoformat()} at the latest.",
            hint=f"Use `expires:{latest.isoformat()}` or earlier; renew it when it runs out.",
            field="expires",
        )
    return value


def approver_side(actor: Actor) -> Role:
    """The side an approver signs for; someone on both sides or on neither cannot sign."""
    ensure_allowed(actor, Permission.RISK_APPROVE)
    side = side_of(actor)
    if side is None:
        raise Forbidden(
            "You are configured on both the CIO and the CISO side, so you cannot approve for "
            "either: separation of duties needs one person per side.",
            hint="An Accord admin can adjust the roles (`/accord whoami` shows yours).",
        )
    return side


def ensure_decidable(risk: RiskAcceptance, actor: Actor, *, side: Role, today: date) -> RiskRound:
    """The open round `actor` may decide on for `side`, or the reason they may not."""
    existing = risk.round_decisions().get(side)
    if existing is not None:
        raise Conflict(_already(risk, existing))
    row = risk.open_round()
    if row is None or risk.state == RiskState.DRAFT:
        raise Conflict(
            f"{risk.ref} is {risk.state.value.replace('_', ' ')} and has no approval round "
            "open; there is nothing to decide.",
            hint=f"`/accord risk show {risk.ref}` shows its history.",
        )
    if actor.user_id == row.requested_by:
        what = risk.ref if row.kind == RoundKind.REQUEST else f"round {row.round} of {risk.ref}"
        raise Forbidden(
            f"You requested {what}, so you cannot approve or reject it.",
            hint="Separation of duties: another member of your side decides for it.",
        )
    ensure_may_decide_risk(
        actor,
        ref=risk.ref,
        side=side,
        requesters=risk.requesters,
        round_approvers={s: a.approver_id for s, a in risk.round_decisions().items()},
    )
    expiry = risk.decision_expiry()
    if expiry <= today:
        raise Conflict(
            f"The expiry date {expiry.isoformat()} of this request for {risk.ref} has passed, so "
            "it can no longer be approved.",
            hint=f"Ask for a new date: `/accord risk renew {risk.ref} expires:YYYY-MM-DD`.",
        )
    return row


def _restore_state(risk: RiskAcceptance, row: RiskRound) -> None:
    """A renewal of a record that was not in force ends: back to the state it had."""
    before = row.proposed.get("state_before")
    if before and risk.state == RiskState.PENDING:
        risk.state = RiskState(before)


def _decision_snapshot(risk: RiskAcceptance, row: RiskRound) -> dict[str, Any]:
    """What the approver signs: the record with the round's proposed values."""
    snapshot = risk.snapshot()
    expiry = row.proposed_expiry
    if expiry is not None:
        snapshot["expires_on"] = expiry.isoformat()
    snapshot["round_kind"] = row.kind.value
    snapshot["round_requested_by"] = row.requested_by
    return snapshot


def _already(risk: RiskAcceptance, existing: RiskApproval) -> str:
    side = ROLE_LABELS[Role(existing.side)]
    verb = "approved" if existing.decision == Decision.APPROVED else "rejected"
    return (
        f"{risk.ref} is already {verb} for the {side} (by {person(existing.approver_id)}) in this "
        "round; nothing changed."
    )


def may_decide(risk: RiskAcceptance, actor: Actor, *, today: date) -> bool:
    """Whether `actor` could approve or reject the open round now, for a side they are on:
    the Approve/Reject buttons are shown only to them."""
    for side in sorted(actor.sides):
        try:
            ensure_allowed(actor, Permission.RISK_APPROVE)
            ensure_decidable(risk, actor, side=side, today=today)
        except (Conflict, Forbidden, InvalidInput):
            continue
        return True
    return False
