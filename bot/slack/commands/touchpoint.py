"""`/accord touchpoint …`: recurring CIO–CISO meetings, their agendas and what was decided."""

from __future__ import annotations

import json

from slack_sdk.errors import SlackApiError

from bot.domain import touchpoints as service
from bot.domain.calendar import series_ics
from bot.domain.errors import InvalidInput, UserError
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, parse_ref
from bot.domain.touchpoints import SeriesChanges, SeriesDraft, TouchpointSeries
from bot.domain.validation import parse_date, parse_whole_number
from bot.slack.blocks import touchpoints as render
from bot.slack.blocks.common import safe
from bot.slack.blocks.errors import notice
from bot.slack.commands.base import CommandContext, Noun, OpenModal, Outcome, Reply, Verb
from bot.slack.notifier import NotInChannel
from bot.slack.text import (
    neutralise,
    parse_args,
    parse_channel,
    parse_fields,
    parse_user,
    strip_quotes,
)

NEW_USAGE = (
    "new <name> every:<weekly|2w|monthly|RRULE> at:<HH:MM> [tz:<Area/City>] with:@u,@v "
    "[channel:#c] [from:YYYY-MM-DD] [duration:<min>] [lead:<hours>h]"
)
NEW_KEYS = frozenset({"every", "at", "tz", "with", "channel", "from", "duration", "lead"})


def _ref(args: list[str], verb: str) -> int:
    if not args:
        raise InvalidInput(f"Which touchpoint? e.g. `/accord touchpoint {verb} TP-1`.")
    return parse_ref(args[0], Kind.TOUCHPOINT)


def _participants(value: str | None) -> list[str]:
    if not value:
        return []
    users = []
    for part in value.split(","):
        if not part.strip():
            continue
        user_id = parse_user(part)
        if user_id is None:
            raise InvalidInput(
                f"`{neutralise(part)[:40]}` in `with:` is not a @mention.",
                hint="e.g. `with:@alice,@bob` (one from each side).",
            )
        users.append(user_id)
    return users


def _number(value: str, *, field: str, high: int, suffix: str = "") -> int:
    """Bounded here too, so the domain's range check never sees a number too big to use."""
    raw = value.strip().lower().removesuffix(suffix)
    return parse_whole_number(raw, field=field, low=0, high=high)


def _series_outcome(ctx: CommandContext, series: TouchpointSeries, lead: str) -> Outcome:
    return Reply(
        render.card(
            series,
            upcoming=service.next_meetings(ctx.session, series=series, now=ctx.now),
            actions_open=service.open_actions(ctx.session, series_id=series.id),  # type: ignore[arg-type]
            decisions=service.recent_decisions(ctx.session, series_id=series.id),  # type: ignore[arg-type]
            today=ctx.today,
            lead=lead,
        )
    )


def open_create_modal(ctx: CommandContext, _args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.TOUCHPOINT_MANAGE)  # before a form they could not submit
    return OpenModal(render.create_modal(metadata=json.dumps({"channel": ctx.channel_id})))


def new(ctx: CommandContext, args: list[str]) -> Outcome:
    parsed = parse_args(args, options=NEW_KEYS)
    options = parsed.options
    missing = [key for key in ("every", "at", "with") if key not in options]
    if missing:
        raise InvalidInput(
            "A touchpoint needs " + ", ".join(f"`{key}:`" for key in missing) + ".",
            hint=f"Usage: `/accord touchpoint {NEW_USAGE}`",
        )
    channel = ctx.channel_id
    if "channel" in options:
        found = parse_channel(options["channel"])
        if found is None:
            raise InvalidInput("`channel:` needs a #channel, e.g. `channel:#ciso-cio`.")
        channel = found
    lead_hours = (
        _number(options["lead"], field="lead", high=14 * 24, suffix="h")
        if "lead" in options
        else 24
    )
    draft = SeriesDraft(
        name=parsed.free_text(),
        participants=_participants(options.get("with")),
        every=options["every"],
        at=options["at"],
        channel_id=channel,
        timezone=options.get("tz"),
        first_date=parse_date(options["from"], field="from") if "from" in options else None,
        duration_minutes=_number(options["duration"], field="duration", high=8 * 60, suffix="m")
        if "duration" in options
        else service.DEFAULT_DURATION_MINUTES,
        lead_minutes=lead_hours * 60,
    )
    series = service.create_series(
        ctx.session,
        actor=ctx.actor,
        draft=draft,
        directory=ctx.services.directory,
        profiles=ctx.services.workspace,
        default_timezone=ctx.services.settings.accord_default_timezone,
        now=ctx.now,
        channels=ctx.services.workspace,
    )
    return _series_outcome(ctx, series, f":calendar: Created *{series.ref}*.")


UPDATE_USAGE = (
    'update TP-n [name:"…"] [at:HH:MM] [tz:Area/City] [every:…] [from:YYYY-MM-DD] '
    "[with:@u,@v] [channel:#c] [duration:<min>] [lead:<hours>h]"
)
UPDATE_KEYS = frozenset(
    {"name", "every", "at", "tz", "with", "channel", "from", "duration", "lead"}
)


def update(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "update")
    options = parse_fields(
        args[1:], options=UPDATE_KEYS, hint=f"Usage: `/accord touchpoint {UPDATE_USAGE}`"
    )
    channel = None
    if "channel" in options:
        channel = parse_channel(options["channel"])
        if channel is None:
            raise InvalidInput("`channel:` needs a #channel, e.g. `channel:#ciso-cio`.")
    changes = SeriesChanges(
        name=neutralise(strip_quotes(options["name"])).strip() if "name" in options else None,
        at=options.get("at"),
        timezone=options.get("tz"),
        every=options.get("every"),
        first_date=parse_date(options["from"], field="from") if "from" in options else None,
        participants=_participants(options["with"]) if "with" in options else None,
        channel_id=channel,
        duration_minutes=_number(options["duration"], field="duration", high=8 * 60, suffix="m")
        if "duration" in options
        else None,
        lead_minutes=_number(options["lead"], field="lead", high=14 * 24, suffix="h") * 60
        if "lead" in options
        else None,
    )
    series = service.update_series(
        ctx.session,
        actor=ctx.actor,
        number=number,
        changes=changes,
        directory=ctx.services.directory,
        now=ctx.now,
        channels=ctx.services.workspace,
    )
    return _series_outcome(ctx, series, f":pencil2: Updated *{series.ref}*.")


def list_(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    include = bool(args) and args[0].lower() == "all"
    page = service.list_series(
        ctx.session, include_cancelled=include, page_size=render.LIST_PAGE_SIZE
    )
    return Reply(render.list_message(page, include_cancelled=include))


def show(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    series = service.get_series(ctx.session, number=_ref(args, "show"))
    return _series_outcome(ctx, series, "")


def pause(ctx: CommandContext, args: list[str]) -> Outcome:
    series = service.pause_series(
        ctx.session, actor=ctx.actor, number=_ref(args, "pause"), now=ctx.now
    )
    return _series_outcome(ctx, series, f":double_vertical_bar: *{series.ref}* is paused.")


def resume(ctx: CommandContext, args: list[str]) -> Outcome:
    series = service.resume_series(
        ctx.session,
        actor=ctx.actor,
        number=_ref(args, "resume"),
        now=ctx.now,
        channels=ctx.services.workspace,
    )
    return _series_outcome(ctx, series, f":arrow_forward: *{series.ref}* is running again.")


def cancel(ctx: CommandContext, args: list[str]) -> Outcome:
    series = service.cancel_series(
        ctx.session, actor=ctx.actor, number=_ref(args, "cancel"), now=ctx.now
    )
    return Reply(notice(f":wastebasket: *{series.ref}* is cancelled; no more agendas."))


def skip(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "skip")
    skipped = service.skip_next(ctx.session, actor=ctx.actor, number=number, now=ctx.now)
    series = service.get_series(ctx.session, number=number)
    lead = f":fast_forward: The meeting {render.when(skipped.starts_at, series)} is skipped."
    if skipped.agenda_posted:
        lead += " Its agenda was already posted in the channel; let the participants know."
    return _series_outcome(ctx, series, lead)


def _text_after_ref(
    args: list[str], verb: str, keys: frozenset[str] = frozenset()
) -> tuple[str, dict[str, str]]:
    parsed = parse_args(args[1:], options=keys)
    text = parsed.free_text()
    if not text:
        typed = args[0].upper()[:20] if args else "TP-n"
        raise InvalidInput(f"What should be recorded? `/accord touchpoint {verb} {typed} <text>`.")
    return text, parsed.options


def add(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "add")
    text, _ = _text_after_ref(args, "add")
    service.add_topic(ctx.session, actor=ctx.actor, number=number, text=text, now=ctx.now)
    return Reply(notice(f":memo: Added to the next agenda of {args[0].upper()}: {safe(text, 300)}"))


def action(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "action")
    text, options = _text_after_ref(args, "action", frozenset({"owner", "due"}))
    owner = parse_user(options["owner"]) if "owner" in options else None
    if "owner" in options and owner is None:
        raise InvalidInput("`owner:` needs a @mention, e.g. `owner:@alice`.")
    due = parse_date(options["due"], field="due") if "due" in options else None
    item = service.add_action(
        ctx.session,
        actor=ctx.actor,
        number=number,
        text=text,
        owner_id=owner,
        due=due,
        now=ctx.now,
        today=ctx.today,
    )
    series = service.get_series(ctx.session, number=number)
    return Reply(render.action_recorded(series, item))


def decision(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "decision")
    text, _ = _text_after_ref(args, "decision")
    recorded = service.record_decision(
        ctx.session, actor=ctx.actor, number=number, text=text, now=ctx.now
    )
    series = service.get_series(ctx.session, number=number)
    return Reply(render.decision_recorded(series, recorded))


REASSIGN_USAGE = 'reassign A-n [owner:@u] [due:YYYY-MM-DD|none] [text:"…"]'


def reassign(ctx: CommandContext, args: list[str]) -> Outcome:
    if not args:
        raise InvalidInput(f"Which action item? e.g. `/accord touchpoint {REASSIGN_USAGE}`.")
    number = service.parse_action_number(args[0])
    options = parse_fields(
        args[1:],
        options=frozenset({"owner", "due", "text"}),
        hint=f"Usage: `/accord touchpoint {REASSIGN_USAGE}`",
    )
    owner = parse_user(options["owner"]) if "owner" in options else None
    if "owner" in options and owner is None:
        raise InvalidInput("`owner:` needs a @mention, e.g. `owner:@alice`.")
    raw_due = options.get("due")
    clear_due = raw_due is not None and raw_due.lower() == "none"
    item = service.update_action(
        ctx.session,
        actor=ctx.actor,
        number=number,
        now=ctx.now,
        today=ctx.today,
        owner_id=owner,
        due=parse_date(raw_due, field="due") if raw_due is not None and not clear_due else None,
        clear_due=clear_due,
        text=neutralise(strip_quotes(options["text"])).strip() if "text" in options else None,
    )
    series = service.get_series(ctx.session, number=item.series_id)
    return Reply(render.action_recorded(series, item))


def done(ctx: CommandContext, args: list[str]) -> Outcome:
    if not args:
        raise InvalidInput("Which action item? e.g. `/accord touchpoint done A-7`.")
    item = service.complete_action(
        ctx.session, actor=ctx.actor, number=service.parse_action_number(args[0]), now=ctx.now
    )
    return Reply(notice(f":white_check_mark: *{item.label}* is done."))


def ics(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    series = service.get_series(ctx.session, number=_ref(args, "ics"))
    workspace = ctx.services.workspace
    if workspace is None:
        raise UserError("Calendar files cannot be shared from here.")
    content = series_ics(
        series,
        skipped=service.skipped_starts(ctx.session, series_id=series.id),  # type: ignore[arg-type]
        now=ctx.now,
    )
    filename = f"{series.ref.lower()}.ics"
    try:
        workspace.upload(
            channel=ctx.channel_id, filename=filename, content=content, title=series.name
        )
    except SlackApiError as error:
        if error.response.get("error") in ("not_in_channel", "channel_not_found"):
            raise NotInChannel(ctx.channel_id) from error
        raise
    return Reply(
        notice(f":calendar: Shared `{filename}`: open it to add {series.ref} to your calendar.")
    )


NOUN = Noun(
    name="touchpoint",
    summary="Recurring CIO–CISO meetings with agendas built from what is open.",
    aliases=("touchpoints", "tp"),
    bare=open_create_modal,
    verbs=(
        Verb(
            "new",
            NEW_USAGE,
            "/accord touchpoint new CIO-CISO weekly every:weekly at:09:00 tz:Europe/Berlin "
            "with:@alice,@bob",
            "Create a touchpoint series.",
            new,
            aliases=("create",),
        ),
        Verb(
            "update",
            UPDATE_USAGE,
            "/accord touchpoint update TP-1 at:10:00 tz:Europe/London with:@alice,@bob,@carol",
            "Change a series in place (what is not named stays).",
            update,
            aliases=("edit",),
        ),
        Verb("list", "list [all]", "/accord touchpoint list", "List touchpoint series.", list_),
        Verb("show", "show TP-n", "/accord touchpoint show TP-1", "Show a series.", show),
        Verb("pause", "pause TP-n", "/accord touchpoint pause TP-1", "Pause agendas.", pause),
        Verb("resume", "resume TP-n", "/accord touchpoint resume TP-1", "Resume agendas.", resume),
        Verb("cancel", "cancel TP-n", "/accord touchpoint cancel TP-1", "End a series.", cancel),
        Verb("skip", "skip TP-n", "/accord touchpoint skip TP-1", "Skip the next meeting.", skip),
        Verb(
            "add",
            "add TP-n <topic>",
            "/accord touchpoint add TP-1 VPN vendor renewal",
            "Add a topic to the next agenda.",
            add,
        ),
        Verb(
            "action",
            "action TP-n <text> owner:@u [due:YYYY-MM-DD]",
            "/accord touchpoint action TP-1 Draft the MFA exception owner:@bob due:2026-12-15",
            "Record an action item (stays on agendas until done).",
            action,
        ),
        Verb(
            "decision",
            "decision TP-n <text>",
            "/accord touchpoint decision TP-1 Freeze firewall changes until January",
            "Record a decision.",
            decision,
        ),
        Verb(
            "reassign",
            REASSIGN_USAGE,
            "/accord touchpoint reassign A-3 owner:@bob due:2027-04-01",
            "Give an action item to someone else, or change its due date or text.",
            reassign,
            aliases=("edit-action",),
        ),
        Verb("done", "done A-n", "/accord touchpoint done A-3", "Close an action item.", done),
        Verb(
            "ics",
            "ics TP-n",
            "/accord touchpoint ics TP-1",
            "Share the series as a calendar (.ics) file.",
            ics,
            aliases=("calendar",),
        ),
    ),
)
