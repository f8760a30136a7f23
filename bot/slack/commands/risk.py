"""`/accord risk …`: parse the words, call the risk service, render the answer."""

from __future__ import annotations

import json
from typing import Any

from bot.domain import risks as service
from bot.domain.attack.exposure import accepted_in_force, by_tactic
from bot.domain.attack.service import current_catalogue
from bot.domain.audit import list_events
from bot.domain.errors import InvalidInput
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, parse_ref
from bot.domain.risk_export import ExportFormat, filename
from bot.domain.risks import (
    Decision,
    RiskChanges,
    RiskDraft,
    RiskFilter,
    RiskPolicy,
    Treatment,
)
from bot.domain.risks.policy import may_decide
from bot.domain.threats.queries import briefs_touching
from bot.domain.validation import parse_choice, parse_date, parse_snooze_days
from bot.slack.blocks import risks as render
from bot.slack.blocks.common import Message
from bot.slack.blocks.errors import notice
from bot.slack.blocks.general import audit_feed
from bot.slack.commands.base import (
    CommandContext,
    Noun,
    OpenModal,
    Outcome,
    Reply,
    Verb,
)
from bot.slack.risk_delivery import (
    announce_closure,
    announce_decision,
    queue_export,
    request_approval,
    tell_requester_of_revocation,
    where_asked,
)
from bot.slack.text import neutralise, parse_args, parse_fields, parse_user, strip_quotes

REGISTER_KEYS = frozenset(
    {"owner", "treatment", "treatment-due", "residual", "evidence", "retired-by"}
)
NEW_KEYS = (
    frozenset(
        {"likelihood", "impact", "expires", "initiative", "attack", "asset", "controls", "draft"}
    )
    | REGISTER_KEYS
)
NEW_USAGE = (
    "new <title> likelihood:<1-5> impact:<1-5> expires:<YYYY-MM-DD> [initiative:INI-n]"
    ' [attack:T1078,…] [asset:"…"] [controls:"…"] [owner:@u] [residual:2x3]'
    " [treatment:accept|mitigate|transfer|avoid] [treatment-due:date] [evidence:https://…,…]"
    " [retired-by:INI-n] [draft:yes]"
)
UPDATE_KEYS = (
    frozenset(
        {"title", "likelihood", "impact", "expires", "initiative", "attack", "asset", "controls"}
    )
    | REGISTER_KEYS
)


def register_options(o: dict[str, str]) -> dict[str, Any]:
    """The register's fields (owner, treatment, residual, evidence, what retires it), parsed
    once for `new` and `update`; absent ones stay None."""
    owner = o.get("owner")
    owner_id = parse_user(owner) if owner is not None else None
    if owner is not None and owner_id is None:
        raise InvalidInput("`owner:` needs a @mention of a person, e.g. `owner:@alice`.")
    due = o.get("treatment-due")
    return {
        "owner_id": owner_id,
        "treatment": parse_choice(o["treatment"], Treatment, field="treatment")
        if "treatment" in o
        else None,
        "treatment_due": parse_date(due, field="treatment-due") if due is not None else None,
        "residual": service.parse_residual(o["residual"]) if "residual" in o else None,
        "evidence": service.parse_evidence(o["evidence"]) if "evidence" in o else None,
        "retired_by_id": parse_ref(o["retired-by"], Kind.INITIATIVE) if "retired-by" in o else None,
    }


def policy(ctx: CommandContext) -> RiskPolicy:
    return RiskPolicy.from_settings(ctx.services.settings)


def _ref(args: list[str], verb: str) -> int:
    if not args:
        raise InvalidInput(f"Which risk? Give its id, e.g. `/accord risk {verb} RSK-3`.")
    return parse_ref(args[0], Kind.RISK)


def _text(value: str) -> str:
    return neutralise(strip_quotes(value))


def _required(options: dict[str, str], key: str, example: str) -> str:
    if key not in options:
        raise InvalidInput(f"`{key}:` is required, e.g. `{key}:{example}`.", field=key)
    return options[key]


def ask_approvers(ctx: CommandContext, risk: service.RiskAcceptance, message: Message) -> Reply:
    """Answer now; the approval request leaves through the outbox with this transaction."""
    request_approval(ctx.session, ctx.services, risk=risk, now=ctx.now)
    return Reply(message)


def after_decision(ctx: CommandContext, result: service.DecisionResult, message: Message) -> Reply:
    """Answer now; the request's cards are updated and the requester told, in this transaction."""
    announce_decision(
        ctx.session,
        ctx.services,
        risk=result.risk,
        round_=result.round.round,
        closed=result.closed,
        now=ctx.now,
    )
    return Reply(message)


def open_create_modal(ctx: CommandContext, _args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.RISK_REQUEST)  # before a form they could not submit
    return OpenModal(render.create_modal(metadata=json.dumps({"channel": ctx.channel_id})))


def new(ctx: CommandContext, args: list[str]) -> Outcome:
    parsed = parse_args(args, options=NEW_KEYS)
    options = parsed.options
    initiative = options.get("initiative")
    draft = RiskDraft(
        title=parsed.free_text(),
        likelihood=service.parse_rating(_required(options, "likelihood", "3"), field="likelihood"),
        impact=service.parse_rating(_required(options, "impact", "4"), field="impact"),
        expires_on=parse_date(_required(options, "expires", "2027-01-31"), field="expires"),
        asset=_text(options.get("asset", "")),
        controls=_text(options.get("controls", "")),
        initiative_id=parse_ref(initiative, Kind.INITIATIVE) if initiative else None,
        techniques=service.parse_techniques(options.get("attack", "")),
        **{k: v for k, v in register_options(options).items() if v is not None},
    )
    as_draft = options.get("draft", "").lower() in ("yes", "true", "1")
    risk = service.create_risk(
        ctx.session,
        actor=ctx.actor,
        draft=draft,
        now=ctx.now,
        policy=policy(ctx),
        submit=not as_draft,
    )
    if as_draft:
        lead = (
            f":memo: Saved *{risk.ref}* as a draft; "
            f"`/accord risk submit {risk.ref}` asks for approval."
        )
    else:
        where = where_asked(ctx.services)
        lead = f":white_check_mark: Requested *{risk.ref}*; approval is asked in {where}."
        return ask_approvers(ctx, risk, render.card(risk, ctx.today, lead=lead, buttons=False))
    return Reply(render.card(risk, ctx.today, lead=lead, buttons=False))


def submit(ctx: CommandContext, args: list[str]) -> Outcome:
    risk = service.submit_risk(
        ctx.session, actor=ctx.actor, number=_ref(args, "submit"), now=ctx.now
    )
    lead = (
        f":outbox_tray: Submitted *{risk.ref}*; approval is asked in {where_asked(ctx.services)}."
    )
    return ask_approvers(ctx, risk, render.card(risk, ctx.today, lead=lead, buttons=False))


def list_(ctx: CommandContext, args: list[str]) -> Outcome:
    if len(args) > 1:
        raise InvalidInput("`list` takes one filter.")
    which = parse_choice(args[0], RiskFilter, field="filter") if args else RiskFilter.OPEN
    return Reply(list_page(ctx, which, 1))


def list_page(ctx: CommandContext, which: RiskFilter, page: int) -> Message:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    found = service.list_risks(
        ctx.session,
        which=which,
        viewer_id=ctx.actor.user_id,
        today=ctx.today,
        page=page,
        page_size=render.LIST_PAGE_SIZE,
    )
    return render.list_message(found, which=which, today=ctx.today)


def show(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    risk = service.get_risk(ctx.session, number=_ref(args, "show"))
    threats = [
        (brief.ref, brief.title, brief.severity.value, touch.flagged)
        for brief, touch in briefs_touching(ctx.session, risk)
    ]
    return Reply(
        render.card(
            risk,
            ctx.today,
            threats=threats,
            buttons=may_decide(risk, ctx.actor, today=ctx.today),
        )
    )


def _reason(args: list[str]) -> str:
    return parse_args(args[1:], options=frozenset()).free_text()


def approve(ctx: CommandContext, args: list[str]) -> Outcome:
    result = service.decide(
        ctx.session,
        actor=ctx.actor,
        number=_ref(args, "approve"),
        decision=Decision.APPROVED,
        now=ctx.now,
        reason=_reason(args) or None,
    )
    message = render.card(result.risk, ctx.today, lead=approved_lead(result), buttons=False)
    return after_decision(ctx, result, message)


def approved_lead(result: service.DecisionResult) -> str:
    ref = result.risk.ref
    if result.became_accepted:
        what = "renewed" if result.round.kind == service.RoundKind.RENEWAL else "accepted"
        return (
            f":white_check_mark: You approved *{ref}*; both sides have approved, so it is {what} "
            f"(until {result.risk.expires_on.isoformat()})."
        )
    return f":ballot_box_with_check: You approved *{ref}*; it now waits for the other side."


def reject(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "reject")
    reason = _reason(args)
    if not reason:
        raise InvalidInput(
            f"Say why: `/accord risk reject RSK-{number} <reason>`; the reason is recorded.",
            field="reason",
        )
    result = service.decide(
        ctx.session,
        actor=ctx.actor,
        number=number,
        decision=Decision.REJECTED,
        now=ctx.now,
        reason=reason,
    )
    message = render.card(result.risk, ctx.today, lead=rejected_lead(result), buttons=False)
    return after_decision(ctx, result, message)


def rejected_lead(result: service.DecisionResult) -> str:
    ref = result.risk.ref
    if result.round.kind == service.RoundKind.RENEWAL:
        return (
            f":x: You rejected the renewal of *{ref}*; the acceptance in force is unchanged "
            f"({result.risk.state.value.replace('_', ' ')}, expires "
            f"{result.risk.expires_on.isoformat()})."
        )
    return f":x: You rejected *{ref}*."


def revoke(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "revoke")
    reason = _reason(args)
    if not reason:
        raise InvalidInput(
            f"Say why: `/accord risk revoke RSK-{number} <reason>`; the reason is recorded."
        )
    risk = service.revoke(ctx.session, actor=ctx.actor, number=number, reason=reason, now=ctx.now)
    announcement = render.revoked_announcement(risk, actor_id=ctx.actor.user_id)
    announce_closure(ctx.session, ctx.services, risk=risk, message=announcement, now=ctx.now)
    tell_requester_of_revocation(
        ctx.session, ctx.services, risk=risk, actor_id=ctx.actor.user_id, message=announcement
    )
    return Reply(render.card(risk, ctx.today, lead=f":no_entry_sign: Revoked *{risk.ref}*."))


def renew(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "renew")
    parsed = parse_args(args[1:], options=frozenset({"expires"}))
    expires = parse_date(_required(parsed.options, "expires", "2027-03-31"), field="expires")
    risk = service.renew(
        ctx.session,
        actor=ctx.actor,
        number=number,
        expires_on=expires,
        now=ctx.now,
        policy=policy(ctx),
    )
    lead = (
        f":arrows_counterclockwise: Renewal of *{risk.ref}* to {expires.isoformat()} requested "
        f"(round {risk.round}); both sides approve it, asked in {where_asked(ctx.services)}. "
        f"Until then, {render.in_force_until(risk, ctx.today)}."
    )
    return ask_approvers(ctx, risk, render.card(risk, ctx.today, lead=lead, buttons=False))


def update(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "update")
    o = parse_fields(args[1:], options=UPDATE_KEYS)
    changes = RiskChanges(
        title=_text(o["title"]) if "title" in o else None,
        asset=_text(o["asset"]) if "asset" in o else None,
        controls=_text(o["controls"]) if "controls" in o else None,
        likelihood=service.parse_rating(o["likelihood"], field="likelihood")
        if "likelihood" in o
        else None,
        impact=service.parse_rating(o["impact"], field="impact") if "impact" in o else None,
        expires_on=parse_date(o["expires"], field="expires") if "expires" in o else None,
        initiative_id=parse_ref(o["initiative"], Kind.INITIATIVE) if "initiative" in o else None,
        techniques=service.parse_techniques(o["attack"]) if "attack" in o else None,
        **register_options(o),
    )
    risk, reset = service.update_risk(
        ctx.session,
        actor=ctx.actor,
        number=number,
        changes=changes,
        now=ctx.now,
        policy=policy(ctx),
    )
    lead = f":pencil2: Updated *{risk.ref}*."
    if reset:
        lead += (
            " That is a material change: the acceptance is suspended until both sides approve "
            f"again (asked in {where_asked(ctx.services)})."
        )
        return ask_approvers(ctx, risk, render.card(risk, ctx.today, lead=lead, buttons=False))
    return Reply(render.card(risk, ctx.today, lead=lead, buttons=False))


def snooze(ctx: CommandContext, args: list[str]) -> Outcome:
    number = _ref(args, "snooze")
    days = parse_snooze_days(args[1] if len(args) > 1 else "7", number=number)
    risk = service.snooze(ctx.session, actor=ctx.actor, number=number, days=days, now=ctx.now)
    until = risk.snoozed_until.isoformat() if risk.snoozed_until else "—"
    return Reply(notice(f":zzz: Expiry reminders for *{risk.ref}* are snoozed until {until}."))


def export(ctx: CommandContext, args: list[str]) -> Outcome:
    fmt = parse_choice(args[0], ExportFormat, field="format") if args else ExportFormat.CSV
    name = filename(fmt, ctx.now.strftime("%Y%m%d-%H%M%S"))
    queue_export(ctx.session, ctx.services, actor=ctx.actor, fmt=fmt, name=name, now=ctx.now)
    return Reply(notice(f":page_facing_up: `{name}` is on its way to your DM with Accord."))


def exposure(ctx: CommandContext, args: list[str]) -> Outcome:
    if args:
        raise InvalidInput("`exposure` takes nothing more: `/accord risk exposure`.")
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    accepted = accepted_in_force(ctx.session, today=ctx.today)
    rows = by_tactic(accepted, today=ctx.today)
    version = current_catalogue(ctx.session).version
    return Reply(render.exposure_message(rows, accepted=len(accepted), version=version))


def audit(ctx: CommandContext, args: list[str]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    risk = service.get_risk(ctx.session, number=_ref(args, "audit"))
    events = list_events(ctx.session, record_ref=risk.ref, limit=40)
    return Reply(audit_feed(events, title=f"Audit trail · {risk.ref}"))


NOUN = Noun(
    name="risk",
    summary="Risk acceptances both sides sign, with expiry, reminders and an auditor's export.",
    aliases=("risks", "rsk"),
    bare=open_create_modal,
    verbs=(
        Verb(
            "new",
            NEW_USAGE,
            "/accord risk new Legacy VPN without MFA likelihood:3 impact:4 expires:2027-01-31 "
            "attack:T1078",
            "Request a risk acceptance (asks both sides to approve).",
            new,
            aliases=("create", "add"),
        ),
        Verb(
            "list",
            "list [open|pending|accepted|expiring|expired|mine|all]",
            "/accord risk list expiring",
            "List risk acceptances.",
            list_,
            aliases=("ls",),
        ),
        Verb(
            "exposure",
            "exposure",
            "/accord risk exposure",
            "Accepted risk by ATT&CK tactic: how many, how many expiring, the highest score.",
            exposure,
            reads_only=True,
        ),
        Verb("show", "show RSK-n", "/accord risk show RSK-2", "Show one risk acceptance.", show),
        Verb(
            "approve",
            "approve RSK-n [note]",
            "/accord risk approve RSK-2",
            "Approve for your side (not your own request).",
            approve,
        ),
        Verb(
            "reject",
            "reject RSK-n <reason>",
            "/accord risk reject RSK-2 controls are not enough",
            "Reject, with a reason.",
            reject,
        ),
        Verb(
            "revoke",
            "revoke RSK-n <reason>",
            "/accord risk revoke RSK-2 the system was decommissioned",
            "End an acceptance early.",
            revoke,
        ),
        Verb(
            "renew",
            "renew RSK-n expires:<YYYY-MM-DD>",
            "/accord risk renew RSK-2 expires:2027-06-30",
            "Start a new approval round with a new expiry.",
            renew,
        ),
        Verb(
            "update",
            'update RSK-n [likelihood:n] [impact:n] [expires:date] [controls:"…"] [asset:"…"]'
            ' [attack:…] [initiative:INI-n] [title:"…"] [owner:@u] [residual:2x3]'
            " [treatment:…] [treatment-due:date] [evidence:https://…] [retired-by:INI-n]",
            '/accord risk update RSK-2 impact:2 controls:"EDR on every host"',
            "Change a record; a material change needs both approvals again.",
            update,
            aliases=("edit",),
        ),
        Verb(
            "submit",
            "submit RSK-n",
            "/accord risk submit RSK-2",
            "Send a draft, or a rejected request again (a new round), for approval.",
            submit,
            aliases=("resubmit", "rerequest"),
        ),
        Verb(
            "snooze",
            "snooze RSK-n [days]",
            "/accord risk snooze RSK-2 7",
            "Quiet the expiry reminders for a few days.",
            snooze,
        ),
        Verb(
            "export",
            "export [csv|json]",
            "/accord risk export json",
            "The whole register with approval history, as a file in your DM.",
            export,
        ),
        Verb("audit", "audit RSK-n", "/accord risk audit RSK-2", "Who changed what.", audit),
    ),
)
