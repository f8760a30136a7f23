"""Rendered messages into the outbox, inside the caller's transaction.

Nothing here talks to Slack: each function adds an outbox row to the session, and the deliverer
(bot/slack/deliver.py) sends it once the transaction commits. Use these for every message that is
not the direct answer to a request (the ack or response_url).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.domain import outbox
from bot.domain.outbox import OutboxKind, OutboxMessage
from bot.services import Services
from bot.slack.blocks.common import Message


def _queue(
    session: Session,
    services: Services,
    *,
    kind: OutboxKind,
    channel: str,
    payload: dict[str, Any],
    summary: str,
    **where: Any,
) -> OutboxMessage:
    """One outbox row with this process's clock and delivery window."""
    return outbox.enqueue(
        session,
        now=services.clock.now(),
        kind=kind,
        channel=channel,
        payload=payload,
        summary=summary,
        window=services.settings.outbox_window,
        **where,
    )


def post(
    session: Session,
    services: Services,
    *,
    channel: str,
    message: Message,
    summary: str,
    subject: str | None = None,
    notify: str | None = None,
    permalink: bool = False,
) -> OutboxMessage:
    """A message in a channel, or a DM when `channel` is a user id; with `permalink`, the
    deliverer also asks Slack for its permalink (see `outbox.on_permalink`)."""
    payload = message.payload()
    if permalink:
        payload["permalink"] = True
    return _queue(
        session,
        services,
        kind=OutboxKind.POST,
        channel=channel,
        payload=payload,
        summary=summary,
        subject=subject,
        notify=notify,
    )


def reply(
    session: Session,
    services: Services,
    *,
    parent: OutboxMessage | None,
    channel: str,
    thread_ts: str | None,
    message: Message,
    summary: str,
    notify: str | None = None,
    subject: str | None = None,
) -> OutboxMessage | None:
    """A reply in the thread of `parent` (an outbox row) or of a known `thread_ts`."""
    if parent is None and not thread_ts:
        return None
    return _queue(
        session,
        services,
        kind=OutboxKind.POST,
        channel=parent.channel if parent is not None else channel,
        payload=message.payload(),
        summary=summary,
        thread_of=parent.id if parent is not None else None,
        thread_ts=None if parent is not None else thread_ts,
        notify=notify,
        subject=subject,
    )


def update(
    session: Session, services: Services, *, target: OutboxMessage, message: Message, summary: str
) -> OutboxMessage:
    """Replace the content of the message `target` posted (once it has a ts)."""
    return _queue(
        session,
        services,
        kind=OutboxKind.UPDATE,
        channel=target.channel,
        payload=message.payload(),
        summary=summary,
        target_of=target.id,
    )


def update_ts(
    session: Session,
    services: Services,
    *,
    channel: str,
    ts: str,
    message: Message,
    summary: str,
) -> OutboxMessage:
    """Replace the content of a message known only by channel and ts."""
    return _queue(
        session,
        services,
        kind=OutboxKind.UPDATE,
        channel=channel,
        payload=message.payload(),
        summary=summary,
        target_ts=ts,
    )


def ephemeral(
    session: Session, services: Services, *, user_id: str, channel: str | None, message: Message
) -> OutboxMessage:
    """Only `user_id` sees it, in `channel`; a DM when there is no channel (or it refuses)."""
    if not channel:
        return post(session, services, channel=user_id, message=message, summary="a private note")
    return _queue(
        session,
        services,
        kind=OutboxKind.EPHEMERAL,
        channel=channel,
        user_id=user_id,
        payload=message.payload(),
        summary="a private note",
    )


def upload(
    session: Session,
    services: Services,
    *,
    user_id: str,
    filename: str,
    content: str,
    comment: str,
) -> OutboxMessage:
    """A file in the person's DM with Accord."""
    return _queue(
        session,
        services,
        kind=OutboxKind.UPLOAD,
        channel=user_id,
        payload={"text": comment, "filename": filename, "title": filename, "content": content},
        summary=f"the file `{filename}`",
        notify=user_id,
    )
