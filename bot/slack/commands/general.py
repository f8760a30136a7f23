"""`/accord help`, `whoami`, `audit` (and `audit verify`) and `roles`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from bot.domain import disagreements, escalations, initiatives, risks, touchpoints
from bot.domain.audit import list_events, record_event
from bot.domain.audit_chain import verify_chain
from bot.domain.errors import InvalidInput
from bot.domain.permissions import Permission, ensure_allowed, rights
from bot.domain.refs import Kind, parse_any_ref
from bot.domain.roles import ROLE_LABELS, Role, grant_role, parse_role, revoke_role
from bot.slack.blocks import general as render
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
    return Reply(render.roles_message([directory.membership(ctx.session, role) for role in Role]))


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
    return Reply(render.audit_feed(events, title="Latest changes"))


def verify(ctx: CommandContext, args: list[str]) -> Outcome:
    """Recompute the audit chain, as `accord audit verify` does (admins only)."""
    ensure_allowed(ctx.actor, Permission.AUDIT_VERIFY)
    if args:
        raise InvalidInput("`/accord audit verify` takes nothing after it.")
    return Reply(render.chain_report(verify_chain(ctx.session)))


def _role_args(args: list[str]) -> tuple[Role, str]:
    if len(args) != 2:
        raise InvalidInput("Give a role and a person.", hint="e.g. `/accord roles add ciso @bob`")
    user_id = parse_user(args[1])
    if user_id is None:
        raise InvalidInput("Name the person with a @mention.", hint="`/accord roles add ciso @bob`")
    return parse_role(args[0]), user_id


def add_role(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.MANAGE_ROLES)
    role, user_id = _role_args(args)
    grant_role(ctx.session, role=role, subject_id=user_id, granted_by=ctx.actor.user_id, at=ctx.now)
    _record_role_change(ctx, "role.granted", role, user_id)
    return Reply(
        notice(f":busts_in_silhouette: <@{user_id}> now has the {ROLE_LABELS[role]} role.")
    )


def remove_role(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.MANAGE_ROLES)
    role, user_id = _role_args(args)
    revoke_role(ctx.session, role=role, subject_id=user_id)
    _record_role_change(ctx, "role.revoked", role, user_id)
    text = f":busts_in_silhouette: <@{user_id}> no longer has the {ROLE_LABELS[role]} role."
    return Reply(notice(text))


def _record_role_change(ctx: CommandContext, action: str, role: Role, user_id: str) -> None:
    record_event(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.actor.user_id,
        record_ref=f"USER-{user_id}",
        action=action,
        after={"role": role.value, "user": user_id},
    )


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
            "Give someone a role (admins).",
            add_role,
        ),
        Verb(
            "remove",
            "remove <cio|ciso|executive|admin> @user",
            "/accord roles remove ciso @bob",
            "Take a run-time role away (admins).",
            remove_role,
        ),
    ),
)
