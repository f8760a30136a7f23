"""Help, whoami and the global audit view."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.domain.audit import AuditEvent
from bot.domain.permissions import Permission
from bot.domain.roles import ROLE_LABELS, Actor
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    MESSAGE_TEXT_BUDGET,
    Message,
    clip,
    context,
    header,
    safe,
    section,
    user,
)


class HelpEntry:
    """One subcommand line of the help: usage, what it does, an example."""

    def __init__(self, usage: str, summary: str, example: str) -> None:
        self.usage = usage
        self.summary = summary
        self.example = example


def help_message(sections: Sequence[tuple[str, str, Sequence[HelpEntry]]]) -> Message:
    blocks: list[Block] = [
        header("Accord — every command"),
        context("A noun alone (e.g. `/accord initiative`) opens a form."),
    ]
    for noun, summary, entries in sections:
        lines = [f"*{noun}* — {summary}"]
        lines += [
            f"• `{safe(e.usage, 300)}` — {e.summary}\n    e.g. `{safe(e.example, 300)}`"
            for e in entries
        ]
        blocks.append(section("\n".join(lines)))
    return Message(text="Accord commands: " + ", ".join(s[0] for s in sections), blocks=blocks)


def whoami_message(actor: Actor, rights: Sequence[Permission]) -> Message:
    roles = ", ".join(ROLE_LABELS[role] for role in sorted(actor.roles)) or "no side yet"
    can = "\n".join(f"• {permission.value}" for permission in rights) or "• read records only"
    text = f"{user(actor.user_id)}: *{roles}*\nYou can:\n{can}"
    blocks: list[Block] = [section(text)]
    if not actor.roles:
        blocks.append(context("Ask an Accord admin to add you to the CIO or CISO side."))
    return Message(text=f"Your roles: {roles}", blocks=blocks)


def _change(event: AuditEvent) -> str:
    """`field: before → after` for each field the event changed."""
    before = event.before or {}
    return ", ".join(
        f"{key}: {safe(str(before.get(key, '—')), 80)} → {safe(str(value), 80)}"
        for key, value in (event.after or {}).items()
    )


def audit_feed(events: Sequence[AuditEvent], *, title: str) -> Message:
    """The audit trail, newest first: who did what, when, what changed and why.

    Long changes fill a message sooner: entries stop where Slack's size limit would be
    reached, and a note says that older ones are not shown."""
    blocks: list[Block] = [header(title)]
    if not events:
        blocks.append(section("Nothing recorded yet."))
    room = MESSAGE_TEXT_BUDGET - len(title) - 200
    shown = 0
    for event in events[: MESSAGE_BLOCK_LIMIT - 2]:
        change = _change(event)
        note = f"\n> {safe(event.note, 300)}" if event.note else ""
        line = section(
            f"`{event.at:%Y-%m-%d %H:%M}` *{event.record_ref}* {event.action} by "
            f"{user(event.actor_id)}{(' — ' + clip(change, 1500)) if change else ''}{note}"
        )
        size = len(line.text.text) if line.text else 0
        if size > room:
            break
        room -= size
        blocks.append(line)
        shown += 1
    if shown < len(events):
        blocks.append(context("Older entries are not shown: they do not fit in one message."))
    return Message(text=title, blocks=blocks)
