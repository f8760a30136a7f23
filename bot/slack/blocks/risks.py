"""Renderers for risk acceptances: card, approval request, list, reminders and the modals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.attack.catalogue import Technique
from bot.domain.attack.exposure import EXPIRING_DAYS, TacticExposure
from bot.domain.budget import BudgetState
from bot.domain.paging import Page
from bot.domain.risks import (
    Band,
    Decision,
    RiskAcceptance,
    RiskFilter,
    RiskRound,
    RiskState,
    RoundKind,
    RoundState,
    Treatment,
    band_of,
)
from bot.domain.roles import ROLE_LABELS, SIDES, Role
from bot.slack.blocks.attack import technique_picker
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    Message,
    actions,
    button,
    clip,
    context,
    days_from_today,
    fields_section,
    header,
    page_footer,
    safe,
    section,
    state_words,
    user,
)
from bot.slack.blocks.initiatives import budget_text
from bot.slack.blocks.inputs import date_input, modal, text_input, user_input
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.text import escape

LIST_PAGE_SIZE = 20
BAND_ICON = {
    Band.LOW: ":large_green_circle:",
    Band.MEDIUM: ":large_yellow_circle:",
    Band.HIGH: ":large_orange_circle:",
    Band.CRITICAL: ":red_circle:",
}
STATE_LABEL = {
    RiskState.DRAFT: ":memo: draft",
    RiskState.PENDING: ":hourglass_flowing_sand: pending approval",
    RiskState.ACCEPTED: ":white_check_mark: accepted",
    RiskState.REJECTED: ":x: rejected",
    RiskState.EXPIRED: ":alarm_clock: expired",
    RiskState.REVOKED: ":no_entry_sign: revoked",
    RiskState.LAPSED: ":hourglass: lapsed (never approved)",
}
FILTER_TITLES = {
    RiskFilter.OPEN: "Open risk acceptances",
    RiskFilter.PENDING: "Risk acceptances pending approval",
    RiskFilter.ACCEPTED: "Accepted risks",
    RiskFilter.EXPIRING: "Accepted risks expiring within 30 days",
    RiskFilter.EXPIRED: "Expired risk acceptances",
    RiskFilter.MINE: "Risk acceptances you requested",
    RiskFilter.ALL: "All risk acceptances",
}


def decision_value(risk: RiskAcceptance) -> str:
    """Buttons carry the round, so a button from before a material change is refused."""
    return f"{risk.id}:{risk.round}"


def scoretext_input(risk: RiskAcceptance) -> str:
    if risk.residual_score is None:
        return (
            f"{BAND_ICON[risk.band]} {risk.band.value} · score {risk.score} "
            f"(likelihood {risk.likelihood} × impact {risk.impact})"
        )
    return (
        f"{BAND_ICON[risk.band]} {risk.band.value} · residual score {risk.score} "
        f"({risk.residual_likelihood} × {risk.residual_impact} after controls; inherent "
        f"{risk.inherent_score} = {risk.likelihood} × {risk.impact})"
    )


TREATMENT_LABEL = {
    Treatment.ACCEPT: "accept",
    Treatment.MITIGATE: "mitigate",
    Treatment.TRANSFER: "transfer",
    Treatment.AVOID: "avoid",
}


def treatment_text(risk: RiskAcceptance) -> str:
    due = f" by {risk.treatment_due.isoformat()}" if risk.treatment_due else ""
    return f"{TREATMENT_LABEL[risk.treatment]}{due}"


def unfunded(risk: RiskAcceptance) -> bool:
    """Accepted while the work that would retire it waits for money."""
    retiring = risk.retired_by
    return (
        retiring is not None
        and not retiring.is_closed
        and (retiring.money_state in (None, BudgetState.REQUESTED))
    )


def retired_by_text(risk: RiskAcceptance) -> str | None:
    retiring = risk.retired_by
    if retiring is None:
        return None
    why = ""
    if unfunded(risk):
        why = (
            " — _accepted because unfunded_"
            if risk.state == RiskState.ACCEPTED
            else " — _its budget is not approved_"
        )
    return (
        f"*Would be retired by* {retiring.ref} {safe(retiring.title, 150)} · "
        f"{budget_text(retiring) if retiring.budget else 'no budget yet'}{why}"
    )


def in_force_until(risk: RiskAcceptance, today: date) -> str:
    """What holds while a renewal waits: the acceptance in force to its date — or, once that
    date has passed, nothing (an expired acceptance is not in force until renewed)."""
    if risk.state == RiskState.EXPIRED or risk.expires_on < today:
        return (
            f"the acceptance expired on {risk.expires_on.isoformat()} and is not in force "
            "unless both sides approve the renewal"
        )
    return (
        f"the acceptance stays in force until {risk.expires_on.isoformat()} unless both sides "
        "approve the renewal"
    )


def _expiry_words(risk: RiskAcceptance, today: date) -> str:
    return days_from_today(risk.days_left(today))


def technique_text(technique: Technique, *, tactics: bool = True) -> str:
    """`T1078` Valid Accounts (Defense Evasion, Persistence): how an id is always shown."""
    name = f" {escape(technique.name)}" if technique.name else " _(not in the catalogue)_"
    shown = f" ({', '.join(technique.tactic_names)})" if tactics and technique.tactics else ""
    return f"`{technique.id}`{name}{shown}"


def techniques_text(risk: RiskAcceptance, *, tactics: bool = True, limit: int = 2000) -> str:
    lines = [technique_text(t, tactics=tactics) for t in risk.technique_details]
    return clip("\n".join(lines), limit) if lines else "—"


def summary_line(risk: RiskAcceptance, today: date) -> str:
    named = ", ".join(technique_text(t, tactics=False) for t in risk.technique_details)
    attack = f"\nATT&amp;CK: {clip(named, 400)}" if risk.techniques else ""
    return (
        f"*{risk.ref}* {safe(risk.title, 200)}\n{STATE_LABEL[risk.state]} · "
        f"{BAND_ICON[risk.band]} {risk.band.value} ({risk.score}) · expires "
        f"{risk.expires_on.isoformat()} ({_expiry_words(risk, today)}) · "
        f"by {user(risk.requested_by)}{_renewal_note(risk)}{attack}"
    )


def _renewal_note(risk: RiskAcceptance) -> str:
    row = risk.open_round()
    if row is None or row.proposed_expiry is None:
        return ""
    return (
        f" · :arrows_counterclockwise: renewal to {row.proposed_expiry.isoformat()} "
        f"awaits approval (round {row.round})"
    )


def _round_status(risk: RiskAcceptance) -> str:
    decisions = risk.round_decisions()
    parts = []
    for side in SIDES:
        found = decisions.get(side)
        if found is None:
            parts.append(f"{ROLE_LABELS[side]}: _waiting_")
        else:
            icon = ":white_check_mark:" if found.decision == Decision.APPROVED else ":x:"
            parts.append(f"{ROLE_LABELS[side]}: {icon} {user(found.approver_id)}")
    return f"*Round {risk.round}* · " + " · ".join(parts)


def _history(risk: RiskAcceptance) -> list[str]:
    lines = []
    for approval in risk.approvals[-12:]:
        reason = f" — {safe(approval.reason, 200)}" if approval.reason else ""
        lines.append(
            f"round {approval.round} · {ROLE_LABELS[Role(approval.side)]} · "
            f"{approval.decision} by {user(approval.approver_id)} on {approval.at:%Y-%m-%d}"
            f" (score {approval.snapshot.get('score')}, expiry "
            f"{approval.snapshot.get('expires_on')}){reason}"
        )
    return lines


def card(
    risk: RiskAcceptance,
    today: date,
    *,
    lead: str | None = None,
    buttons: bool = True,
    threats: Sequence[tuple[str, str, str, bool]] = (),
) -> Message:
    """The full record; `threats` are the open briefs touching it: (ref, title, severity,
    flagged for review)."""
    blocks: list[Block] = []
    if lead:
        blocks.append(section(lead))
    blocks.append(header(f"{risk.ref} · {risk.title}"))
    blocks.append(
        fields_section(
            [
                f"*State*\n{STATE_LABEL[risk.state]}",
                f"*Risk*\n{scoretext_input(risk)}",
                f"*Expires*\n{risk.expires_on.isoformat()} ({_expiry_words(risk, today)})",
                f"*Next review*\n{risk.next_review_on.isoformat()} (every {risk.review_days} d)",
                f"*Requested by*\n{user(risk.requested_by)}",
                f"*Risk owner*\n{user(risk.owner)}",
                f"*Treatment*\n{treatment_text(risk)}",
                f"*Asset / system*\n{safe(risk.asset, 300) or '—'}",
                f"*Initiative*\n{risk.initiative_ref or '—'}",
            ]
        )
    )
    if risk.techniques:
        blocks.append(section(f"*ATT&amp;CK techniques*\n{techniques_text(risk)}"))
    retired = retired_by_text(risk)
    if retired:
        blocks.append(section(retired))
    if threats:
        lines = [
            f"• *{escape(ref)}* {safe(title, 150)} ({escape(severity)})"
            + (" — :triangular_flag_on_post: review the acceptance" if flagged else "")
            for ref, title, severity, flagged in threats[:10]
        ]
        blocks.append(section(clip("*Threat briefs touching it*\n" + "\n".join(lines), 2900)))
    if risk.evidence:
        links = "\n".join(f"• <{escape(link)}>" for link in risk.evidence)
        blocks.append(section(f"*Evidence*\n{links}"))
    if risk.description:
        blocks.append(section(f"*Why accept it*\n{safe(risk.description, 2800)}"))
    blocks.append(section(f"*Compensating controls*\n{safe(risk.controls, 2800) or '_none_'}"))
    if risk.closed_reason and risk.state in (RiskState.REJECTED, RiskState.REVOKED):
        reason = safe(risk.closed_reason, 600)
        blocks.append(section(f"*Reason ({state_words(risk.state.value)})*\n{reason}"))
    renewal = _renewal_note(risk)
    if renewal:
        blocks.append(
            section(f"*Pending renewal*{renewal}. {in_force_until(risk, today).capitalize()}.")
        )
    blocks.append(section(_round_status(risk)))
    history = _history(risk)
    if history:
        blocks.append(context(clip("\n".join(history), 2000)))
    if buttons and risk.open_round() is not None and risk.state != RiskState.DRAFT:
        blocks.append(decision_buttons(risk))
    text = f"{risk.ref}: {safe(risk.title, 200)} ({state_words(risk.state.value)})"
    return Message(text=(f"{lead} " if lead else "") + text, blocks=blocks)


def decision_buttons(risk: RiskAcceptance) -> Block:
    value = decision_value(risk)
    return actions(
        button("Approve", action_id=ActionId.RISK_APPROVE, value=value, style="primary"),
        button("Reject…", action_id=ActionId.RISK_REJECT, value=value, style="danger"),
        block_id=f"risk-decide-{risk.id}-{risk.round}",
    )


ROUND_WHAT = {
    RoundKind.REQUEST: "accept",
    RoundKind.CHANGE: "approve again, after a material change,",
    RoundKind.RENEWAL: "renew",
}


def approval_request(risk: RiskAcceptance, today: date, row: RiskRound) -> Message:
    """The request for one round, with the person who asked for it (not the record's author)."""
    lead = (
        f":scales: {user(row.requested_by)} asks the CIO side and the CISO side to "
        f"{ROUND_WHAT[row.kind]} *{risk.ref}* (round {row.round}). One approver from each side "
        f"is needed; {user(row.requested_by)} cannot approve."
    )
    if row.proposed_expiry is not None:
        lead += (
            f" The renewal would run to {row.proposed_expiry.isoformat()}; until it is approved, "
            f"{in_force_until(risk, today)}."
        )
    return card(risk, today, lead=lead)


def _decided_by(risk: RiskAcceptance, row: RiskRound) -> str:
    return ", ".join(
        f"{ROLE_LABELS[Role(a.side)]}: {user(a.approver_id)}"
        for a in risk.approvals
        if a.round == row.round
    )


def round_status_message(risk: RiskAcceptance, today: date, row: RiskRound) -> Message:
    """What a posted approval request shows now: live buttons only while its round is open."""
    if row.state == RoundState.OPEN and risk.open_round() is row:
        return approval_request(risk, today, row)
    reasons = [a.reason for a in risk.approvals if a.round == row.round and a.reason]
    decided = _decided_by(risk, row)
    outcome = {
        RoundState.APPROVED: f":white_check_mark: Approved by both sides ({decided})",
        RoundState.REJECTED: f":x: Rejected ({_decided_by(risk, row)})"
        + (f": {safe(reasons[-1], 300)}" if reasons else ""),
        RoundState.SUPERSEDED: f":fast_forward: Replaced by round {risk.round}; use its request",
        RoundState.LAPSED: ":hourglass: Lapsed: its expiry date passed before both sides approved",
        RoundState.CLOSED: f":no_entry_sign: Closed ({risk.state.value.replace('_', ' ')})",
        RoundState.OPEN: f":fast_forward: Replaced by round {risk.round}",
    }[RoundState(row.state)]
    lead = f"{outcome}. Round {row.round} of *{risk.ref}*, requested by {user(row.requested_by)}."
    return card(risk, today, lead=lead, buttons=False)


def outcome_for_requester(risk: RiskAcceptance, today: date, row: RiskRound) -> Message:
    """The DM to whoever asked for the round, once both sides approved or one rejected."""
    if row.state == RoundState.APPROVED:
        lead = (
            f":white_check_mark: Your request for *{risk.ref}* (round {row.round}) was approved "
            f"by both sides ({_decided_by(risk, row)}); it is accepted until "
            f"{risk.expires_on.isoformat()}."
        )
    else:
        reasons = [a.reason for a in risk.approvals if a.round == row.round and a.reason]
        reason = safe(reasons[-1], 500) if reasons else "—"
        kept = (
            f" The acceptance in force is unchanged ({STATE_LABEL[risk.state]}, "
            f"expires {risk.expires_on.isoformat()})."
            if row.kind == RoundKind.RENEWAL
            else ""
        )
        again = (
            f" To ask again, mend it (`/accord risk update {risk.ref} …`) and "
            f"`/accord risk submit {risk.ref}`: a new round on the same record."
            if risk.state == RiskState.REJECTED
            else ""
        )
        lead = (
            f":x: Your request for *{risk.ref}* (round {row.round}) was rejected "
            f"({_decided_by(risk, row)}). Reason: {reason}.{kept}{again}"
        )
    return card(risk, today, lead=lead, buttons=False)


def approval_reminder(risk: RiskAcceptance, today: date, side: Role) -> Message:
    lead = (
        f":bell: *{risk.ref}* still needs an approval from the {ROLE_LABELS[side]} "
        f"(round {risk.round}, requested by {user(risk.round_requester)})."
    )
    return card(risk, today, lead=lead)


def expiry_warning(risk: RiskAcceptance, today: date) -> Message:
    days = risk.days_left(today)
    lead = (
        f":hourglass: The acceptance of *{risk.ref}* expires on {risk.expires_on.isoformat()} "
        f"(in {days} day{'s' if days != 1 else ''}). Renew it with "
        f"`/accord risk renew {risk.ref} expires:YYYY-MM-DD`, or fix the risk."
    )
    blocks: list[Block] = [
        section(lead),
        section(summary_line(risk, today)),
        actions(
            button("Snooze 7 days", action_id=ActionId.RISK_SNOOZE, value=f"{risk.id}:7"),
            button("Show", action_id=ActionId.RISK_SHOW, value=str(risk.id)),
        ),
    ]
    return Message(text=f"{risk.ref} expires on {risk.expires_on.isoformat()}", blocks=blocks)


def expired_announcement(risk: RiskAcceptance) -> Message:
    text = (
        f":alarm_clock: The acceptance of *{risk.ref}* {safe(risk.title, 200)} expired on "
        f"{risk.expires_on.isoformat()}; the risk is no longer accepted. "
        f"{user(risk.requested_by)} can renew it with `/accord risk renew {risk.ref} expires:…`."
    )
    return Message(text=text, blocks=[section(text)])


def revoked_announcement(risk: RiskAcceptance, *, actor_id: str) -> Message:
    reason = f": {safe(risk.closed_reason, 500)}" if risk.closed_reason else ""
    text = (
        f":no_entry_sign: The acceptance of *{risk.ref}* {safe(risk.title, 200)} was revoked by "
        f"{user(actor_id)}{reason}. The risk is no longer accepted."
    )
    return Message(text=text, blocks=[section(text)])


def page_value(which: RiskFilter, page: int) -> str:
    return f"{which.value}:{page}"


def lapsed_announcement(risk: RiskAcceptance, row: RiskRound) -> Message:
    if row.kind == RoundKind.RENEWAL:
        text = (
            f":hourglass: The renewal of *{risk.ref}* {safe(risk.title, 200)} (round {row.round}) "
            "lapsed: its proposed expiry date passed before both sides approved it. The record "
            f"stays {risk.state.value.replace('_', ' ')}."
        )
    else:
        text = (
            f":hourglass: The request for *{risk.ref}* {safe(risk.title, 200)} lapsed: its "
            f"expiry date {risk.expires_on.isoformat()} passed before both sides approved it, "
            "so the risk was never accepted. "
            f"{user(row.requested_by)} can ask again with `/accord risk renew {risk.ref} "
            "expires:…`."
        )
    return Message(text=text, blocks=[section(text)])


def list_message(page: Page[RiskAcceptance], *, which: RiskFilter, today: date) -> Message:
    """One page of a list; Previous/Next buttons carry the filter so any page can be reached."""
    title = FILTER_TITLES[which]
    blocks: list[Block] = [header(f"{title} ({page.total})")]
    if not page.items:
        blocks.append(section("Nothing here. Request one with `/accord risk new <title> …`."))
        return Message(text=f"{title}: none", blocks=blocks)
    for risk in page.items:
        blocks.append(
            section(
                summary_line(risk, today),
                accessory=button("Show", action_id=ActionId.RISK_SHOW, value=str(risk.id)),
            )
        )
    blocks.extend(
        page_footer(page, action_id=ActionId.RISK_PAGE, value_for=lambda n: page_value(which, n))
    )
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    return Message(text=f"{title}: {page.total}", blocks=blocks)


def exposure_message(rows: list[TacticExposure], *, accepted: int, version: str) -> Message:
    """Accepted risk by ATT&CK tactic: accepted, expiring, highest score, which records."""
    title = f"Accepted exposure by ATT&CK tactic ({accepted} in force)"
    blocks: list[Block] = [header(title)]
    if not rows:
        blocks.append(section("No risk is accepted right now."))
        return Message(text="Accepted exposure: none", blocks=blocks)
    lines = []
    for row in rows:
        refs = ", ".join(row.refs[:8]) + (f" +{len(row.refs) - 8}" if len(row.refs) > 8 else "")
        expiring = f" · :hourglass: {row.expiring} expiring" if row.expiring else ""
        lines.append(
            f"*{escape(row.name)}* — {row.accepted} accepted{expiring} · highest score "
            f"{row.highest} {BAND_ICON[band_of(row.highest)]} · {refs}"
        )
    for start in range(0, len(lines), 8):
        blocks.append(section("\n".join(lines[start : start + 8])))
    blocks.append(
        context(
            f"ATT&amp;CK Enterprise v{escape(version)} · expiring = within {EXPIRING_DAYS} days · "
            "`accord export attack-layer` writes these techniques as a Navigator layer."
        )
    )
    return Message(text=f"Accepted exposure: {accepted} risk(s) in force", blocks=blocks)


def _rating(block_id: str, label: str, *, optional: bool = False) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=optional,
        element=StaticSelectElement(
            action_id="value",
            options=[Option(value=str(n), text=PlainTextObject(text=str(n))) for n in range(1, 6)],
        ),
    )


def create_modal(*, metadata: str) -> View:
    return modal(
        CallbackId.RISK_CREATE,
        "Request risk acceptance",
        "Request",
        metadata,
        [
            text_input(BlockId.TITLE, "Title", max_length=150),
            text_input(
                BlockId.DESCRIPTION, "Why accept it", max_length=2000, multiline=True, optional=True
            ),
            text_input(BlockId.ASSET, "Asset / system", max_length=200, optional=True),
            _rating(BlockId.LIKELIHOOD, "Likelihood (1–5)"),
            _rating(BlockId.IMPACT, "Impact (1–5)"),
            InputBlock(
                block_id=BlockId.EXPIRES,
                label=PlainTextObject(text="Expires on"),
                element=DatePickerElement(action_id="value"),
            ),
            text_input(
                BlockId.CONTROLS,
                "Compensating controls",
                max_length=2000,
                multiline=True,
                optional=True,
            ),
            technique_picker(BlockId.ATTACK, "ATT&CK techniques"),
            text_input(
                BlockId.INITIATIVE, "Initiative", max_length=20, optional=True, placeholder="INI-3"
            ),
            user_input(BlockId.RISK_OWNER, "Risk owner (if not you)"),
            InputBlock(
                block_id=BlockId.TREATMENT,
                label=PlainTextObject(text="Treatment plan"),
                optional=True,
                element=StaticSelectElement(
                    action_id="value",
                    options=[
                        Option(value=t.value, text=PlainTextObject(text=TREATMENT_LABEL[t]))
                        for t in Treatment
                    ],
                ),
            ),
            date_input(BlockId.TREATMENT_DUE, "Treatment target date"),
            _rating(
                BlockId.RESIDUAL_LIKELIHOOD, "Residual likelihood after controls", optional=True
            ),
            _rating(BlockId.RESIDUAL_IMPACT, "Residual impact after controls", optional=True),
            text_input(
                BlockId.EVIDENCE,
                "Evidence links",
                max_length=1600,
                optional=True,
                placeholder="https://…, https://…",
            ),
            text_input(
                BlockId.RETIRED_BY,
                "Initiative that would retire it",
                max_length=20,
                optional=True,
                placeholder="INI-5",
            ),
        ],
    )


def reject_modal(risk: RiskAcceptance, *, channel: str) -> View:
    metadata = json.dumps({"id": risk.id, "round": risk.round, "channel": channel})
    return View(
        type="modal",
        callback_id=CallbackId.RISK_REJECT,
        title=PlainTextObject(text=clip(f"Reject {risk.ref}", 24)),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata,
        blocks=[
            section(f"*{risk.ref}* {safe(risk.title, 200)}\n{scoretext_input(risk)}"),
            text_input(BlockId.REASON, "Why do you reject it?", max_length=500, multiline=True),
        ],
    )
