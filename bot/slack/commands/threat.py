"""`/accord threat …`: record and read threat briefs (the CISO side records them)."""

from __future__ import annotations

import json

from bot.domain.errors import InvalidInput
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, parse_ref
from bot.domain.risks import parse_techniques
from bot.domain.threats import service
from bot.domain.threats.models import Severity
from bot.domain.threats.policy import parse_links
from bot.domain.threats.queries import views
from bot.domain.validation import parse_choice
from bot.slack.blocks import threats as render
from bot.slack.commands.base import CommandContext, Noun, OpenModal, Outcome, Reply, Verb
from bot.slack.text import neutralise, parse_args, strip_quotes

ADD_KEYS = frozenset({"techniques", "attack", "severity", "relevance", "source"})
ADD_USAGE = (
    "add <title> severity:<low|medium|high|critical> [techniques:T1566,T1190]"
    " [relevance:INI-3,RSK-2] [source:https://…]"
)


def open_create_modal(ctx: CommandContext, _args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.THREAT_RECORD)  # before a form they could not submit
    return OpenModal(render.create_modal(metadata=json.dumps({"channel": ctx.channel_id})))


def recorded_lead(view_count: int, ref: str) -> str:
    flagged = (
        f" {view_count} accepted risk(s) it touches are flagged for review; their owners are told."
        if view_count
        else ""
    )
    return f":satellite_antenna: Recorded *{ref}*; it goes on the next touchpoint agenda.{flagged}"


def add(ctx: CommandContext, args: list[str]) -> Outcome:
    parsed = parse_args(args, options=ADD_KEYS)
    o = parsed.options
    if "severity" not in o:
        raise InvalidInput(
            "`severity:` is required (low, medium, high or critical).",
            hint=f"`/accord threat {ADD_USAGE}`",
        )
    brief = service.add_brief(
        ctx.session,
        actor=ctx.actor,
        title=neutralise(parsed.free_text()),
        severity=parse_choice(o["severity"], Severity, field="severity"),
        techniques=parse_techniques(o.get("techniques", o.get("attack", ""))),
        links=parse_links(o.get("relevance", "")),
        source=strip_quotes(o.get("source", "")),
        now=ctx.now,
    )
    [view] = views(ctx.session, [brief], today=ctx.today)
    return Reply(render.card(view, lead=recorded_lead(len(view.flagged), brief.ref)))


def list_(ctx: CommandContext, args: list[str]) -> Outcome:
    if args:
        raise InvalidInput("`list` takes nothing more: `/accord threat list`.")
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    return Reply(
        render.list_message(views(ctx.session, service.open_briefs(ctx.session), today=ctx.today))
    )


def _ref(args: list[str], verb: str) -> int:
    if not args:
        raise InvalidInput(f"Which brief? e.g. `/accord threat {verb} THR-2`.")
    return parse_ref(args[0], Kind.THREAT)


def show(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    brief = service.get_brief(ctx.session, number=_ref(args, "show"))
    [view] = views(ctx.session, [brief], today=ctx.today)
    return Reply(render.card(view))


def close(ctx: CommandContext, args: list[str]) -> Outcome:
    brief = service.close_brief(
        ctx.session, actor=ctx.actor, number=_ref(args, "close"), now=ctx.now
    )
    [view] = views(ctx.session, [brief], today=ctx.today)
    return Reply(render.card(view, lead=f":white_check_mark: Closed *{brief.ref}*."))


NOUN = Noun(
    name="threat",
    summary="Threat briefs from the CISO side, tied to the risks and initiatives they touch.",
    aliases=("threats", "thr"),
    bare=open_create_modal,
    verbs=(
        Verb(
            "add",
            ADD_USAGE,
            "/accord threat add Phishing wave on finance severity:high techniques:T1566"
            " relevance:INI-3",
            "Record a threat brief (CISO side); it goes on the next touchpoint agenda.",
            add,
            aliases=("new", "record"),
        ),
        Verb(
            "list",
            "list",
            "/accord threat list",
            "The open threat briefs.",
            list_,
            aliases=("ls",),
            reads_only=True,
        ),
        Verb(
            "show", "show THR-n", "/accord threat show THR-2", "One brief.", show, reads_only=True
        ),
        Verb("close", "close THR-n", "/accord threat close THR-2", "Close a brief.", close),
    ),
)
