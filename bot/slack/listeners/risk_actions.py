"""Risk buttons (approve, reject, show, snooze, page) and the risk modals (request, reject reason).

Thin: parse the payload, call the service, render. Anything posted to Slack beyond the reply
(the approval request, updating it after a decision) runs after the unit of work commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.domain import risks as service
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, parse_ref
from bot.domain.risks import Decision, RiskDraft, RiskFilter, RiskPolicy, Treatment
from bot.domain.risks.policy import may_decide
from bot.domain.validation import (
    parse_choice,
    parse_page,
    parse_record_number,
    parse_snooze_days,
)
from bot.services import Services
from bot.slack.blocks import risks as render
from bot.slack.blocks.errors import notice
from bot.slack.commands.base import CommandContext, OpenModal, Outcome, Reply
from bot.slack.commands.risk import (
    after_decision,
    approved_lead,
    ask_approvers,
    list_page,
    rejected_lead,
)
from bot.slack.guard import guarded, unit_of_work
from bot.slack.ids import ActionId, BlockId, CallbackId, action_matcher
from bot.slack.listeners.forms import FormState, form_listener
from bot.slack.listeners.interaction import action_key, channel_of, deliver
from bot.slack.risk_delivery import where_asked

STALE = "That button is out of date; run `/accord risk show RSK-n` for the current state."


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _id_and_round(body: dict[str, Any]) -> tuple[int, int]:
    number, _, round_ = _value(body).partition(":")
    return parse_record_number(number, stale=STALE), parse_record_number(round_, stale=STALE)


def _number(body: dict[str, Any]) -> int | None:
    """The record a button is about, if its value names one (for a lost race's message)."""
    try:
        return parse_record_number(_value(body).partition(":")[0], stale=STALE)
    except InvalidInput:
        return None


def _current(ctx: CommandContext, number: int, round_: int) -> service.RiskAcceptance:
    try:
        risk = service.get_risk(ctx.session, number=number)
    except NotFound:
        raise InvalidInput(STALE) from None
    if risk.round != round_:
        raise Conflict(
            f"{risk.ref} changed after this request was posted (now round {risk.round}), so "
            "this button no longer applies.",
            hint="Use the newest approval request, or `/accord risk show " + risk.ref + "`.",
        )
    return risk


def approve(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    number, round_ = _id_and_round(body)
    _current(ctx, number, round_)
    result = service.decide(
        ctx.session, actor=ctx.actor, number=number, decision=Decision.APPROVED, now=ctx.now
    )
    message = render.card(result.risk, ctx.today, lead=approved_lead(result), buttons=False)
    return after_decision(ctx, result, message)


def reject(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    number, round_ = _id_and_round(body)
    risk = _current(ctx, number, round_)
    # Check the rights now, so nobody fills in a reason only to be told they may not reject.
    side = service.approver_side(ctx.actor)
    service.ensure_decidable(risk, ctx.actor, side=side, today=ctx.today)
    return OpenModal(render.reject_modal(risk, channel=channel_of(body)))


def show(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    number = parse_record_number(_value(body), stale=STALE)
    risk = service.get_risk(ctx.session, number=number)
    return Reply(render.card(risk, ctx.today, buttons=may_decide(risk, ctx.actor, today=ctx.today)))


def snooze(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    """The reminder's Snooze button carries `RSK-n:days`; the days obey the command's bound."""
    raw_number, _, raw_days = _value(body).partition(":")
    number, days = parse_record_number(raw_number, stale=STALE), parse_snooze_days(raw_days)
    risk = service.snooze(ctx.session, actor=ctx.actor, number=number, days=days, now=ctx.now)
    until = risk.snoozed_until.isoformat() if risk.snoozed_until else "—"
    return Reply(notice(f":zzz: Expiry reminders for *{risk.ref}* are snoozed until {until}."))


def page(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    which, _, number = _value(body).partition(":")
    page_number = parse_page(number, stale=STALE)
    return Reply(list_page(ctx, parse_choice(which, RiskFilter, field="filter"), page_number))


ACTIONS: dict[ActionId, Callable[[CommandContext, dict[str, Any]], Outcome]] = {
    ActionId.RISK_APPROVE: approve,
    ActionId.RISK_REJECT: reject,
    ActionId.RISK_SHOW: show,
    ActionId.RISK_SNOOZE: snooze,
    ActionId.RISK_PAGE: page,
}
#: Actions whose answer replaces the message the button is on (paging a list).
IN_PLACE = frozenset({ActionId.RISK_PAGE})


def _run(
    services: Services,
    *,
    user_id: str,
    channel_id: str,
    request_key: str | None,
    work: Callable[[CommandContext], Outcome],
    number: int | None,
) -> Callable[[], Outcome]:
    """One unit of work; a lost race on the one-decision-per-side key becomes a clear reply."""

    def run() -> Outcome:
        try:
            with unit_of_work(services, request_key=request_key) as session:
                ctx = CommandContext(
                    session=session,
                    services=services,
                    actor=services.directory.actor(session, user_id),
                    channel_id=channel_id,
                    now=services.clock.now(),
                )
                return work(ctx)
        except IntegrityError as error:
            if "risk_approval" not in str(error) and "uq_risk_approval_side" not in str(error):
                raise
            message = None
            if number is not None:
                with session_scope(services.engine) as session:
                    actor = services.directory.actor(session, user_id)
                    message = service.already_decided_message(session, number=number, actor=actor)
            raise Conflict(
                message or "Your side has already decided on this; nothing changed."
            ) from None

    return run


def _action_listener(
    services: Services,
    handler: Callable[[CommandContext, dict[str, Any]], Outcome],
    *,
    in_place: bool = False,
) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        outcome = guarded(
            _run(
                services,
                user_id=body["user"]["id"],
                channel_id=channel_of(body),
                request_key=action_key(body),
                work=lambda ctx: handler(ctx, body),
                number=_number(body),
            )
        )
        deliver(
            outcome,
            body=body,
            client=client,
            respond=respond,
            services=services,
            replace_original=in_place,
        )

    return listener


def _register_fields(form: FormState) -> dict[str, Any]:
    """The register's optional fields, parsed by the same parsers as the command's."""
    fields: dict[str, Any] = {}
    owner = form.user(BlockId.RISK_OWNER)
    if owner:
        fields["owner_id"] = owner
    treatment = form.choice(BlockId.TREATMENT)
    if treatment:
        fields["treatment"] = parse_choice(treatment, Treatment, field="treatment")
    due = form.day(BlockId.TREATMENT_DUE, field="treatment-due")
    if due:
        fields["treatment_due"] = due
    likelihood, impact = (
        form.choice(BlockId.RESIDUAL_LIKELIHOOD),
        form.choice(BlockId.RESIDUAL_IMPACT),
    )
    if likelihood or impact:
        fields["residual"] = service.parse_residual(f"{likelihood or '?'}x{impact or '?'}")
    evidence = form.text(BlockId.EVIDENCE)
    if evidence.strip():
        fields["evidence"] = service.parse_evidence(evidence)
    retired_by = form.text(BlockId.RETIRED_BY).strip()
    if retired_by:
        fields["retired_by_id"] = parse_ref(retired_by, Kind.INITIATIVE)
    return fields


def create(ctx: CommandContext, form: FormState) -> Outcome:
    likelihood, impact = form.choice(BlockId.LIKELIHOOD), form.choice(BlockId.IMPACT)
    expires = form.day(BlockId.EXPIRES, field="expires")
    if likelihood is None or impact is None or expires is None:
        raise InvalidInput("Likelihood, impact and expiry are required.", field="expires")
    initiative = form.text(BlockId.INITIATIVE).strip()
    draft = RiskDraft(
        title=form.text(BlockId.TITLE),
        description=form.text(BlockId.DESCRIPTION),
        asset=form.text(BlockId.ASSET),
        controls=form.text(BlockId.CONTROLS),
        likelihood=service.parse_rating(likelihood, field="likelihood"),
        impact=service.parse_rating(impact, field="impact"),
        expires_on=expires,
        initiative_id=parse_ref(initiative, Kind.INITIATIVE) if initiative else None,
        # The picker sends its choices; a form opened before it existed sends typed ids.
        techniques=service.parse_techniques(
            form.choices(BlockId.ATTACK) or form.text(BlockId.ATTACK)
        ),
        **_register_fields(form),
    )
    risk = service.create_risk(
        ctx.session,
        actor=ctx.actor,
        draft=draft,
        now=ctx.now,
        policy=RiskPolicy.from_settings(ctx.services.settings),
    )
    lead = (
        f":white_check_mark: Requested *{risk.ref}*; approval is asked in "
        f"{where_asked(ctx.services)}."
    )
    return ask_approvers(ctx, risk, render.card(risk, ctx.today, lead=lead, buttons=False))


def reject_submitted(ctx: CommandContext, form: FormState) -> Outcome:
    number = form.record_number()
    round_ = form.optional_number("round")
    risk = service.get_risk(ctx.session, number=number)
    if round_ != risk.round:
        raise Conflict(f"{risk.ref} changed while you were writing; nothing was rejected.")
    result = service.decide(
        ctx.session,
        actor=ctx.actor,
        number=number,
        decision=Decision.REJECTED,
        now=ctx.now,
        reason=form.text(BlockId.REASON),
    )
    message = render.card(result.risk, ctx.today, lead=rejected_lead(result), buttons=False)
    return after_decision(ctx, result, message)


FIELD_BLOCKS = {
    "title": BlockId.TITLE,
    "description": BlockId.DESCRIPTION,
    "asset": BlockId.ASSET,
    "controls": BlockId.CONTROLS,
    "likelihood": BlockId.LIKELIHOOD,
    "impact": BlockId.IMPACT,
    "expires": BlockId.EXPIRES,
    "attack": BlockId.ATTACK,
    "reason": BlockId.REASON,
    "owner": BlockId.RISK_OWNER,
    "treatment": BlockId.TREATMENT,
    "treatment-due": BlockId.TREATMENT_DUE,
    "residual": BlockId.RESIDUAL_LIKELIHOOD,
    "residual likelihood": BlockId.RESIDUAL_LIKELIHOOD,
    "residual impact": BlockId.RESIDUAL_IMPACT,
    "evidence": BlockId.EVIDENCE,
    "retired-by": BlockId.RETIRED_BY,
}
SUBMISSIONS: dict[CallbackId, tuple[Callable[[CommandContext, FormState], Outcome], BlockId]] = {
    CallbackId.RISK_CREATE: (create, BlockId.TITLE),
    CallbackId.RISK_REJECT: (reject_submitted, BlockId.REASON),
}


def _risk_runner(services: Services, *, form: FormState, **unit: Any) -> Callable[[], Outcome]:
    try:
        number = form.optional_number("id")
    except InvalidInput:
        number = None  # the handler itself says the form is out of date
    return _run(services, number=number, **unit)


def register(app: App, services: Services) -> None:
    for action_id, handler in ACTIONS.items():
        app.action(action_matcher(action_id))(
            _action_listener(services, handler, in_place=action_id in IN_PLACE)
        )
    for callback_id, (submission, first_block) in SUBMISSIONS.items():
        app.view(callback_id.value)(
            form_listener(
                services,
                submission,
                first_block=first_block,
                field_blocks=FIELD_BLOCKS,
                runner=_risk_runner,
            )
        )
