"""Renderers for initiatives: a card, a list line, a paginated list, and the modals."""

from __future__ import annotations

import json
from datetime import date

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.audit import AuditEvent
from bot.domain.initiatives import (
    Health,
    Initiative,
    InitiativeFilter,
    InitiativeLine,
    InitiativeStatus,
)
from bot.domain.paging import Page
from bot.domain.permissions import Permission, allowed
from bot.domain.roles import Actor
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
from bot.slack.blocks.general import audit_feed
from bot.slack.blocks.inputs import date_input, modal, options, text_input, user_input
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.text import escape

HEALTH_ICON = {
    Health.GREEN: ":large_green_circle:",
    Health.AMBER: ":large_orange_circle:",
    Health.RED: ":red_circle:",
}
STATUS_ICON = {
    InitiativeStatus.PROPOSED: ":seedling:",
    InitiativeStatus.ACTIVE: ":arrow_forward:",
    InitiativeStatus.BLOCKED: ":no_entry:",
    InitiativeStatus.DONE: ":white_check_mark:",
    InitiativeStatus.CANCELLED: ":heavy_multiplication_x:",
}
LIST_PAGE_SIZE = 20
FILTER_TITLES = {
    InitiativeFilter.OPEN: "Open initiatives",
    InitiativeFilter.ALL: "All initiatives",
    InitiativeFilter.MINE: "Initiatives you own",
    InitiativeFilter.BLOCKED: "Blocked initiatives",
    InitiativeFilter.OVERDUE: "Overdue initiatives",
    InitiativeFilter.HOLD: "Initiatives on security hold",
    InitiativeFilter.RED: "Initiatives in red",
}


def _due(initiative: Initiative | InitiativeLine, today: date) -> str:
    if initiative.due_date is None:
        return "no due date"
    if initiative.is_overdue(today):
        return f":warning: *overdue* since {initiative.due_date.isoformat()}"
    return f"due {initiative.due_date.isoformat()}"


def covers_text(initiative: Initiative | InitiativeLine, *, limit: int = 3) -> str:
    """`payments-api@production`, … as code spans (the names are limited to safe characters)."""
    covers = initiative.covers
    shown = " ".join(f"`{cover}`" for cover in covers[:limit])
    more = f" and {len(covers) - limit} more" if len(covers) > limit else ""
    return shown + more


def summary_line(initiative: Initiative | InitiativeLine, today: date) -> str:
    """One compact line, used in lists, the Home tab and (later) agendas and digests."""
    hold = " · :lock: *on hold*" if initiative.on_hold else ""
    if initiative.covers:
        verb = "blocks" if initiative.on_hold else "covers"
        hold += f" · {verb} {covers_text(initiative)}"
    return (
        f"*{initiative.ref}* {safe(initiative.title, 200)}\n"
        f"{HEALTH_ICON[initiative.health]} {initiative.status.value} · {_due(initiative, today)}"
        f" · CIO {user(initiative.cio_owner_id)} · CISO {user(initiative.ciso_owner_id)}{hold}"
    )


def list_line(initiative: Initiative | InitiativeLine, today: date) -> Block:
    return section(
        summary_line(initiative, today),
        accessory=button("Show", action_id=ActionId.INITIATIVE_SHOW, value=str(initiative.id)),
    )


def budget_text(initiative: Initiative) -> str:
    """`120,000 EUR/year · CISO side · requested`, or — without a budget."""
    if initiative.budget is None:
        return "—"
    parts = [str(initiative.budget), str(initiative.funding or "funding not set")]
    if initiative.money_state is not None:
        parts.append(initiative.money_state.value)
    return escape(" · ".join(parts))


def saved_lead(lead: str, initiative: Initiative, today: date, *, due_given: bool) -> str:
    """The answer's first line, with a warning when the due date just given is past."""
    due = initiative.due_date
    if not due_given or due is None or due >= today:
        return lead
    return (
        f"{lead}\n:warning: The due date {due.isoformat()} is in the past, so *{initiative.ref}* "
        "shows as overdue (fine for work brought in late; "
        f"`/accord initiative update {initiative.ref} due:YYYY-MM-DD` changes it)."
    )


def card(
    initiative: Initiative, today: date, *, lead: str | None = None, viewer: Actor | None = None
) -> Message:
    """The full view of one initiative, with the next steps as buttons: for a `viewer` (an
    answer only they see), only the buttons they may use, so nobody opens a form to be
    refused at the end of it."""
    blocks: list[Block] = []
    if lead:
        blocks.append(section(lead))
    blocks.append(header(f"{initiative.ref} · {initiative.title}"))
    if initiative.on_hold:
        blocks.append(
            section(
                f":lock: *Security hold* placed by {user(initiative.hold_by)}: "
                f"{safe(initiative.hold_reason or '', 600)}"
            )
        )
    tags = " ".join(f"`#{tag}`" for tag in initiative.tags) or "—"
    blocks.append(
        fields_section(
            [
                f"*Status*\n{STATUS_ICON[initiative.status]} {initiative.status.value}",
                f"*Health*\n{HEALTH_ICON[initiative.health]} {initiative.health.value}",
                f"*CIO-side owner*\n{user(initiative.cio_owner_id)}",
                f"*CISO-side owner*\n{user(initiative.ciso_owner_id)}",
                f"*Due*\n{_due(initiative, today)}",
                f"*Tags*\n{tags}",
                f"*Covers*\n{covers_text(initiative, limit=20) or '—'}",
                f"*Budget*\n{budget_text(initiative)}",
            ]
        )
    )
    if initiative.description:
        blocks.append(section(safe(initiative.description, 2900)))
    blocks.append(
        context(
            f"Created by {user(initiative.created_by)} on {initiative.created_at:%Y-%m-%d} · "
            f"last change by {user(initiative.updated_by)} on {initiative.updated_at:%Y-%m-%d}"
        )
    )
    value = str(initiative.id)

    def may(permission: Permission) -> bool:
        return viewer is None or allowed(viewer, permission, initiative)

    buttons = []
    if may(Permission.INITIATIVE_EDIT):
        buttons.append(
            button("Update", action_id=ActionId.INITIATIVE_EDIT, value=value, style="primary")
        )
    if initiative.on_hold and may(Permission.HOLD_RELEASE):
        buttons.append(button("Release hold", action_id=ActionId.INITIATIVE_RELEASE, value=value))
    elif not initiative.on_hold and may(Permission.HOLD_PLACE):
        buttons.append(
            button(
                "Place security hold",
                action_id=ActionId.INITIATIVE_HOLD,
                value=value,
                style="danger",
            )
        )
    buttons.append(button("Audit trail", action_id=ActionId.INITIATIVE_AUDIT, value=value))
    blocks.append(actions(*buttons))
    text = f"{initiative.ref}: {safe(initiative.title, 200)}"
    return Message(text=(f"{lead} " if lead else "") + text, blocks=blocks)


def page_value(which: InitiativeFilter, tag: str | None, page: int) -> str:
    return json.dumps({"f": which.value, "t": tag, "p": page}, separators=(",", ":"))


def list_message(
    page: Page[InitiativeLine], *, which: InitiativeFilter, tag: str | None, today: date
) -> Message:
    """One page of a list; Previous/Next buttons carry the filter so any page can be reached."""
    title = FILTER_TITLES[which] + (f" tagged #{tag}" if tag else "")
    blocks: list[Block] = [header(f"{title} ({page.total})")]
    if not page.items:
        hint = "Create one with `/accord initiative new <title>`."
        blocks.append(section(f"Nothing here. {hint}"))
        return Message(text=f"{title}: none", blocks=blocks)
    blocks.extend(list_line(item, today) for item in page.items)
    blocks.extend(
        page_footer(
            page, action_id=ActionId.INITIATIVE_PAGE, value_for=lambda n: page_value(which, tag, n)
        )
    )
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    return Message(text=f"{title}: {page.total}", blocks=blocks)


def audit_message(ref: str, events: list[AuditEvent]) -> Message:
    return audit_feed(events, title=f"Audit trail · {ref}")


def create_modal(*, metadata: str) -> View:
    """Same fields as `/accord initiative new`; `metadata` remembers where to confirm."""
    return modal(
        CallbackId.INITIATIVE_CREATE,
        "New initiative",
        "Create",
        metadata,
        [
            text_input(BlockId.TITLE, "Title", max_length=150),
            text_input(
                BlockId.DESCRIPTION, "Description", multiline=True, max_length=2000, optional=True
            ),
            user_input(BlockId.CIO_OWNER, "CIO-side owner", None),
            user_input(BlockId.CISO_OWNER, "CISO-side owner", None),
            date_input(BlockId.DUE, "Due date"),
            text_input(
                BlockId.TAGS,
                "Tags",
                optional=True,
                max_length=300,
                placeholder="zero-trust, network",
            ),
            covers_input(""),
            *budget_inputs(),
        ],
    )


def budget_inputs(initiative: Initiative | None = None) -> list[InputBlock]:
    """Budget, funding side and money state, typed as `/accord initiative update` takes them."""
    budget, funding = (initiative.budget, initiative.funding) if initiative else (None, None)
    per = "/year" if budget and budget.period.value == "per-year" else "/once"
    shares = (
        f"shared:{funding.cio_share}/{100 - funding.cio_share}"
        if funding and funding.side.value == "shared"
        else (funding.side.value if funding else "")
    )
    state = initiative.money_state if initiative else None
    choices = options(["requested", "approved", "spent"])
    return [
        text_input(
            BlockId.BUDGET,
            "Budget",
            optional=True,
            max_length=40,
            initial=f"{budget.amount}{budget.currency}{per}" if budget else "",
            placeholder="120000EUR/year or 80kUSD",
        ),
        text_input(
            BlockId.FUNDING,
            "Funded by",
            optional=True,
            max_length=20,
            initial=shares,
            placeholder="cio, ciso or shared:60/40",
        ),
        InputBlock(
            block_id=BlockId.MONEY,
            label=PlainTextObject(text="Budget state"),
            optional=True,
            element=StaticSelectElement(
                action_id="value",
                options=choices,
                initial_option=next((o for o in choices if state and o.value == state.value), None),
            ),
        ),
    ]


def covers_input(initial: str) -> InputBlock:
    return text_input(
        BlockId.COVERS,
        "Covers (deployments it holds)",
        optional=True,
        initial=initial,
        max_length=2000,
        placeholder="payments-api@production github:acme/payments@*",
    )


def edit_modal(initiative: Initiative, *, metadata: str) -> View:
    def select(block_id: str, label: str, values: list[str], initial: str) -> InputBlock:
        choices = options(values)
        return InputBlock(
            block_id=block_id,
            label=PlainTextObject(text=label),
            element=StaticSelectElement(
                action_id="value",
                options=choices,
                initial_option=next(o for o in choices if o.value == initial),
            ),
        )

    return modal(
        CallbackId.INITIATIVE_EDIT,
        clip(f"Update {initiative.ref}", 24),
        "Save",
        metadata,
        [
            text_input(BlockId.TITLE, "Title", initial=initiative.title, max_length=150),
            select(
                BlockId.STATUS,
                "Status",
                [s.value for s in InitiativeStatus],
                initiative.status.value,
            ),
            select(BlockId.HEALTH, "Health", [h.value for h in Health], initiative.health.value),
            user_input(BlockId.CIO_OWNER, "CIO-side owner", initiative.cio_owner_id),
            user_input(BlockId.CISO_OWNER, "CISO-side owner", initiative.ciso_owner_id),
            InputBlock(
                block_id=BlockId.DUE,
                label=PlainTextObject(text="Due date"),
                optional=True,
                element=DatePickerElement(
                    action_id="value",
                    initial_date=initiative.due_date.isoformat() if initiative.due_date else None,
                ),
            ),
            text_input(
                BlockId.DESCRIPTION,
                "Description",
                multiline=True,
                max_length=2000,
                optional=True,
                initial=initiative.description,
            ),
            text_input(
                BlockId.TAGS,
                "Tags",
                optional=True,
                max_length=300,
                initial=" ".join(initiative.tags),
                placeholder="zero-trust, network",
            ),
            covers_input(" ".join(str(cover) for cover in initiative.covers)),
            *budget_inputs(initiative),
        ],
    )


def reason_modal(initiative: Initiative, *, release: bool, metadata: str) -> View:
    verb = "Release hold" if release else "Security hold"
    prompt = "Why can the work go on?" if release else "Why must this work stop?"
    return modal(
        CallbackId.INITIATIVE_RELEASE if release else CallbackId.INITIATIVE_HOLD,
        clip(f"{verb} {initiative.ref}", 24),
        "Release" if release else "Place hold",
        metadata,
        [
            section(f"*{initiative.ref}* {safe(initiative.title, 200)}"),
            text_input(BlockId.REASON, prompt, multiline=True, max_length=500),
        ],
    )
