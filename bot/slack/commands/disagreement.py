"""`/accord disagree …` and `/accord escalate DIS-n …`.

The first word after `disagree` is either a verb (list, show, position, update, settle,
withdraw, new) or the start of a new disagreement, which must be an `INI-n`/`RSK-n` id or a
"quoted subject" — so "list" can never be mistaken for a subject and vice versa.
"""

from __future__ import annotations

from bot.domain import disagreements as service
from bot.domain import escalations as esc
from bot.domain.errors import InvalidInput
from bot.domain.paging import Page
from bot.domain.permissions import Permission, allowed, ensure_allowed
from bot.domain.refs import Kind, parse_any_ref, parse_ref
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.validation import parse_date, parse_page
from bot.slack import disputes
from bot.slack.blocks import disagreements as render
from bot.slack.blocks.common import Message
from bot.slack.commands.base import CommandContext, Noun, Outcome, Reply, Verb
from bot.slack.text import neutralise, parse_args, parse_fields, parse_user, strip_quotes

NEW_USAGE = '<INI-n|RSK-n|"subject"> [as:cio|ciso] <your position>'
NEW_EXAMPLE = "/accord disagree INI-3 we need two more weeks to test the rollback"


def _side(value: str | None) -> Role | None:
    if value is None:
        return None
    key = value.strip().lower()
    if key not in ("cio", "ciso"):
        raise InvalidInput("`as:` is `cio` or `ciso`.")
    return Role(key)


def _is_quoted(token: str) -> bool:
    return strip_quotes(token) != token


def new(ctx: CommandContext, args: list[str]) -> Outcome:
    if not args:
        raise InvalidInput(
            "What is the disagreement about?", hint=f"Usage: `/accord disagree {NEW_USAGE}`"
        )
    first, rest = args[0], args[1:]
    linked: str | None = None
    subject: str | None = None
    if _is_quoted(first):
        subject = neutralise(strip_quotes(first))
    elif parse_any_ref(first) is not None:
        linked = first
        if rest and _is_quoted(rest[0]):
            subject, rest = neutralise(strip_quotes(rest[0])), rest[1:]
    else:
        raise InvalidInput(
            'Start with the linked item (`INI-3`, `RSK-2`) or a "quoted subject", '
            f"not `{neutralise(first)[:30]}`.",
            hint=f"Usage: `/accord disagree {NEW_USAGE}` — e.g. `{NEW_EXAMPLE}`",
        )
    parsed = parse_args(rest, options=frozenset({"as"}))
    position = parsed.free_text()
    if not position:
        raise InvalidInput(
            "State your side's position after the subject.",
            hint=f"e.g. `{NEW_EXAMPLE}`",
        )
    draft = service.DisagreementDraft(
        position=position, subject=subject, linked_ref=linked, side=_side(parsed.options.get("as"))
    )
    disagreement = service.create_disagreement(
        ctx.session, actor=ctx.actor, draft=draft, now=ctx.now
    )
    other = service.other_side(disagreement.raised_side)
    disputes.to_members(
        ctx.session,
        ctx.services,
        other,
        render.position_request(disagreement, other),
        about=disagreement.ref,
    )
    lead = (
        f":speech_balloon: Recorded *{disagreement.ref}*; the {ROLE_LABELS[other]} "
        "was asked for its position."
    )
    return Reply(render.card(disagreement, None, ctx.today, lead=lead))


def _number(args: list[str], verb: str) -> int:
    if not args:
        raise InvalidInput(f"Which disagreement? e.g. `/accord disagree {verb} DIS-3`.")
    return parse_ref(args[0], Kind.DISAGREEMENT)


LIST_HINT = "`list` takes `open` (the default) or `all`, and `page:N`."


def list_(ctx: CommandContext, args: list[str]) -> Outcome:
    parsed = parse_args(args, options=frozenset({"page"}))
    words = [word.lower() for word in parsed.words]
    if len(words) > 1 or (words and words[0] not in ("open", "all")):
        raise InvalidInput(LIST_HINT)
    raw_page = parsed.options.get("page", "1")
    page = parse_page(raw_page, stale=f"`page:{neutralise(raw_page)[:10]}` is not a page number.")
    return Reply(list_page(ctx, include_closed=words == ["all"], page=page))


def list_page(ctx: CommandContext, *, include_closed: bool, page: int) -> Message:
    """One page of the list (the command and the Previous/Next buttons)."""
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    found = service.list_disagreements(ctx.session, include_closed=include_closed, page=page)
    pairs = Page(
        items=[(d, esc.escalation_for(ctx.session, d.id)) for d in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )
    return render.list_message(pairs, include_closed=include_closed, today=ctx.today)


def show(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    disagreement = service.get_disagreement(ctx.session, number=_number(args, "show"))
    escalation = esc.escalation_for(ctx.session, disagreement.id)
    return Reply(render.card(disagreement, escalation, ctx.today))


def _text_after_ref(args: list[str], verb: str, what: str) -> tuple[str, dict[str, str]]:
    parsed = parse_args(args[1:], options=frozenset({"as"}))
    text = parsed.free_text()
    if not text:
        typed = args[0].upper()[:20] if args else "DIS-n"
        raise InvalidInput(f"Give the {what}: `/accord disagree {verb} {typed} <{what}>`.")
    return text, parsed.options


def position(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _number(args, "position")
    text, options = _text_after_ref(args, "position", "position")
    disagreement, side = service.state_position(
        ctx.session,
        actor=ctx.actor,
        number=number,
        position=text,
        now=ctx.now,
        side=_side(options.get("as")),
    )
    disputes.escalation_posts(
        ctx.session,
        ctx.services,
        disagreement,
        render.position_update(disagreement, side),
        today=ctx.today,
    )
    lead = f":memo: Saved the {ROLE_LABELS[side]} position on *{disagreement.ref}*."
    escalation = esc.escalation_for(ctx.session, disagreement.id)
    return Reply(render.card(disagreement, escalation, ctx.today, lead=lead))


UPDATE_KEYS = frozenset({"business", "security", "options", "subject"})


def update(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _number(args, "update")
    fields = parse_fields(
        args[1:],
        options=UPDATE_KEYS,
        hint='Fields are `business:"…"`, `security:"…"`, `options:"A | B"`, `subject:"…"`.',
    )

    def value(key: str) -> str | None:
        raw = fields.get(key)
        return neutralise(strip_quotes(raw)) if raw is not None else None

    options = value("options")
    details = service.DisagreementDetails(
        business_impact=value("business"),
        security_impact=value("security"),
        options=service.parse_options(options) if options is not None else None,
        subject=value("subject"),
    )
    disagreement = service.update_details(
        ctx.session, actor=ctx.actor, number=number, details=details, now=ctx.now
    )
    disputes.escalation_posts(
        ctx.session,
        ctx.services,
        disagreement,
        render.details_update(disagreement),
        today=ctx.today,
    )
    escalation = esc.escalation_for(ctx.session, disagreement.id)
    lead = f":pencil2: Updated *{disagreement.ref}*."
    return Reply(render.card(disagreement, escalation, ctx.today, lead=lead))


def settle(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _number(args, "settle")
    text, _ = _text_after_ref(args, "settle", "outcome")
    disagreement, side = service.propose_settlement(
        ctx.session, actor=ctx.actor, number=number, outcome=text, now=ctx.now
    )
    other = service.other_side(side)
    disputes.to_members(
        ctx.session,
        ctx.services,
        other,
        render.settlement_request(disagreement, ctx.actor.user_id),
        about=disagreement.ref,
    )
    lead = (
        f":handshake: Proposed a settlement of *{disagreement.ref}*; it is settled once "
        f"the {ROLE_LABELS[other]} confirms."
    )
    return Reply(render.card(disagreement, None, ctx.today, lead=lead))


def withdraw(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _number(args, "withdraw")
    text, _ = _text_after_ref(args, "withdraw", "reason")
    disagreement, escalation = esc.withdraw_disagreement(
        ctx.session, actor=ctx.actor, number=number, reason=text, now=ctx.now
    )
    lead = f"Withdrew *{disagreement.ref}*."
    if escalation is not None:
        note = render.withdrawn_note(disagreement, ctx.actor.user_id)
        disputes.escalation_posts(ctx.session, ctx.services, disagreement, note, today=ctx.today)
        disputes.to_sides(ctx.session, ctx.services, disagreement, note)
        lead += f" {escalation.ref} is withdrawn; its thread and brief say so."
    return Reply(render.card(disagreement, escalation, ctx.today, lead=lead))


NOUN = Noun(
    name="disagree",
    summary="Record a CIO/CISO disagreement with both positions, settle it or escalate it.",
    aliases=("disagreement", "disagreements", "dis"),
    bare=new,
    bare_takes_args=True,
    verbs=(
        Verb("new", NEW_USAGE, NEW_EXAMPLE, "Record a disagreement (also without `new`).", new),
        Verb(
            "list",
            "list [open|all] [page:N]",
            "/accord disagree list",
            "Open (or all) disagreements.",
            list_,
        ),
        Verb(
            "show",
            "show DIS-n",
            "/accord disagree show DIS-2",
            "Both positions, impacts, outcome.",
            show,
        ),
        Verb(
            "position",
            "position DIS-n [as:cio|ciso] <your side's position>",
            "/accord disagree position DIS-2 the CVE is exploitable from the internet",
            "State or replace your side's position.",
            position,
        ),
        Verb(
            "update",
            'update DIS-n [business:"…"] [security:"…"] [options:"A | B | C"] [subject:"…"]',
            '/accord disagree update DIS-2 options:"Delay two weeks | Ship behind the WAF"',
            "Impacts and the options considered.",
            update,
        ),
        Verb(
            "settle",
            "settle DIS-n <outcome>",
            "/accord disagree settle DIS-2 ship on 12-15 with the WAF rule in place",
            "Propose a settlement; the other side confirms by button.",
            settle,
        ),
        Verb(
            "withdraw",
            "withdraw DIS-n <reason>",
            "/accord disagree withdraw DIS-2 vendor patched it",
            "Withdraw your side's disagreement.",
            withdraw,
        ),
    ),
)


ESCALATE_USAGE = 'DIS-n [to:@exec [delegate:@exec]] [by:YYYY-MM-DD] [question:"…"]'


def escalate(ctx: CommandContext, args: list[str]) -> Outcome:
    if not args:
        raise InvalidInput(
            "Which disagreement? e.g. `/accord escalate DIS-2 by:2026-12-10`.",
            hint=f"Usage: `/accord escalate {ESCALATE_USAGE}`",
        )
    number = parse_ref(args[0], Kind.DISAGREEMENT)
    fields = parse_fields(
        args[1:],
        options=frozenset({"to", "delegate", "by", "question"}),
        hint=f"Usage: `/accord escalate {ESCALATE_USAGE}`",
    )
    to = fields.get("to")
    addressed = parse_user(to) if to is not None else None
    if to is not None and addressed is None:
        raise InvalidInput("`to:` needs a @mention of an executive, e.g. `to:@erin`.")
    named = fields.get("delegate")
    delegate = parse_user(named) if named is not None else None
    if named is not None and delegate is None:
        raise InvalidInput("`delegate:` needs a @mention of an executive, e.g. `delegate:@dan`.")
    by = fields.get("by")
    question = fields.get("question")
    request = esc.EscalationRequest(
        number=number,
        addressed_to=addressed,
        delegate=delegate,
        decide_by=parse_date(by, field="decision") if by is not None else None,
        question=neutralise(strip_quotes(question)) if question is not None else None,
    )
    escalated = disputes.escalate(
        ctx.session, ctx.services, actor=ctx.actor, request=request, now=ctx.now
    )
    disagreement = service.get_disagreement(ctx.session, number=number)
    escalation = esc.escalation_for(ctx.session, disagreement.id)
    lead = (
        f":arrow_double_up: Escalated *{disagreement.ref}* as *{escalated.ref}* in "
        f"<#{escalated.channel_id}>; updates and the decision follow in that thread."
    )
    return Reply(render.card(disagreement, escalation, ctx.today, lead=lead))


def escalation_list(ctx: CommandContext, args: list[str]) -> Outcome:
    words = [word.lower() for word in args]
    if words not in ([], ["all"], ["open"]):
        raise InvalidInput("`/accord escalate list` takes `open` (the default) or `all`.")
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    include_decided = words == ["all"]
    rows = esc.list_escalations(ctx.session, today=ctx.today, include_decided=include_decided)
    return Reply(render.escalation_list(rows, include_decided=include_decided, today=ctx.today))


def escalation_show(ctx: CommandContext, args: list[str]) -> Outcome:
    if len(args) != 1:
        raise InvalidInput("Which escalation? e.g. `/accord escalate show ESC-1`.")
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    escalation = esc.get_escalation(ctx.session, number=parse_ref(args[0], Kind.ESCALATION))
    disagreement = service.get_disagreement(ctx.session, number=escalation.disagreement_id)
    brief = disputes.brief_of(ctx.session, escalation, disagreement, ctx.today)
    # Its decision buttons are for executives; the other readers get the brief without them.
    if not allowed(ctx.actor, Permission.ESCALATION_DECIDE):
        brief = render.without_buttons(brief)
    return Reply(brief)


ESCALATE = Noun(
    name="escalate",
    summary="Put a disagreement to executives as a thread in the executive channel.",
    bare=escalate,
    bare_takes_args=True,
    verbs=(
        Verb(
            "list",
            "list [open|all]",
            "/accord escalate list",
            "Escalations waiting for a decision (overdue first), with links to their briefs.",
            escalation_list,
            reads_only=True,
        ),
        Verb(
            "show",
            "show ESC-n",
            "/accord escalate show ESC-1",
            "An escalation's brief; executives get its decision buttons.",
            escalation_show,
            reads_only=True,
        ),
    ),
    usage=ESCALATE_USAGE,
    example="/accord escalate DIS-2 to:@erin by:2026-12-15",
)
