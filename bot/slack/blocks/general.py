"""Help, whoami and the global audit view."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.domain.audit import AuditEvent
from bot.domain.audit_chain import ChainReport
from bot.domain.digest import action_words
from bot.domain.permissions import Permission
from bot.domain.roles import (
    ROLE_LABELS,
    Actor,
    Role,
    RoleChange,
    RoleChangeKind,
    RoleChangeState,
    RoleMembership,
)
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    MESSAGE_TEXT_BUDGET,
    Message,
    actions,
    button,
    clip,
    context,
    header,
    safe,
    section,
    state_words,
    user,
)
from bot.slack.ids import ActionId


class HelpEntry:
    """One subcommand line of the help: usage, what it does, an example."""

    def __init__(self, usage: str, summary: str, example: str) -> None:
        self.usage = usage
        self.summary = summary
        self.example = example


def help_index(nouns: Sequence[tuple[str, str]]) -> Message:
    """`/accord help`: one line per command, short enough to read without scrolling."""
    lines = [f"• `/accord {name}` — {summary}" for name, summary in nouns]
    blocks: list[Block] = [
        header("Accord commands"),
        section("\n".join(lines)),
        context(
            "`/accord help <command>` shows its commands with examples, e.g. `/accord help risk`."
        ),
    ]
    return Message(text="Accord commands: " + ", ".join(n for n, _ in nouns), blocks=blocks)


def help_message(sections: Sequence[tuple[str, str, Sequence[HelpEntry]]]) -> Message:
    """One command's verbs, each with its usage and an example."""
    blocks: list[Block] = [header("Accord — " + ", ".join(s[0] for s in sections))]
    for noun, summary, entries in sections:
        lines = [f"*{noun}* — {summary}"]
        lines += [
            f"• `{safe(e.usage, 300)}` — {e.summary}\n    e.g. `{safe(e.example, 300)}`"
            for e in entries
        ]
        blocks.append(section("\n".join(lines)))
    return Message(text="Accord commands: " + ", ".join(s[0] for s in sections), blocks=blocks)


def whoami_message(actor: Actor, rights: Sequence[Permission], *, yourself: bool = True) -> Message:
    """Your roles and rights, or (`/accord whoami @person`) someone else's."""
    roles = ", ".join(ROLE_LABELS[role] for role in sorted(actor.roles)) or "no side yet"
    can = "\n".join(f"• {permission.value}" for permission in rights) or "• read records only"
    who = "You can" if yourself else "They can"
    text = f"{user(actor.user_id)}: *{roles}*\n{who}:\n{can}"
    blocks: list[Block] = [section(text)]
    if not actor.roles:
        whom = "you" if yourself else "them"
        blocks.append(context(f"Ask an Accord admin to add {whom} to the CIO or CISO side."))
    fallback = f"Your roles: {roles}" if yourself else f"Roles of {user(actor.user_id)}: {roles}"
    return Message(text=fallback, blocks=blocks)


def roles_message(
    memberships: Sequence[RoleMembership], pending: Sequence[RoleChange] = ()
) -> Message:
    """Who is on each side and why: settings (people and user groups) and admins' grants,
    then the side changes waiting for a second admin."""
    blocks: list[Block] = [
        header("Who is on each side"),
        context("From the settings (ACCORD_CIO_SIDE, …), their user groups, and admins' grants."),
    ]
    for m in memberships:
        lines = [f"*{ROLE_LABELS[m.role]}* ({len(m.everyone)})"]
        if m.configured_users:
            people = ", ".join(user(uid) for uid in m.configured_users[:40])
            lines.append(f"• {people} — from the settings")
        for group_id, members in m.groups.items():
            shown = ", ".join(user(uid) for uid in sorted(members)[:40]) or "_nobody found_"
            lines.append(f"• user group `{group_id}`: {shown}")
        lines.extend(
            f"• {user(g.subject_id)} — added by {user(g.granted_by)} on {g.granted_at:%Y-%m-%d}"
            for g in m.grants[:40]
        )
        if len(lines) == 1:
            lines.append("• _nobody yet_")
        blocks.append(section("\n".join(lines)))
    lines = ["*Waiting for a second admin*"]
    lines.extend(f"• {_change_line(change)}" for change in pending[:20])
    if len(lines) == 1:
        lines.append("• _nothing_")
    blocks.append(section("\n".join(lines)))
    blocks.append(
        context(
            "Admins: `/accord roles add ciso @person` · `/accord roles remove …` · "
            "`/accord roles confirm N` (a second admin)"
        )
    )
    return Message(text="Who is on each side", blocks=blocks)


def _change_line(change: RoleChange) -> str:
    verb = "give" if change.kind == RoleChangeKind.GRANT else "remove"
    direction = "to" if change.kind == RoleChangeKind.GRANT else "from"
    return (
        f"#{change.id}: {verb} the {ROLE_LABELS[Role(change.role)]} {direction} "
        f"{user(change.subject_id)} — proposed by {user(change.proposed_by)} on "
        f"{change.proposed_at:%Y-%m-%d}"
    )


def role_change_proposed(change: RoleChange) -> Message:
    """The coordination channel hears of a side change, with a button for the second admin."""
    line = _change_line(change)
    return Message(
        text=f"Role change #{change.id} waits for a second admin",
        blocks=[
            section(f":busts_in_silhouette: *Role change waiting for a second admin*\n{line}"),
            actions(
                button(
                    "Confirm",
                    action_id=ActionId.ROLES_CONFIRM,
                    value=str(change.id),
                    style="primary",
                ),
                block_id=f"role_change_{change.id}",
            ),
            context(
                f"Two-person rule: another Accord admin confirms (`/accord roles confirm "
                f"{change.id}`); until then nothing changes."
            ),
        ],
    )


def role_change_done(change: RoleChange) -> Message:
    """What the coordination channel hears once a side change took effect (or was dropped)."""
    verb = "give" if change.kind == RoleChangeKind.GRANT else "remove"
    direction = "to" if change.kind == RoleChangeKind.GRANT else "from"
    what = f"{verb} the {ROLE_LABELS[Role(change.role)]} {direction} {user(change.subject_id)}"
    if change.state == RoleChangeState.CONFIRMED:
        text = (
            f":busts_in_silhouette: Role change #{change.id} ({what}) is in effect: proposed by "
            f"{user(change.proposed_by)}, confirmed by {user(change.decided_by)}."
        )
    else:
        text = (
            f":busts_in_silhouette: Role change #{change.id} ({what}) was cancelled by "
            f"{user(change.decided_by)}; nothing changed."
        )
    return Message(text=f"Role change #{change.id}", blocks=[section(text)])


_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
#: Audit fields that hold a person's Slack id, shown as a mention.
_PERSON_FIELDS = frozenset({"cio_owner", "ciso_owner", "owner", "user", "requested_by", "lead"})


def _readable(key: str, value: Any) -> str:
    """A recorded value as people read it: names, yes/no, lists, dashes — not Python."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        items = [f"#{item}" if key == "tags" else str(item) for item in value]
        return safe(", ".join(items), 200)
    text = str(value)
    if key in _PERSON_FIELDS and _SLACK_USER.fullmatch(text):
        return user(text)
    return safe(state_words(text) if key in ("status", "state") else text, 80)


def _change(event: AuditEvent) -> str:
    """`field: before → after` for each field the event changed."""
    before = event.before or {}
    return ", ".join(
        f"{key.replace('_', ' ')}: {_readable(key, before.get(key))} → {_readable(key, value)}"
        for key, value in (event.after or {}).items()
    )


def chain_report(report: ChainReport) -> Message:
    """The result of `/accord audit verify`: the same line as `accord audit verify` prints."""
    icon = ":white_check_mark:" if report.ok else ":rotating_light:"
    line = f"{icon} {safe(report.summary(), 1000)}"
    blocks: list[Block] = [section(line)]
    if not report.ok:
        blocks.append(
            context(
                "`/accord audit RSK-n` shows a record's trail; `accord audit verify` on "
                "the server names the same event and exits 1."
            )
        )
    return Message(text=clip(line, 300), blocks=blocks)


def audit_feed(
    events: Sequence[AuditEvent], *, title: str, titles: Mapping[str, str] | None = None
) -> Message:
    """The audit trail, newest first: who did what, when, what changed and why (with each
    record's title from `titles`, for a feed of several records).

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
            f"`{event.at:%Y-%m-%d %H:%M}` *{event.record_ref}*"
            + (
                f" {safe(titles[event.record_ref], 80)}"
                if titles and event.record_ref in titles
                else ""
            )
            + f" {action_words(event.action, with_kind=False)} by "
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
