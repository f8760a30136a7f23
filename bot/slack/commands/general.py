"""`/accord help`, `whoami`, `audit` (and `audit verify`) and `roles`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from bot.domain import (
    disagreements,
    escalations,
    initiatives,
    outbox,
    risks,
    role_changes,
    touchpoints,
)
from bot.domain.audit import list_events
from bot.domain.audit_chain import verify_chain
from bot.domain.errors import InvalidInput
from bot.domain.permissions import Permission, ensure_allowed, rights
from bot.domain.refs import Kind, parse_any_ref
from bot.domain.roles import ROLE_LABELS, Role, RoleChange, RoleChangeKind, parse_role
from bot.domain.titles import record_titles
from bot.domain.validation import parse_whole_number
from bot.slack import send
from bot.slack.blocks import general as render
from bot.slack.blocks.common import Message
from bot.slack.blocks.errors import notice
from bot.slack.commands.base import CommandContext, Noun, Outcome, Reply, Verb
from bot.slack.text import parse_user


def whoami(ctx: CommandContext, args: list[str]) -> Outcome:
    """Your side and rights; `whoami @person` shows someone else's."""
    if not args:
        return Reply(render.whoami_message(ctx.actor, rights(ctx.actor)))
    user_id = parse_user(args[0])
    if user_id is None:
        raise InvalidInput(
            f"`{args[0][:30]}` is not a person.",
            hint="Name them with a @mention: `/accord whoami @bob`",
        )
    other = ctx.services.directory.actor(ctx.session, user_id)
    return Reply(render.whoami_message(other, rights(other), yourself=user_id == ctx.actor.user_id))


def list_roles(ctx: CommandContext, _args: list[str]) -> Outcome:
    directory = ctx.services.directory
    memberships = [directory.membership(ctx.session, role) for role in Role]
    return Reply(render.roles_message(memberships, role_changes.pending_changes(ctx.session)))


#: One "get or not found" per kind, so an audit of an id that names nothing says so.
_RECORDS: dict[Kind, Callable[..., Any]] = {
    Kind.INITIATIVE: initiatives.get_initiative,
    Kind.RISK: risks.get_risk,
    Kind.DISAGREEMENT: disagreements.get_disagreement,
    Kind.ESCALATION: escalations.get_escalation,
    Kind.TOUCHPOINT: touchpoints.get_series,
}


def _ensure_exists(session: Session, kind: Kind, number: int) -> None:
    _RECORDS[kind](session, number=number)


def audit(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    if args:
        parsed = parse_any_ref(args[0])
        if parsed is None:
            raise InvalidInput(
                f"`{args[0][:30]}` is not a record id.", hint="e.g. `/accord audit INI-3`"
            )
        ref = f"{parsed[0].value}-{parsed[1]}"
        events = list_events(ctx.session, record_ref=ref, limit=40)
        if not events:
            _ensure_exists(ctx.session, *parsed)
        return Reply(render.audit_feed(events, title=f"Audit trail · {ref}"))
    events = list_events(ctx.session, limit=40)
    titles = record_titles(ctx.session, {event.record_ref for event in events})
    return Reply(render.audit_feed(events, title="Latest changes", titles=titles))


def verify(ctx: CommandContext, args: list[str]) -> Outcome:
    """Recompute the audit chain, as `accord audit verify` does (admins only)."""
    ensure_allowed(ctx.actor, Permission.AUDIT_VERIFY)
    if args:
        raise InvalidInput("`/accord audit verify` takes nothing after it.")
    return Reply(render.chain_report(verify_chain(ctx.session)))


def _role_args(args: list[str], verb: str) -> tuple[Role, str]:
    if len(args) != 2:
        raise InvalidInput(
            "Give a role and a person.", hint=f"e.g. `/accord roles {verb} ciso @bob`"
        )
    user_id = parse_user(args[1])
    if user_id is None:
        raise InvalidInput(
            "Name the person with a @mention.", hint=f"`/accord roles {verb} ciso @bob`"
        )
    return parse_role(args[0]), user_id


def _change_number(args: list[str], verb: str) -> int:
    if len(args) != 1:
        raise InvalidInput(
            "Give the number of the role change.",
            hint=f"e.g. `/accord roles {verb} 3`; `/accord roles list` shows those waiting.",
        )
    return parse_whole_number(args[0].lstrip("#"), field="change", low=1, high=2**31 - 1)


def role_change_subject(number: int | None) -> str:
    return f"role_change:{number}"


def announce_role_change(
    ctx: CommandContext, message: Message, *, summary: str, subject: str | None = None
) -> None:
    """The coordination channel hears of every role change; without one, the other admins."""
    channel = ctx.services.settings.accord_coordination_channel
    targets = (
        [channel]
        if channel
        else sorted(ctx.services.directory.members(ctx.session, Role.ADMIN) - {ctx.actor.user_id})
    )
    for target in targets:
        send.post(
            ctx.session,
            ctx.services,
            channel=target,
            message=message,
            summary=summary,
            subject=subject,
            notify=ctx.actor.user_id,
        )


def settle_role_change_notices(ctx: CommandContext, change: RoleChange) -> None:
    """The proposal's Confirm button goes (its messages show the outcome), and the outcome is
    announced."""
    done = render.role_change_done(change)
    for posted in outbox.posts_for(ctx.session, role_change_subject(change.id)):
        send.update(ctx.session, ctx.services, target=posted, message=done, summary=f"{change.ref}")
    announce_role_change(ctx, done, summary=f"the notice of {change.ref}")


def _change_role(ctx: CommandContext, args: list[str], kind: RoleChangeKind) -> Outcome:
    role, user_id = _role_args(args, "add" if kind == RoleChangeKind.GRANT else "remove")
    result = role_changes.request_role_change(
        ctx.session,
        actor=ctx.actor,
        directory=ctx.services.directory,
        kind=kind,
        role=role,
        subject_id=user_id,
        now=ctx.now,
    )
    label = ROLE_LABELS[role]
    if result.pending is not None:
        change = result.pending
        announce_role_change(
            ctx,
            render.role_change_proposed(change),
            summary=f"the notice of {change.ref}",
            subject=role_change_subject(change.id),
        )
        return Reply(
            notice(
                f":hourglass_flowing_sand: Role change #{change.id} waits for a second admin: "
                f"{'give' if kind == RoleChangeKind.GRANT else 'remove'} the {label} "
                f"{'to' if kind == RoleChangeKind.GRANT else 'from'} <@{user_id}>. Another "
                f"admin confirms it with `/accord roles confirm {change.id}` (or the button in "
                "the coordination channel); nothing changes until then."
            )
        )
    if kind == RoleChangeKind.GRANT:
        said = f":busts_in_silhouette: <@{user_id}> now has the {label} role."
    else:
        said = f":busts_in_silhouette: <@{user_id}> no longer has the {label} role."
    # Every run-time role change is announced, not only the sides'.
    announce_role_change(
        ctx,
        notice(f"{said} (by <@{ctx.actor.user_id}>)"),
        summary=f"the notice of a {label} role change",
    )
    return Reply(notice(said))


def add_role(ctx: CommandContext, args: list[str]) -> Outcome:
    return _change_role(ctx, args, RoleChangeKind.GRANT)


def remove_role(ctx: CommandContext, args: list[str]) -> Outcome:
    return _change_role(ctx, args, RoleChangeKind.REMOVE)


def confirm_change(ctx: CommandContext, number: int) -> Message:
    """The second admin's confirmation (command or button): the change takes effect."""
    change = role_changes.confirm_role_change(
        ctx.session,
        actor=ctx.actor,
        directory=ctx.services.directory,
        number=number,
        now=ctx.now,
    )
    settle_role_change_notices(ctx, change)
    return render.role_change_done(change)


def confirm_role(ctx: CommandContext, args: list[str]) -> Outcome:
    return Reply(confirm_change(ctx, _change_number(args, "confirm")))


def cancel_role(ctx: CommandContext, args: list[str]) -> Outcome:
    change = role_changes.cancel_role_change(
        ctx.session, actor=ctx.actor, number=_change_number(args, "cancel"), now=ctx.now
    )
    settle_role_change_notices(ctx, change)
    return Reply(render.role_change_done(change))


WHOAMI = Noun(
    name="whoami",
    summary="Your side and what you may do (or someone else's).",
    bare=whoami,
    usage="[@person]",
    example="/accord whoami @bob",
)
AUDIT = Noun(
    name="audit",
    summary="The audit trail: every change, who made it and when.",
    bare=audit,
    bare_takes_args=True,
    usage="[INI-n|RSK-n|DIS-n|ESC-n|TP-n]",
    example="/accord audit RSK-2",
    verbs=(
        Verb(
            "verify",
            "verify",
            "/accord audit verify",
            "Check that no audit event was changed, removed or inserted (admins).",
            verify,
        ),
    ),
)
ROLES = Noun(
    name="roles",
    summary="Who is on each side; admins add or remove people at run time.",
    bare=list_roles,
    verbs=(
        Verb(
            "list",
            "list",
            "/accord roles list",
            "Who is on each side: from the settings, user groups and grants.",
            list_roles,
        ),
        Verb(
            "add",
            "add <cio|ciso|executive|admin> @user",
            "/accord roles add ciso @bob",
            "Give someone a role (admins, not to themselves; a side waits for a second admin).",
            add_role,
        ),
        Verb(
            "remove",
            "remove <cio|ciso|executive|admin> @user",
            "/accord roles remove ciso @bob",
            "Take a run-time role away (admins).",
            remove_role,
        ),
        Verb(
            "confirm",
            "confirm N",
            "/accord roles confirm 3",
            "Confirm another admin's change to a side's membership (two-person rule).",
            confirm_role,
        ),
        Verb(
            "cancel",
            "cancel N",
            "/accord roles cancel 3",
            "Drop a role change that waits for confirmation (admins).",
            cancel_role,
        ),
    ),
)
