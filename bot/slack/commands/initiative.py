"""`/accord initiative …`: parse the words, call the service, render the answer."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.domain import initiatives as service
from bot.domain.audit import list_events
from bot.domain.budget import parse_budget, parse_budget_state, parse_funding
from bot.domain.errors import InvalidInput
from bot.domain.gate.coverage import Coverage, parse_coverage_list
from bot.domain.initiatives import (
    Health,
    Initiative,
    InitiativeChanges,
    InitiativeDraft,
    InitiativeFilter,
    InitiativeStatus,
)
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, parse_ref
from bot.domain.validation import normalise_tags, parse_choice, parse_date
from bot.slack.blocks import initiatives as render
from bot.slack.commands.base import CommandContext, Noun, OpenModal, Outcome, Reply, Verb
from bot.slack.text import neutralise, parse_args, parse_fields, parse_user, strip_quotes, tag_name

NEW_USAGE = (
    "new <title> [cio:@user] [ciso:@user] [due:YYYY-MM-DD] [covers:service@env,…]"
    " [budget:120000EUR/year] [funding:cio|ciso|shared:60/40] [money:requested|approved|spent]"
    " [#tag …]"
)
MONEY_KEYS = frozenset({"budget", "funding", "money"})


def money_options(options: dict[str, str]) -> dict[str, Any]:
    """`budget:`, `funding:` and `money:` as the service takes them (one parser each)."""
    return {
        "budget": parse_budget(options["budget"]) if "budget" in options else None,
        "funding": parse_funding(options["funding"]) if "funding" in options else None,
        "budget_state": parse_budget_state(options["money"]) if "money" in options else None,
    }


def split_covers(args: list[str]) -> tuple[list[str], list[Coverage] | None]:
    """Take every `covers:` word out (it may be given several times, or comma-separated)."""
    values = [arg.partition(":")[2] for arg in args if arg.lower().startswith("covers:")]
    rest = [arg for arg in args if not arg.lower().startswith("covers:")]
    return rest, (parse_coverage_list(",".join(values)) if values else None)


def _user_option(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    user_id = parse_user(value)
    if user_id is None:
        raise InvalidInput(f"`{key}:` needs a @mention of a person, e.g. `{key}:@alice`.")
    return user_id


def _typed(args: list[str], fallback: str) -> str:
    """The id as the person typed it, for hints that show the command to run again."""
    return args[0].upper()[:20] if args else fallback


def _ref(args: list[str], verb: str) -> int:
    if not args:
        raise InvalidInput(
            f"Which initiative? Give its id, e.g. `/accord initiative {verb} INI-3`."
        )
    return parse_ref(args[0], Kind.INITIATIVE)


def open_create_modal(ctx: CommandContext, _args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.INITIATIVE_CREATE)  # before a form they could not submit
    return OpenModal(render.create_modal(metadata=json.dumps({"channel": ctx.channel_id})))


def new(ctx: CommandContext, args: list[str]) -> Outcome:
    args, covers = split_covers(args)
    parsed = parse_args(args, options=frozenset({"cio", "ciso", "due"}) | MONEY_KEYS, tags=True)
    due = parsed.options.get("due")
    draft = InitiativeDraft(
        title=parsed.free_text(),
        cio_owner_id=_user_option(parsed.options.get("cio"), "cio"),
        ciso_owner_id=_user_option(parsed.options.get("ciso"), "ciso"),
        due_date=parse_date(due, field="due") if due is not None else None,
        tags=normalise_tags(parsed.tags),
        covers=covers or [],
        **money_options(parsed.options),
    )
    initiative = service.create_initiative(
        ctx.session,
        actor=ctx.actor,
        draft=draft,
        now=ctx.now,
        today=ctx.today,
        directory=ctx.services.directory,
    )
    return saved_reply(ctx, initiative, "Created", due_given=due is not None)


def saved_reply(
    ctx: CommandContext, initiative: Initiative, done: str, *, due_given: bool
) -> Reply:
    """The answer to a create or update, by command or form: the card, for its reader, led by
    what was done (and a warning when a due date just given is past)."""
    icon = ":white_check_mark:" if done == "Created" else ":pencil2:"
    lead = render.saved_lead(
        f"{icon} {done} *{initiative.ref}*.", initiative, ctx.today, due_given=due_given
    )
    return Reply(render.card(initiative, ctx.today, viewer=ctx.actor, lead=lead))


def list_(ctx: CommandContext, args: list[str]) -> Outcome:
    which, tag = parse_list_filter(args)
    page = service.list_initiatives(
        ctx.session,
        which=which,
        tag=tag,
        viewer_id=ctx.actor.user_id,
        today=ctx.today,
        page_size=render.LIST_PAGE_SIZE,
    )
    return Reply(render.list_message(page, which=which, tag=tag, today=ctx.today))


def parse_list_filter(args: list[str]) -> tuple[InitiativeFilter, str | None]:
    if not args:
        return InitiativeFilter.OPEN, None
    if len(args) > 1:
        raise InvalidInput("`list` takes one filter.")
    tag = tag_name(args[0])
    if tag is not None:
        return InitiativeFilter.ALL, normalise_tags([tag])[0]
    return parse_choice(args[0], InitiativeFilter, field="filter (or a #tag)"), None


def show(ctx: CommandContext, args: list[str]) -> Outcome:
    initiative = service.get_initiative(ctx.session, number=_ref(args, "show"))
    return Reply(render.card(initiative, ctx.today, viewer=ctx.actor))


UPDATE_KEYS = (
    frozenset(
        {"status", "health", "due", "owner-cio", "owner-ciso", "title", "description", "tags"}
    )
    | MONEY_KEYS
)


def _tags_option(value: str | None) -> list[str] | None:
    """`tags:iam,zero-trust` (or `#iam #zero-trust` quoted) replaces the tags; `tags:none`
    removes them all."""
    if value is None:
        return None
    raw = strip_quotes(value)
    if raw.strip().lower() == "none":
        return []
    return normalise_tags([part for part in re.split(r"[\s,]+", raw) if part])


def update(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "update")
    rest, covers = split_covers(args[1:])
    options = parse_fields(rest, options=UPDATE_KEYS)
    changes = InitiativeChanges(
        status=parse_choice(options["status"], InitiativeStatus, field="status")
        if "status" in options
        else None,
        health=parse_choice(options["health"], Health, field="health")
        if "health" in options
        else None,
        due_date=parse_date(options["due"], field="due") if "due" in options else None,
        cio_owner_id=_user_option(options.get("owner-cio"), "owner-cio"),
        ciso_owner_id=_user_option(options.get("owner-ciso"), "owner-ciso"),
        title=neutralise(strip_quotes(options["title"])) if "title" in options else None,
        covers=covers,
        description=neutralise(strip_quotes(options["description"]))
        if "description" in options
        else None,
        tags=_tags_option(options.get("tags")),
        **money_options(options),
    )
    initiative = service.update_initiative(
        ctx.session,
        actor=ctx.actor,
        number=number,
        changes=changes,
        now=ctx.now,
        today=ctx.today,
        directory=ctx.services.directory,
    )
    return saved_reply(ctx, initiative, "Updated", due_given=changes.due_date is not None)


def _reason(args: list[str], verb: str) -> str:
    reason = parse_args(args[1:], options=frozenset()).free_text()
    if not reason:
        raise InvalidInput(
            f"Say why: `/accord initiative {verb} {_typed(args, 'INI-n')} <reason>`; "
            "the reason is recorded."
        )
    return reason


def hold(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "hold")
    initiative = service.place_hold(
        ctx.session, actor=ctx.actor, number=number, reason=_reason(args, "hold"), now=ctx.now
    )
    lead = f":lock: *{initiative.ref}* is now on security hold."
    return Reply(render.card(initiative, ctx.today, viewer=ctx.actor, lead=lead))


def release(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "release")
    initiative = service.release_hold(
        ctx.session, actor=ctx.actor, number=number, reason=_reason(args, "release"), now=ctx.now
    )
    lead = f":unlock: The security hold on *{initiative.ref}* is released."
    return Reply(render.card(initiative, ctx.today, viewer=ctx.actor, lead=lead))


def audit(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    initiative = service.get_initiative(ctx.session, number=_ref(args, "audit"))
    events = list_events(ctx.session, record_ref=initiative.ref, limit=40)
    return Reply(render.audit_message(initiative.ref, events))


NOUN = Noun(
    name="initiative",
    summary="Shared security/infrastructure work with an owner on each side.",
    aliases=("initiatives", "ini"),
    bare=open_create_modal,
    verbs=(
        Verb(
            "new",
            NEW_USAGE,
            "/accord initiative new Roll out MFA cio:@alice ciso:@bob due:2026-12-31"
            " covers:github:acme/sso@* #iam",
            "Create an initiative.",
            new,
            aliases=("create", "add"),
        ),
        Verb(
            "list",
            "list [open|mine|all|blocked|overdue|hold|red|#tag]",
            "/accord initiative list overdue",
            "List initiatives, a page at a time.",
            list_,
            aliases=("ls",),
            reads_only=True,
        ),
        Verb(
            "show",
            "show INI-n",
            "/accord initiative show INI-3",
            "Show one initiative.",
            show,
            reads_only=True,
        ),
        Verb(
            "update",
            "update INI-n [status:<s>] [health:<h>] [due:<date>] [owner-cio:@u] [owner-ciso:@u]"
            ' [title:"…"] [covers:service@env,…|none] [budget:120000EUR/year]'
            " [funding:cio|ciso|shared:60/40] [money:requested|approved|spent]",
            "/accord initiative update INI-3 status:active covers:payments-api@production",
            "Change status, health, due date, owners, what it covers, or its budget.",
            update,
            aliases=("edit", "set"),
        ),
        Verb(
            "hold",
            "hold INI-n <reason>",
            "/accord initiative hold INI-3 unpatched CVE on edge",
            "Place a security hold (CISO side).",
            hold,
        ),
        Verb(
            "release",
            "release INI-n <reason>",
            "/accord initiative release INI-3 patched and verified",
            "Release a security hold (CISO side or an executive decision).",
            release,
        ),
        Verb(
            "audit",
            "audit INI-n",
            "/accord initiative audit INI-3",
            "Who changed what, and when.",
            audit,
            aliases=("history",),
        ),
    ),
)
