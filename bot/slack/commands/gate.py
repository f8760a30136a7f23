"""`/accord gate status|override|token …`: the deployment gate from Slack."""

from __future__ import annotations

from bot.domain.errors import InvalidInput
from bot.domain.gate import service
from bot.domain.gate.overrides import grant_override, parse_duration
from bot.domain.gate.queries import recent_checks
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, parse_ref
from bot.slack.blocks import gate as render
from bot.slack.commands.base import CommandContext, Noun, Outcome, Reply, Verb
from bot.slack.text import parse_args

USAGE = "token new <name> | token list | token revoke <name>"


def token(ctx: CommandContext, args: list[str]) -> Outcome:
    action = args[0].lower() if args else ""
    if action == "list" and len(args) == 1:
        return Reply(render.token_list(service.list_tokens(ctx.session, actor=ctx.actor)))
    if action in ("new", "revoke") and len(args) == 2:
        if action == "new":
            created, secret = service.create_token(
                ctx.session, actor=ctx.actor, name=args[1], now=ctx.now
            )
            return Reply(render.token_created(created, secret))
        revoked = service.revoke_token(ctx.session, actor=ctx.actor, name=args[1], now=ctx.now)
        return Reply(render.token_revoked(revoked))
    raise InvalidInput("Say what to do with gate tokens.", hint=f"`/accord gate {USAGE}`")


def status(ctx: CommandContext, args: list[str]) -> Outcome:
    if args:
        raise InvalidInput("`gate status` takes nothing more.", hint="`/accord gate status`")
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    return Reply(render.recent_checks(recent_checks(ctx.session)))


OVERRIDE_USAGE = "override INI-n <service@environment> <duration> <reason>"


def override(ctx: CommandContext, args: list[str]) -> Outcome:
    if len(args) < 4:
        raise InvalidInput(
            "Give the initiative, one service@environment, how long, and why.",
            hint="e.g. `/accord gate override INI-3 payments-api@production 2h hotfix for …`",
        )
    granted = grant_override(
        ctx.session,
        actor=ctx.actor,
        number=parse_ref(args[0], Kind.INITIATIVE),
        target=args[1],
        duration=parse_duration(args[2]),
        reason=parse_args(args[3:], options=frozenset()).free_text(),
        now=ctx.now,
    )
    return Reply(render.override_granted(granted))


NOUN = Noun(
    name="gate",
    summary="The deployment gate: tokens for pipelines that ask whether a hold stops them.",
    verbs=(
        Verb(
            "status",
            "status",
            "/accord gate status",
            "The latest deployment checks: allowed or blocked, by which hold.",
            status,
        ),
        Verb(
            "override",
            OVERRIDE_USAGE,
            "/accord gate override INI-3 payments-api@production 2h hotfix for the outage",
            "Break glass: let one service@environment through a hold until it expires"
            " (executives).",
            override,
        ),
        Verb(
            "token",
            USAGE,
            "/accord gate token new gitlab-production",
            "Create (shown once), list or revoke gate API tokens (admins and the CISO side).",
            token,
            aliases=("tokens",),
        ),
    ),
)
