"""Help, whoami and the global audit view."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.domain.audit import AuditEvent
from bot.domain.permissions import Permission
from bot.domain.roles import ROLE_LABELS, Actor
from bot.slack.blocks.common import Message, context, header, safe, section, user


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


def audit_feed(events: Sequence[AuditEvent], *, title: str) -> Message:
    blocks: list[Block] = [header(title)]
    if not events:
        blocks.append(section("Nothing recorded yet."))
    lines = [
        f"`{event.at:%Y-%m-%d %H:%M}` *{event.record_ref}* {event.action} by {user(event.actor_id)}"
        + (f" — {safe(event.note, 120)}" if event.note else "")
        for event in events
    ]
    for start in range(0, len(lines), 10):
        blocks.append(section("\n".join(lines[start : start + 10])))
    return Message(text=title, blocks=blocks)
