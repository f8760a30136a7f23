"""The App Home tab: the viewer's initiatives, overdue ones and those on hold, and their
touchpoints: the next meetings and the action items they own."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.initiatives import HomeSummary, Initiative, InitiativeFilter
from bot.domain.paging import Page
from bot.domain.touchpoints import TouchpointHome
from bot.slack.blocks.common import VIEW_BLOCK_LIMIT, context, divider, fit, header, section
from bot.slack.blocks.initiatives import list_line
from bot.slack.blocks.touchpoints import action_line, meeting_line

HOME_SECTION_SIZE = 10


def _part(title: str, page: Page[Initiative], which: InitiativeFilter, today: date) -> list[Block]:
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


def home_view(
    summary: HomeSummary, *, today: date, touchpoints: TouchpointHome | None = None
) -> View:
    blocks: list[Block] = [
        section(
            "*Accord* keeps the CIO and CISO sides' shared work in one place. "
            "Type `/accord help` for every command."
        ),
        *_part("Your initiatives", summary.mine, InitiativeFilter.MINE, today),
        *_part("Overdue", summary.overdue, InitiativeFilter.OVERDUE, today),
        *_part("On security hold", summary.on_hold, InitiativeFilter.HOLD, today),
        *(_touchpoint_parts(touchpoints, today) if touchpoints else []),
    ]
    blocks = fit(blocks, limit=VIEW_BLOCK_LIMIT, overflow_note="More in `/accord initiative list`")
    return View(type="home", blocks=blocks)
