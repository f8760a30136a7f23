"""The App Home tab: what waits on the viewer ("Needs you": decisions and positions), the
viewer's initiatives, overdue ones and those on hold, and their touchpoints: the next meetings
and the action items they own."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.gate.queries import BlockedDeployments
from bot.domain.initiatives import HomeSummary, InitiativeFilter, InitiativeLine
from bot.domain.needs import NeedsYou, Waiting
from bot.domain.paging import Page
from bot.domain.roles import ROLE_LABELS, SIDES
from bot.domain.touchpoints import TouchpointHome
from bot.slack.blocks.common import (
    VIEW_BLOCK_LIMIT,
    button,
    context,
    divider,
    fit,
    header,
    safe,
    section,
)
from bot.slack.blocks.disagreements import escalation_line
from bot.slack.blocks.initiatives import list_line
from bot.slack.blocks.risks import summary_line as risk_line
from bot.slack.blocks.touchpoints import action_line, meeting_line
from bot.slack.ids import ActionId

HOME_SECTION_SIZE = 10
NEEDS_SECTION_SIZE = 5


def _part(
    title: str, page: Page[InitiativeLine], which: InitiativeFilter, today: date
) -> list[Block]:
    blocks: list[Block] = [header(f"{title} ({page.total})")]
    if not page.items:
        blocks.append(context("Nothing here."))
    blocks.extend(list_line(item, today) for item in page.items)
    if page.total > len(page.items):
        more = page.total - len(page.items)
        blocks.append(context(f"…and {more} more: `/accord initiative list {which.value}`"))
    blocks.append(divider())
    return blocks


def _lines(title: str, total: int, lines: list[str], more_hint: str) -> list[Block]:
    """A compact part: a header, one section of lines, and how to see the rest."""
    blocks: list[Block] = [header(f"{title} ({total})")]
    blocks.append(section("\n".join(lines)) if lines else context("Nothing here."))
    if total > len(lines):
        blocks.append(context(f"…and {total - len(lines)} more: {more_hint}"))
    blocks.append(divider())
    return blocks


def _touchpoint_parts(home: TouchpointHome, today: date) -> list[Block]:
    return [
        *_lines(
            "Your next touchpoints",
            home.meetings_total,
            [meeting_line(series) for series in home.meetings],
            "`/accord touchpoint list`",
        ),
        *_lines(
            "Your open action items",
            home.actions_total,
            [action_line(action, today) for action in home.actions],
            "`/accord touchpoint show TP-n` lists a series' items",
        ),
    ]


def _needs_part(
    title: str, waiting: Waiting[Any], items: list[Block], more_hint: str
) -> list[Block]:
    if not waiting.total:
        return []
    blocks: list[Block] = [section(f"*{title}* ({waiting.total})"), *items]
    if waiting.total > len(waiting.items):
        blocks.append(context(f"…and {waiting.total - len(waiting.items)} more: {more_hint}"))
    return blocks


def needs_you_part(needs: NeedsYou) -> list[Block]:
    """Decisions and positions waiting on the viewer, each with a button to open the record."""
    total = needs.risks.total + needs.escalations.total + needs.disagreements.total
    blocks: list[Block] = [header(f"Needs you ({total})")]
    if needs.is_empty:
        return [*blocks, context("Nothing waits on you right now."), divider()]
    today = needs.today
    risk_items: list[Block] = [
        section(
            risk_line(risk, today),
            accessory=button("Show", action_id=ActionId.RISK_SHOW, value=str(risk.id)),
        )
        for risk in needs.risks.items
    ]
    escalation_items: list[Block] = [
        section(
            f"{escalation_line(e, today)}\n{safe(e.question, 300)}"
            + (
                f"\nIts brief, with the decision buttons, is in <#{e.channel_id}> · "
                f"`/accord escalate show {e.ref}`"
                if e.channel_id and e.thread_ts
                else f"\n`/accord escalate show {e.ref}`"
            ),
            accessory=button(
                "Show", action_id=ActionId.DISAGREEMENT_SHOW, value=str(e.disagreement_id)
            ),
        )
        for e in needs.escalations.items
    ]
    disagreement_items: list[Block] = [
        section(
            f"*{d.ref}* {safe(d.subject, 200)}\n"
            + ", ".join(f"{ROLE_LABELS[s]}: _not yet stated_" for s in SIDES if not d.position(s))
            + f" · `/accord disagree position {d.ref} …`",
            accessory=button("Show", action_id=ActionId.DISAGREEMENT_SHOW, value=str(d.id)),
        )
        for d in needs.disagreements.items
    ]
    return [
        *blocks,
        *_needs_part(
            "Risk acceptances awaiting your side's decision",
            needs.risks,
            risk_items,
            "`/accord risk list pending`",
        ),
        *_needs_part(
            "Escalations awaiting an executive decision",
            needs.escalations,
            escalation_items,
            "`/accord escalate list`",
        ),
        *_needs_part(
            "Disagreements awaiting your side's position",
            needs.disagreements,
            disagreement_items,
            "`/accord disagree list`",
        ),
        divider(),
    ]


def blocked_part(blocked: BlockedDeployments | None) -> list[Block]:
    """How often the gate said no in the last seven days, and for which holds."""
    if blocked is None or not blocked.count:
        return []
    holds = ", ".join(f"{ref} ({count})" for ref, count in blocked.by_initiative[:8])
    plural = "s" if blocked.count != 1 else ""
    return [
        section(
            f":no_entry: *{blocked.count} deployment{plural} blocked this week* by {holds} · "
            "`/accord gate status`"
        )
    ]


def home_view(
    summary: HomeSummary,
    *,
    today: date,
    touchpoints: TouchpointHome | None = None,
    needs: NeedsYou | None = None,
    blocked: BlockedDeployments | None = None,
) -> View:
    blocks: list[Block] = [
        section(
            "*Accord* keeps the CIO and CISO sides' shared work in one place. "
            "Type `/accord help` for every command."
        ),
        *(needs_you_part(needs) if needs else []),
        *_part("Your initiatives", summary.mine, InitiativeFilter.MINE, today),
        *_part("Overdue", summary.overdue, InitiativeFilter.OVERDUE, today),
        *_part("On security hold", summary.on_hold, InitiativeFilter.HOLD, today),
        *blocked_part(blocked),
        *(_touchpoint_parts(touchpoints, today) if touchpoints else []),
    ]
    blocks = fit(blocks, limit=VIEW_BLOCK_LIMIT, overflow_note="More in `/accord initiative list`")
    return View(type="home", blocks=blocks)
