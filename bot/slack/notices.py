"""The direct messages the domain asked for (`bot.domain.notices.tell`), into the outbox."""

from __future__ import annotations

from slack_sdk.models.blocks import Block
from sqlmodel import Session

from bot.domain.notices import Notice, take
from bot.services import Services
from bot.slack import send
from bot.slack.blocks.common import Message, context, safe, section
from bot.slack.blocks.errors import with_mentions


def message(notice: Notice) -> Message:
    text = with_mentions(safe(notice.text, 2500))
    blocks: list[Block] = [section(f":bell: {text}")]
    if notice.detail:
        blocks.append(context(with_mentions(safe(notice.detail, 1500))))
    return Message(text=with_mentions(safe(notice.text, 300)), blocks=blocks)


def queue_notices(session: Session, services: Services) -> int:
    """Queue every notice waiting in `session` as a DM, in its transaction; how many."""
    notices = take(session)
    for notice in notices:
        send.post(
            session,
            services,
            channel=notice.to,
            message=message(notice),
            summary=f"a note to {notice.to} about {notice.record_ref}",
        )
    return len(notices)
