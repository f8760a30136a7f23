"""Building blocks shared by every renderer, kept inside Block Kit's limits."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.domain.paging import Page
from bot.slack.blocks.serialize import as_dict
from bot.slack.ids import page_button_id
from bot.slack.text import escape

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
FALLBACK_TEXT_LIMIT = 3000
#: Slack refuses messages near 13,000 characters of block text; Accord sends at most this many.
MESSAGE_TEXT_BUDGET = 11_000
_ENTITY_TAIL = re.compile(r"&[a-z]{0,4}$")
_MARKUP_TAIL = re.compile(r"<[^<>]*$")


@dataclass
class Message:
    """A message or reply: fallback text for notifications plus blocks.

    Both are mrkdwn that Slack parses, so renderers escape user text in `text` as well.
    """

    text: str
    blocks: list[Block] = field(default_factory=list)
    #: The last rendering and the blocks it was made from (slack_sdk validates every block
    #: as it renders it, and a reply is rendered twice: checked in the guard, then sent).
    _rendered: tuple[tuple[Block, ...], list[dict[str, Any]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def block_dicts(self) -> list[dict[str, Any]]:
        """The blocks as sent, shortened where needed to stay within the text budget (rendered
        once: slack_sdk validates every block as it renders it)."""
        rendered = self._rendered
        if rendered is None or not _same(rendered[0], self.blocks):
            dicts = [as_dict(b) for b in self.blocks]
            # to_dict builds fresh dicts, so clipping them in place touches no block.
            rendered = self._rendered = (tuple(self.blocks), fit_text(dicts, MESSAGE_TEXT_BUDGET))
        return list(rendered[1])

    def payload(self) -> dict[str, Any]:
        """The message as an outbox row stores it (what chat.postMessage/update take)."""
        return {"text": self.text, "blocks": self.block_dicts()}


def _text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object in `node`, in document order (walked without recursion: this runs
    on every message sent)."""
    found: list[dict[str, Any]] = []
    pending: list[Any] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if item.get("type") in ("plain_text", "mrkdwn") and isinstance(item.get("text"), str):
                found.append(item)
            children = [v for v in item.values() if isinstance(v, (dict, list))]
        elif isinstance(item, list):
            children = [v for v in item if isinstance(v, (dict, list))]
        else:
            continue
        pending.extend(reversed(children))
    return found


def text_length(blocks: list[dict[str, Any]]) -> int:
    """Characters of text in rendered blocks, as Slack counts them toward a message's size."""
    return sum(len(obj["text"]) for obj in _text_objects(blocks))


def fit_text(blocks: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Clip the longest mrkdwn texts (markup-aware) until the blocks hold at most `budget`
    characters of text; short lines are left whole, long ones all end at the same length."""
    objects = _text_objects(blocks)
    total = sum(len(obj["text"]) for obj in objects)
    if total <= budget:
        return blocks
    shrinkable = [obj for obj in objects if obj["type"] == "mrkdwn"]
    room = budget - (total - sum(len(obj["text"]) for obj in shrinkable))
    low, high = 40, max((len(obj["text"]) for obj in shrinkable), default=40)
    while low < high:  # the longest cap at which everything fits
        cap = (low + high + 1) // 2
        if sum(min(len(obj["text"]), cap) for obj in shrinkable) <= room:
            low = cap
        else:
            high = cap - 1
    for obj in shrinkable:
        obj["text"] = clip(obj["text"], low)
    return blocks


def _same(before: Sequence[Block], now: Sequence[Block]) -> bool:
    return len(before) == len(now) and all(a is b for a, b in zip(before, now, strict=True))


def clip(text: str, limit: int) -> str:
    """Shorten text to `limit` characters with an ellipsis, never leaving half an `&amp;`
    entity or half a `<@U…>` mention behind (the text may already be mrkdwn)."""
    if len(text) <= limit:
        return text
    cut = _MARKUP_TAIL.sub("", _ENTITY_TAIL.sub("", text[: limit - 1]))
    return cut.rstrip() + "…"


def safe(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """User text for mrkdwn: shown up to `limit` characters as typed, then escaped.

    The limit counts what people see, so `&` or `<` in a title do not eat its length; the
    section that holds it is clipped again (markup-aware) to Slack's hard limits."""
    return escape(clip(text, limit))


def user(user_id: str | None) -> str:
    """A mention of a user id Accord validated; never built from free text."""
    return f"<@{user_id}>" if user_id else "_unassigned_"


def days_from_today(days: int) -> str:
    """`today`, `in 1 day`, `in 5 days`, `1 day ago`, `3 days ago`: never `-1 days`."""
    if days == 0:
        return "today"
    count = f"{abs(days)} day{'' if abs(days) == 1 else 's'}"
    return f"in {count}" if days > 0 else f"{count} ago"


def state_words(value: str) -> str:
    """A state as people read it (`pending approval`, not `pending_approval`)."""
    return value.replace("_", " ")


def day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT), emoji=True))


def section(text: str, *, accessory: ButtonElement | None = None) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=clip(text, SECTION_TEXT_LIMIT)), accessory=accessory
    )


def fields_section(fields: Sequence[str]) -> SectionBlock:
    return SectionBlock(fields=[MarkdownTextObject(text=clip(text, 2000)) for text in fields[:10]])


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)) for t in texts[:10]])


def divider() -> DividerBlock:
    return DividerBlock()


def button(
    text: str, *, action_id: str, value: str, style: str | None = None, url: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT_LIMIT), emoji=True),
        action_id=action_id,
        value=value[:2000],
        style=style,
        url=url,
    )


def actions(*buttons: ButtonElement, block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(elements=list(buttons[:25]), block_id=block_id)


def fit(blocks: list[Block], *, limit: int, overflow_note: str) -> list[Block]:
    """Keep a list of blocks inside a surface's limit, ending with a note when cut."""
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], context(overflow_note)]


def page_footer(
    page: Page[Any], *, action_id: str, value_for: Callable[[int], str], hint: str = ""
) -> list[Block]:
    """ "Showing 21–40 of 300" and Previous/Next buttons whose value names the page to show."""
    last = page.first_index + len(page.items) - 1
    blocks: list[Block] = [
        context(
            f"Showing {page.first_index}–{last} of {page.total} · page {page.page} of {page.pages}"
            + (f" · {hint}" if hint and page.pages > 1 else "")
        )
    ]
    nav = []
    if page.has_previous:
        previous = page_button_id(action_id, "previous")
        nav.append(button("◀ Previous", action_id=previous, value=value_for(page.page - 1)))
    if page.has_next:
        following = page_button_id(action_id, "next")
        nav.append(button("Next ▶", action_id=following, value=value_for(page.page + 1)))
    if nav:
        blocks.append(actions(*nav))
    return blocks
