"""Decisions and action items written in an agenda's thread.

Syntax, one item per line (other lines, and other replies, are ignored silently; a line that
starts like an item but is incomplete is named in the reply, and the other items are recorded):

    decision: <text>
    action: <text> @owner [due:YYYY-MM-DD]

Only replies in the thread of a posted agenda count; bot messages, edits and deletions do not.
Slack may deliver an event more than once, so the message (channel + ts) is claimed as a
request key in the same transaction that records the items: a retry records nothing twice.
The author gets a short reply in the thread (or, if something is wrong, one ephemeral note:
its own key is claimed in a separate transaction, so a retried delivery does not repeat it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from bot.db import session_scope
from bot.domain import touchpoints as service
from bot.domain.errors import InvalidInput
from bot.domain.touchpoints import RefusedLine, ThreadEntry
from bot.domain.validation import parse_date
from bot.services import Services
from bot.slack import send
from bot.slack.blocks import touchpoints as render
from bot.slack.blocks.common import Message
from bot.slack.commands.base import CommandContext, Outcome, Reply
from bot.slack.guard import Duplicate, Failure, attempt, unit_of_work
from bot.slack.listeners.interaction import interaction_unit
from bot.slack.notifier import SlackNotifier
from bot.slack.text import neutralise

log = logging.getLogger(__name__)

SYNTAX = "`decision: <text>` or `action: <text> @owner [due:YYYY-MM-DD]`"
_LINE = re.compile(r"^\s*(?:[-*•]\s*)?(decision|action)\s*:\s*(.*)$", re.IGNORECASE)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
#: Replies that are thread messages written by a person (a broadcast reply counts too).
_PERSON_SUBTYPES = (None, "thread_broadcast")


@dataclass(frozen=True)
class ParsedReply:
    entries: list[ThreadEntry]
    refused: list[RefusedLine]


def parse_reply(text: str) -> ParsedReply:
    """The items in a reply, and the lines that start like an item but are incomplete (each
    with the correct form); lines that do not start like an item are ignored."""
    entries: list[ThreadEntry] = []
    refused: list[RefusedLine] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if not match:
            continue
        kind, rest = match.group(1).lower(), match.group(2).strip()
        try:
            entry = _decision(rest) if kind == "decision" else _action(rest)
        except InvalidInput as error:
            reason = error.message + (f" {error.hint}" if error.hint else "")
            refused.append(RefusedLine(line=number, reason=reason))
            continue
        entries.append(replace(entry, line=number))
    return ParsedReply(entries=entries, refused=refused)


def _decision(rest: str) -> ThreadEntry:
    text = neutralise(rest).strip()
    if not text:
        raise InvalidInput("That decision is empty.", hint=f"Write {SYNTAX} in the thread.")
    return ThreadEntry(kind="decision", text=text)


def _action(rest: str) -> ThreadEntry:
    owner: str | None = None
    due = None
    words = []
    for token in rest.split():
        bare = token.removeprefix("owner:")
        mention = _MENTION.fullmatch(bare)
        if mention and owner is None:
            owner = mention.group(1)
        elif token.lower().startswith("due:"):
            due = parse_date(token[4:], field="due")
        else:
            words.append(token)
    text = neutralise(" ".join(words)).strip()
    if not text or owner is None:
        raise InvalidInput(
            "An action item needs what is to be done and an @owner.",
            hint="e.g. `action: Patch the VPN gateway @bo due:2027-04-01`",
        )
    return ThreadEntry(kind="action", text=text, owner_id=owner, due=due)


def _nothing_recorded(refused: list[RefusedLine]) -> InvalidInput:
    lines = "; ".join(f"line {r.line}: {r.reason}" for r in refused[:5])
    return InvalidInput(f"Nothing in your reply was recorded ({lines})")


def _is_candidate(event: dict[str, Any]) -> bool:
    thread_ts = event.get("thread_ts")
    return bool(
        event.get("subtype") in _PERSON_SUBTYPES
        and not event.get("bot_id")
        and event.get("user")
        and event.get("channel")
        and thread_ts
        and thread_ts != event.get("ts")
        and any(_LINE.match(line) for line in str(event.get("text") or "").splitlines())
    )


def on_message(services: Services, notifier: SlackNotifier, event: dict[str, Any]) -> None:
    """Handle one `message` event; anything but an item in an agenda's thread is ignored."""
    if not _is_candidate(event):
        return
    channel, thread_ts = str(event["channel"]), str(event["thread_ts"])
    user_id, text = str(event["user"]), str(event.get("text") or "")
    with session_scope(services.engine) as session:
        occurrence = service.agenda_occurrence(session, channel_id=channel, message_ts=thread_ts)
        if occurrence is None:
            return  # another thread
        occurrence_id, series_id = occurrence.id, occurrence.series_id
    assert occurrence_id is not None

    def work(ctx: CommandContext) -> Outcome:
        parsed = parse_reply(text)
        captured = service.capture_from_thread(
            ctx.session,
            actor=ctx.actor,
            occurrence_id=occurrence_id,
            entries=parsed.entries,
            now=ctx.now,
        )
        refused = sorted(parsed.refused + captured.refused, key=lambda r: r.line)
        if not captured.recorded:
            raise _nothing_recorded(refused)
        series = service.get_series(ctx.session, number=series_id)
        confirmation = render.thread_captured(series, captured.recorded, refused=refused)
        # The confirmation in the thread commits with what it confirms (the outbox).
        send.reply(
            ctx.session,
            ctx.services,
            parent=None,
            channel=channel,
            thread_ts=thread_ts,
            message=confirmation,
            summary=f"the capture confirmation in the thread of {series.ref}",
            notify=ctx.actor.user_id,
        )
        return Reply(confirmation, in_channel=True)

    result = attempt(
        interaction_unit(
            services,
            user_id=user_id,
            channel_id=channel,
            request_key=f"message:{channel}:{event['ts']}",
            work=work,
        )
    )
    if isinstance(result, Failure):
        # A failed capture rolls its key back, so Slack's retries run it again: the note's own
        # key makes one message get at most one note.
        _note_once(
            services,
            key=f"note:message:{channel}:{event['ts']}",
            user_id=user_id,
            channel=channel,
            message=result.message,
        )


def _note_once(
    services: Services, *, key: str, user_id: str, channel: str, message: Message
) -> None:
    """Queue a message's error note under its own key, so one message gets at most one note
    however often Slack delivers it."""
    try:
        with unit_of_work(services, request_key=key) as session:
            send.ephemeral(session, services, user_id=user_id, channel=channel, message=message)
    except Duplicate:
        return
