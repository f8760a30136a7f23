"""`/accord gate token new|list|revoke`: the credentials pipelines use to ask the gate."""

from __future__ import annotations

from bot.domain.errors import InvalidInput
from bot.domain.gate import service
from bot.domain.gate.queries import recent_checks
from bot.slack.blocks import gate as render
from bot.slack.commands.base import CommandContext, Noun, Outcome, Reply, Verb

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
    return Reply(render.recent_checks(recent_checks(ctx.session)))


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
            "token",
            USAGE,
            "/accord gate token new gitlab-production",
            "Create (shown once), list or revoke gate API tokens (admins and the CISO side).",
            token,
            aliases=("tokens",),
        ),
    ),
)
