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
from bot.slack.text import escape

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
FALLBACK_TEXT_LIMIT = 3000
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
        rendered = self._rendered
        if rendered is None or not _same(rendered[0], self.blocks):
            rendered = self._rendered = (tuple(self.blocks), [b.to_dict() for b in self.blocks])
        return list(rendered[1])

    def payload(self) -> dict[str, Any]:
        """The message as an outbox row stores it (what chat.postMessage/update take)."""
        return {"text": self.text, "blocks": self.block_dicts()}


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
        nav.append(button("◀ Previous", action_id=action_id, value=value_for(page.page - 1)))
    if page.has_next:
        nav.append(button("Next ▶", action_id=action_id, value=value_for(page.page + 1)))
    if nav:
        blocks.append(actions(*nav))
    return blocks
