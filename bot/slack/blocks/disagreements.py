"""Renderers for disagreements and escalations: card, list, brief, thread posts, modals."""

from __future__ import annotations

import json
from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.domain.disagreements import Disagreement, DisagreementState
from bot.domain.escalations import Escalation, EscalationState, option_key
from bot.domain.initiatives import Initiative
from bot.domain.paging import Page
from bot.domain.roles import ROLE_LABELS, Role
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    Message,
    actions,
    button,
    clip,
    context,
    fields_section,
    header,
    page_footer,
    safe,
    section,
    user,
)
from bot.slack.blocks.inputs import modal, text_input
from bot.slack.ids import ActionId, BlockId, CallbackId

STATE_ICON = {
    DisagreementState.OPEN: ":speech_balloon:",
    DisagreementState.SETTLED: ":handshake:",
    DisagreementState.ESCALATED: ":arrow_double_up:",
    DisagreementState.DECIDED: ":scales:",
    DisagreementState.WITHDRAWN: ":heavy_multiplication_x:",
}


def _position(d: Disagreement, side: Role) -> str:
    text = d.position(side)
    if not text:
        return f"*{ROLE_LABELS[side]}*\n_not yet stated_"
    return f"*{ROLE_LABELS[side]}* ({user(d.author(side))})\n{safe(text, 1900)}"


def escalation_line(e: Escalation, today: date) -> str:
    if e.state == EscalationState.DECIDED:
        return f"*{e.ref}* decided by {user(e.decided_by)}: {safe(e.decision or '', 200)}"
    if e.state == EscalationState.WITHDRAWN:
        return f"*{e.ref}* withdrawn before a decision"
    if e.state == EscalationState.POSTING:
        return f"*{e.ref}* being posted to executives"
    due = f"decide by {e.decide_by.isoformat()}" if e.decide_by else "no decision date"
    if e.is_overdue(today):
        due = f":warning: *overdue* (decision was due {e.decide_by})"
    waiting = {
        EscalationState.PENDING: "awaiting executives",
        EscalationState.MORE_INFO: "executives asked for more information",
        EscalationState.DEFERRED: "deferred",
    }[e.state]
    return f"*{e.ref}* {waiting} · {due}"


def summary_line(d: Disagreement, e: Escalation | None, today: date) -> str:
    linked = f" · {d.linked_ref}" if d.linked_ref else ""
    escalated = f"\n{escalation_line(e, today)}" if e else ""
    icon = STATE_ICON[d.state]
    return f"{icon} *{d.ref}* {safe(d.subject, 200)} · {d.state.value}{linked}{escalated}"


def _details(d: Disagreement) -> list[Block]:
    blocks: list[Block] = [fields_section([_position(d, Role.CIO), _position(d, Role.CISO)])]
    impacts = [
        f"*Business impact*\n{safe(d.business_impact, 900) or '_not stated_'}",
        f"*Security impact*\n{safe(d.security_impact, 900) or '_not stated_'}",
    ]
    blocks.append(fields_section(impacts))
    options = "\n".join(f"{i + 1}. {safe(option, 100)}" for i, option in enumerate(d.choices))
    label = "Options considered" if d.options else "Options (none recorded; the two positions)"
    blocks.append(section(f"*{label}*\n{options}"))
    return blocks


def card(d: Disagreement, e: Escalation | None, today: date, *, lead: str | None = None) -> Message:
    blocks: list[Block] = []
    if lead:
        blocks.append(section(lead))
    blocks.append(header(f"{d.ref} · {d.subject}"))
    linked = f" · about *{d.linked_ref}*" if d.linked_ref else ""
    blocks.append(
        context(
            f"{STATE_ICON[d.state]} *{d.state.value}*{linked} · raised by {user(d.raised_by)} "
            f"({ROLE_LABELS[d.raised_side]}) on {d.created_at:%Y-%m-%d}"
        )
    )
    blocks.extend(_details(d))
    if e is not None:
        blocks.append(section(escalation_line(e, today)))
    if d.outcome:
        blocks.append(section(f"*Outcome*\n{safe(d.outcome, 1000)}"))
    elif d.settle_text:
        confirmed = ", ".join(
            f"{ROLE_LABELS[side]} ({user(by)})"
            for side, by in ((Role.CIO, d.settle_cio_by), (Role.CISO, d.settle_ciso_by))
            if by
        )
        blocks.append(
            section(f"*Proposed settlement*\n{safe(d.settle_text, 1000)}\nConfirmed by {confirmed}")
        )
    if d.is_active:
        value = str(d.id)
        blocks.append(
            actions(
                button(
                    "State CIO-side position",
                    action_id=f"{ActionId.DISAGREEMENT_POSITION}.cio",
                    value=value,
                ),
                button(
                    "State CISO-side position",
                    action_id=f"{ActionId.DISAGREEMENT_POSITION}.ciso",
                    value=value,
                ),
            )
        )
    return Message(
        text=(f"{lead} " if lead else "") + f"{d.ref}: {safe(d.subject, 200)}", blocks=blocks
    )


def list_message(
    page: Page[tuple[Disagreement, Escalation | None]], *, include_closed: bool, today: date
) -> Message:
    """One page of the list; Previous/Next buttons (and `list page:N`) reach every page."""
    title = "All disagreements" if include_closed else "Open disagreements"
    blocks: list[Block] = [header(f"{title} ({page.total})")]
    if not page.items:
        blocks.append(
            section("Nothing here. Record one with `/accord disagree INI-3 <your position>`.")
        )
        return Message(text=f"{title}: none", blocks=blocks)
    for d, e in page.items:
        blocks.append(
            section(
                summary_line(d, e, today),
                accessory=button("Show", action_id=ActionId.DISAGREEMENT_SHOW, value=str(d.id)),
            )
        )
    which = "all" if include_closed else "open"
    blocks.extend(
        page_footer(
            page,
            action_id=ActionId.DISAGREEMENT_PAGE,
            value_for=lambda n: json.dumps({"all": include_closed, "p": n}),
            hint=f"`/accord disagree list {which} page:N`",
        )
    )
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    return Message(text=f"{title}: {len(page.items)} of {page.total}", blocks=blocks)


#: Escalations shown by `/accord escalate list` (each is one section block).
ESCALATION_LIST_SIZE = 25


def escalation_list(
    rows: list[tuple[Escalation, Disagreement]], *, include_decided: bool, today: date
) -> Message:
    """Escalations for executives: what waits (overdue first), each linking to its brief."""
    title = "Escalations" if include_decided else "Escalations waiting for a decision"
    blocks: list[Block] = [header(f"{title} ({len(rows)})")]
    if not rows:
        blocks.append(section("Nothing waits for a decision."))
        return Message(text=f"{title}: none", blocks=blocks)
    shown = rows[:ESCALATION_LIST_SIZE]
    for e, d in shown:
        if e.state == EscalationState.DECIDED:
            state = f"decided: {safe(e.decision or '', 120)}"
        elif e.state == EscalationState.WITHDRAWN:
            state = "withdrawn"
        elif e.is_overdue(today):
            state = f":warning: *OVERDUE* (was due {e.decide_by})"
        else:
            state = f"decide by {e.decide_by}" if e.decide_by else "no decision date set"
        addressed = f" · for {user(e.addressed_to)}" if e.addressed_to else ""
        where = f" · brief in <#{e.channel_id}>" if e.channel_id and e.thread_ts else ""
        blocks.append(
            section(
                f"*{e.ref}* {safe(d.subject, 150)} (from *{d.ref}*)\n{state}{addressed}{where}",
                accessory=button("Show", action_id=ActionId.DISAGREEMENT_SHOW, value=str(d.id)),
            )
        )
    if len(rows) > len(shown):
        blocks.append(context(f"…and {len(rows) - len(shown)} more."))
    blocks.append(context("`/accord escalate show ESC-n` shows a brief with its decision buttons."))
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    return Message(text=f"{title}: {len(rows)}", blocks=blocks)


def without_buttons(message: Message) -> Message:
    """The same message for someone who may not press its buttons."""
    kept = [block for block in message.blocks if not isinstance(block, ActionsBlock)]
    return Message(text=message.text, blocks=kept)


def decision_button_value(e: Escalation, index: int, option: str) -> str:
    """What a decision button carries: the escalation, the option and its text key."""
    return json.dumps({"e": e.id, "o": index, "k": option_key(option)})


def brief(d: Disagreement, e: Escalation, *, hold: Initiative | None, today: date) -> Message:
    """The root message in the executive channel: the question, both sides, impacts, options.

    It is re-rendered (chat.update) whenever any of that changes, so its buttons always offer
    the current options; once decided or withdrawn it has no buttons, its title says what
    happened, and a hold that stays on (`hold` is the linked initiative while it is held) is
    still shown, with who can lift it."""
    decided = e.state == EscalationState.DECIDED
    withdrawn = e.state == EscalationState.WITHDRAWN
    addressed = f" · for {user(e.addressed_to)}" if e.addressed_to else ""
    by = "Accord (time box)" if e.escalated_by == "accord" else user(e.escalated_by)
    deadline = f"decide by {e.decide_by.isoformat()}" if e.decide_by else "no decision date set"
    overdue = e.is_overdue(today)
    if overdue:
        deadline = f":warning: *OVERDUE* (was due {e.decide_by})"
    if decided:
        state = f"decided {e.decided_at:%Y-%m-%d}" if e.decided_at else "decided"
        title = f"Decided · {e.ref} · {d.subject}"
    elif withdrawn:
        state, title = "withdrawn", f"Withdrawn · {e.ref} · {d.subject}"
    else:
        state = f"decide by {deadline}"
        title = f"{'OVERDUE · ' if overdue else ''}Decision needed · {e.ref} · {d.subject}"
    blocks: list[Block] = [
        header(title),
        section(f"*Question*\n{safe(e.question, 300)}"),
        context(
            f"Escalated by {by}"
            f" from *{d.ref}*{addressed} · {state}"
            + (f" · about *{d.linked_ref}*" if d.linked_ref else "")
        ),
    ]
    if hold is not None:
        held = (
            f":lock: *{hold.ref} is on security hold* (placed by {user(hold.hold_by)}): "
            f"{safe(hold.hold_reason or '', 600)}"
        )
        if e.is_open or e.state == EscalationState.POSTING:
            held += "\nThe decision can release the hold."
        else:
            why = "the decision did not release it" if decided else "nothing was decided"
            held += (
                f"\nIt stays on: {why}. The CISO side or an executive can "
                f"`/accord initiative release {hold.ref} <reason>`."
            )
        blocks.append(section(held))
    elif e.released_hold:
        blocks.append(
            section(
                f":unlock: The security hold on *{e.released_hold}* was released by this decision."
            )
        )
    blocks.extend(_details(d))
    if e.state == EscalationState.DECIDED:
        blocks.append(section(f":scales: {escalation_line(e, today)}"))
    elif e.state == EscalationState.WITHDRAWN:
        blocks.append(
            section(
                f":heavy_multiplication_x: *{d.ref} was withdrawn*; there is nothing to decide."
                + (f"\n{safe(d.outcome or '', 600)}" if d.outcome else "")
            )
        )
    else:
        buttons = [
            button(
                clip(option, 70),
                action_id=f"{ActionId.ESCALATION_OPTION}.{index}",
                value=decision_button_value(e, index, option),
                style="primary" if index == 0 else None,
            )
            for index, option in enumerate(d.choices)
        ]
        buttons.append(
            button(
                "Need more information", action_id=ActionId.ESCALATION_MORE_INFO, value=str(e.id)
            )
        )
        buttons.append(button("Defer", action_id=ActionId.ESCALATION_DEFER, value=str(e.id)))
        blocks.append(actions(*buttons, block_id=f"decide-{e.id}"))
        blocks.append(context(f"{who_decides(e)} Updates follow in this thread."))
    if decided:
        text = f"Decided ({e.ref}): {safe(e.decision or '', 200)}"
    elif withdrawn:
        text = f"Withdrawn ({e.ref}): {safe(e.question, 300)}"
    else:
        prefix = "OVERDUE: " if overdue else ""
        text = f"{prefix}Decision needed ({e.ref}): {safe(e.question, 300)}"
    return Message(text=text, blocks=blocks)


def thread_note(text: str) -> Message:
    """A reply in the escalation thread; `text` is built by Accord with user text escaped."""
    return Message(text=clip(text, 2900), blocks=[section(text)])


def position_update(d: Disagreement, side: Role) -> Message:
    return thread_note(
        f":memo: New {ROLE_LABELS[side]} position on *{d.ref}* by {user(d.author(side))}:\n"
        f"{safe(d.position(side), 2000)}"
    )


def details_update(d: Disagreement) -> Message:
    return Message(
        text=f"{d.ref} was updated",
        blocks=[section(f":pencil2: *{d.ref}* was updated:"), *_details(d)],
    )


def decision_note(e: Escalation, d: Disagreement) -> Message:
    rationale = f"\n*Rationale:* {safe(e.rationale or '', 1500)}" if e.rationale else ""
    released = (
        f"\n:unlock: The security hold on *{e.released_hold}* is released."
        if e.released_hold
        else ""
    )
    return thread_note(
        f":scales: *Decision on {e.ref}* ({d.ref}) by {user(e.decided_by)}: "
        f"*{safe(e.decision or '', 200)}*{rationale}{released}"
    )


def more_info_note(e: Escalation, actor_id: str) -> Message:
    return thread_note(
        f":mag: {user(actor_id)} needs more information before deciding {e.ref}:\n"
        f"{safe(e.rationale or '', 1500)}"
    )


def defer_note(e: Escalation, actor_id: str) -> Message:
    return thread_note(
        f":hourglass: {user(actor_id)} deferred {e.ref} to *{e.decide_by}*: "
        f"{safe(e.rationale or '', 1500)}"
    )


def overdue_note(e: Escalation) -> Message:
    return thread_note(
        f":warning: *{e.ref} is overdue*: the decision was due {e.decide_by}. "
        "Executives, please decide with the buttons above."
    )


def position_request(d: Disagreement, side: Role) -> Message:
    text = (
        f":speech_balloon: {user(d.raised_by)} recorded *{d.ref}* {safe(d.subject, 200)}. "
        f"What is the {ROLE_LABELS[side]}'s position?"
    )
    return Message(
        text=f"{d.ref}: your side's position is asked",
        blocks=[
            section(text),
            fields_section([_position(d, Role.CIO), _position(d, Role.CISO)]),
            actions(
                button(
                    f"State the {ROLE_LABELS[side]} position",
                    action_id=f"{ActionId.DISAGREEMENT_POSITION}.{side.value}",
                    value=str(d.id),
                    style="primary",
                )
            ),
        ],
    )


def settlement_request(d: Disagreement, proposer: str) -> Message:
    return Message(
        text=f"{d.ref}: confirm the settlement",
        blocks=[
            section(
                f":handshake: {user(proposer)} proposes to settle *{d.ref}* "
                f"{safe(d.subject, 200)}:\n> {safe(d.settle_text or '', 1000)}"
            ),
            actions(
                button(
                    "Confirm settlement",
                    action_id=ActionId.DISAGREEMENT_SETTLE,
                    value=json.dumps({"d": d.id, "v": d.settle_version}),
                    style="primary",
                )
            ),
            context(
                "Both sides must confirm; to disagree, propose another outcome with "
                "`/accord disagree settle`."
            ),
        ],
    )


def withdrawn_note(d: Disagreement, actor_id: str) -> Message:
    return thread_note(
        f":heavy_multiplication_x: {user(actor_id)} withdrew *{d.ref}*; there is nothing left "
        f"to decide.\n{safe(d.outcome or '', 1000)}"
    )


def timebox_proposal(d: Disagreement, *, reason: str, grace_days: int) -> Message:
    return Message(
        text=f"{d.ref} is past its time box: escalate?",
        blocks=[
            section(
                f":alarm_clock: *{d.ref}* {safe(d.subject, 200)} {reason}. "
                f"It will be escalated to executives automatically in {grace_days} days unless "
                "a side snoozes it with a reason."
            ),
            actions(
                button(
                    "Escalate now",
                    action_id=ActionId.DISAGREEMENT_ESCALATE,
                    value=str(d.id),
                    style="primary",
                ),
                button("Snooze", action_id=ActionId.DISAGREEMENT_SNOOZE, value=str(d.id)),
            ),
        ],
    )


# --- modals -----------------------------------------------------------------------------------


def position_modal(d: Disagreement, side: Role, *, metadata: str) -> View:
    return modal(
        CallbackId.DISAGREEMENT_POSITION,
        f"{d.ref} position",
        "Save",
        metadata,
        [
            section(
                f"*{d.ref}* {safe(d.subject, 200)}\nOther side: "
                + _position(d, Role.CIO if side == Role.CISO else Role.CISO)
            ),
            text_input(
                BlockId.POSITION,
                f"The {ROLE_LABELS[side]} position",
                max_length=2000,
                multiline=True,
            ),
        ],
    )


def snooze_modal(d: Disagreement, *, metadata: str) -> View:
    return modal(
        CallbackId.DISAGREEMENT_SNOOZE,
        f"Snooze {d.ref}",
        "Snooze",
        metadata,
        [
            section(f"*{d.ref}* {safe(d.subject, 200)}"),
            text_input(BlockId.REASON, "Why not escalate yet?", max_length=500, multiline=True),
        ],
    )


#: The hold checkbox's one value; the shell fills it in as `release_hold=yes`, too.
RELEASE_HOLD_YES = "yes"


def decide_modal(e: Escalation, option: str, *, hold: Initiative | None, metadata: str) -> View:
    blocks: list[Block] = [
        section(f"Decide *{e.ref}*: *{safe(option, 100)}*"),
        context(
            "If either side changes the options before you submit, nothing is recorded and "
            "you get the current brief."
        ),
        text_input(
            BlockId.RATIONALE,
            "Rationale (recorded and shared)",
            max_length=1500,
            multiline=True,
        ),
    ]
    if hold is not None:
        blocks.append(
            InputBlock(
                block_id=BlockId.RELEASE_HOLD,
                label=PlainTextObject(text="Security hold"),
                optional=True,
                element=CheckboxesElement(
                    action_id="value",
                    options=[
                        Option(
                            value=RELEASE_HOLD_YES,
                            text=PlainTextObject(text=clip(f"Release the hold on {hold.ref}", 75)),
                        )
                    ],
                ),
            )
        )
    return modal(CallbackId.ESCALATION_DECIDE, f"Decide {e.ref}", "Decide", metadata, blocks)


def more_info_modal(e: Escalation, *, metadata: str) -> View:
    return modal(
        CallbackId.ESCALATION_MORE_INFO,
        f"More info {e.ref}",
        "Ask",
        metadata,
        [
            text_input(
                BlockId.RATIONALE, "What do you need to decide?", max_length=1500, multiline=True
            )
        ],
    )


def defer_modal(e: Escalation, *, metadata: str) -> View:
    return modal(
        CallbackId.ESCALATION_DEFER,
        f"Defer {e.ref}",
        "Defer",
        metadata,
        [
            InputBlock(
                block_id=BlockId.DEFER_TO,
                label=PlainTextObject(text="Decide by"),
                element=DatePickerElement(action_id="value"),
            ),
            text_input(BlockId.RATIONALE, "Why defer?", max_length=1500, multiline=True),
        ],
    )


def who_decides(e: Escalation) -> str:
    """Who may decide, as the policy has it: the addressed executive (or their delegate), or
    any executive on neither side."""
    if e.addressed_to:
        delegate = f" (or their delegate {user(e.delegate)})" if e.delegate else ""
        return f"Only {user(e.addressed_to)}{delegate} decides; nobody on the CIO or CISO side."
    return "Only configured executives on neither side can decide."
