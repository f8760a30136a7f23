"""Renderers for risk acceptances: card, approval request, list, reminders and the modals."""

from __future__ import annotations

import json
from datetime import date

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.paging import Page
from bot.domain.risks import Band, Decision, RiskAcceptance, RiskFilter, RiskState
from bot.domain.roles import ROLE_LABELS, SIDES, Role
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    Message,
    actions,
    button,
    clip,
    context,
    fields_section,
    header,
    safe,
    section,
    user,
)
from bot.slack.ids import ActionId, BlockId, CallbackId

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


def score_text(risk: RiskAcceptance) -> str:
    return (
        f"{BAND_ICON[risk.band]} {risk.band.value} · score {risk.score} "
        f"(likelihood {risk.likelihood} × impact {risk.impact})"
    )


def summary_line(risk: RiskAcceptance, today: date) -> str:
    return (
        f"*{risk.ref}* {safe(risk.title, 200)}\n{STATE_LABEL[risk.state]} · "
        f"{BAND_ICON[risk.band]} {risk.band.value} ({risk.score}) · expires "
        f"{risk.expires_on.isoformat()} ({risk.days_left(today)} days) · "
        f"by {user(risk.requested_by)}"
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
    risk: RiskAcceptance, today: date, *, lead: str | None = None, buttons: bool = True
) -> Message:
    blocks: list[Block] = []
    if lead:
        blocks.append(section(lead))
    blocks.append(header(f"{risk.ref} · {risk.title}"))
    techniques = ", ".join(f"`{t}`" for t in risk.techniques) or "—"
    blocks.append(
        fields_section(
            [
                f"*State*\n{STATE_LABEL[risk.state]}",
                f"*Risk*\n{score_text(risk)}",
                f"*Expires*\n{risk.expires_on.isoformat()} ({risk.days_left(today)} days)",
                f"*Next review*\n{risk.next_review_on.isoformat()} (every {risk.review_days} d)",
                f"*Requested by*\n{user(risk.requested_by)}",
                f"*Asset / system*\n{safe(risk.asset, 300) or '—'}",
                f"*Initiative*\n{risk.initiative_ref or '—'}",
                f"*ATT&CK*\n{techniques}",
            ]
        )
    )
    if risk.description:
        blocks.append(section(f"*Why accept it*\n{safe(risk.description, 2800)}"))
    blocks.append(section(f"*Compensating controls*\n{safe(risk.controls, 2800) or '_none_'}"))
    if risk.closed_reason and risk.state in (RiskState.REJECTED, RiskState.REVOKED):
        blocks.append(section(f"*Reason ({risk.state.value})*\n{safe(risk.closed_reason, 600)}"))
    blocks.append(section(_round_status(risk)))
    history = _history(risk)
    if history:
        blocks.append(context(clip("\n".join(history), 2000)))
    if buttons and risk.state == RiskState.PENDING:
        blocks.append(decision_buttons(risk))
    text = f"{risk.ref}: {safe(risk.title, 200)} ({risk.state.value})"
    return Message(text=(f"{lead} " if lead else "") + text, blocks=blocks)


def decision_buttons(risk: RiskAcceptance) -> Block:
    value = decision_value(risk)
    return actions(
        button("Approve", action_id=ActionId.RISK_APPROVE, value=value, style="primary"),
        button("Reject…", action_id=ActionId.RISK_REJECT, value=value, style="danger"),
        block_id=f"risk-decide-{risk.id}-{risk.round}",
    )


def approval_request(risk: RiskAcceptance, today: date, *, renewal: bool = False) -> Message:
    what = "renew" if renewal else "accept"
    lead = (
        f":scales: {user(risk.requested_by)} asks the CIO side and the CISO side to {what} "
        f"*{risk.ref}*. One approver from each side is needed; the requester cannot approve."
    )
    return card(risk, today, lead=lead)


def approval_reminder(risk: RiskAcceptance, today: date, side: Role) -> Message:
    lead = (
        f":bell: *{risk.ref}* still needs an approval from the {ROLE_LABELS[side]} "
        f"(requested by {user(risk.requested_by)})."
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


def list_message(page: Page[RiskAcceptance], *, which: RiskFilter, today: date) -> Message:
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
    last = page.first_index + len(page.items) - 1
    blocks.append(
        context(
            f"Showing {page.first_index}–{last} of {page.total} · page {page.page} of {page.pages}"
        )
    )
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    return Message(text=f"{title}: {page.total}", blocks=blocks)


def _text(
    block_id: str,
    label: str,
    *,
    max_length: int,
    multiline: bool = False,
    optional: bool = False,
    placeholder: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=optional,
        element=PlainTextInputElement(
            action_id="value",
            multiline=multiline,
            max_length=max_length,
            placeholder=PlainTextObject(text=placeholder) if placeholder else None,
        ),
    )


def _rating(block_id: str, label: str) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        element=StaticSelectElement(
            action_id="value",
            options=[Option(value=str(n), text=PlainTextObject(text=str(n))) for n in range(1, 6)],
        ),
    )


def create_modal(*, metadata: str) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.RISK_CREATE,
        title=PlainTextObject(text="Request risk acceptance"),
        submit=PlainTextObject(text="Request"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata[:3000],
        blocks=[
            _text(BlockId.TITLE, "Title", max_length=150),
            _text(
                BlockId.DESCRIPTION, "Why accept it", max_length=2000, multiline=True, optional=True
            ),
            _text(BlockId.ASSET, "Asset / system", max_length=200, optional=True),
            _rating(BlockId.LIKELIHOOD, "Likelihood (1–5)"),
            _rating(BlockId.IMPACT, "Impact (1–5)"),
            InputBlock(
                block_id=BlockId.EXPIRES,
                label=PlainTextObject(text="Expires on"),
                element=DatePickerElement(action_id="value"),
            ),
            _text(
                BlockId.CONTROLS,
                "Compensating controls",
                max_length=2000,
                multiline=True,
                optional=True,
            ),
            _text(
                BlockId.ATTACK,
                "ATT&CK technique ids",
                max_length=300,
                optional=True,
                placeholder="T1078, T1110.001",
            ),
            _text(
                BlockId.INITIATIVE, "Initiative", max_length=20, optional=True, placeholder="INI-3"
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
            section(f"*{risk.ref}* {safe(risk.title, 200)}\n{score_text(risk)}"),
            _text(BlockId.REASON, "Why do you reject it?", max_length=500, multiline=True),
        ],
    )
