"""Buttons and modals of disagreements and escalations. Logic lives in bot/domain and
bot/slack/disputes.py; these functions only read the payload and pick the service."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain import disagreements as service
from bot.domain import escalations as esc
from bot.domain.errors import InvalidInput
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.validation import (
    MAX_RECORD_NUMBER,
    parse_page,
    parse_record_number,
    parse_whole_number,
)
from bot.services import Services
from bot.slack import disputes
from bot.slack.blocks import disagreements as render
from bot.slack.blocks.common import Message, safe
from bot.slack.blocks.errors import notice
from bot.slack.commands import disagreement as commands
from bot.slack.commands.base import CommandContext, OpenModal, Outcome, Reply
from bot.slack.ids import ActionId, BlockId, CallbackId, action_matcher
from bot.slack.inbound import json_object
from bot.slack.listeners.forms import FormState, form_listener
from bot.slack.listeners.interaction import action_key, channel_of, deliver, run_interaction

ActionHandler = Callable[[CommandContext, dict[str, Any]], Outcome]
FormHandler = Callable[[CommandContext, FormState], Outcome]
STALE = "That button is out of date; run the command again."


def _action(body: dict[str, Any]) -> dict[str, Any]:
    return dict((body.get("actions") or [{}])[0])


def _int_value(body: dict[str, Any]) -> int:
    return parse_record_number(_action(body).get("value"), stale=STALE)


def _json_value(body: dict[str, Any]) -> dict[str, Any]:
    return json_object(_action(body).get("value"), stale=STALE)


def _meta(body: dict[str, Any], **values: Any) -> str:
    return json.dumps({**values, "channel": channel_of(body)})


# --- buttons -----------------------------------------------------------------------------------


def show(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    d = service.get_disagreement(ctx.session, number=_int_value(body))
    return Reply(render.card(d, esc.escalation_for(ctx.session, d.id), ctx.today))


def ask_position(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    side = Role(str(_action(body).get("action_id", "")).rsplit(".", 1)[-1])
    ensure_allowed(ctx.actor, Permission.DISAGREEMENT_RAISE)
    if not ctx.actor.on_side(side):
        raise InvalidInput(f"Only the {ROLE_LABELS[side]} states its own position.")
    d = service.get_disagreement(ctx.session, number=_int_value(body))
    meta = _meta(body, id=d.id, side=side.value)
    return OpenModal(render.position_modal(d, side, metadata=meta))


def confirm_settlement(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    value = _json_value(body)
    d = service.confirm_settlement(
        ctx.session,
        actor=ctx.actor,
        number=parse_record_number(value.get("d"), stale=STALE),
        version=_version(value.get("v")),
        now=ctx.now,
    )
    if d.state != service.DisagreementState.SETTLED:
        return Reply(render.card(d, None, ctx.today, lead="Confirmed for your side."))
    note = render.thread_note(f":handshake: *{d.ref}* is settled: {safe(d.outcome or '', 1000)}")
    disputes.to_sides(ctx.session, ctx.services, d, note)
    return Reply(render.card(d, None, ctx.today, lead=f":handshake: *{d.ref}* is settled."))


def _version(value: object) -> int:
    try:
        return parse_whole_number(value, field="version", low=0, high=MAX_RECORD_NUMBER)
    except InvalidInput:
        raise InvalidInput(STALE) from None


def list_page(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    value = _json_value(body)
    page = parse_page(value.get("p"), stale=STALE)
    return Reply(commands.list_page(ctx, include_closed=bool(value.get("all")), page=page))


def escalate_now(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    number = _int_value(body)
    escalated = disputes.escalate(
        ctx.session,
        ctx.services,
        actor=ctx.actor,
        request=esc.EscalationRequest(number=number),
        now=ctx.now,
    )
    return Reply(
        notice(f":arrow_double_up: Escalated as *{escalated.ref}* in <#{escalated.channel_id}>.")
    )


def ask_snooze(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.DISAGREEMENT_RAISE)
    d = service.get_disagreement(ctx.session, number=_int_value(body))
    return OpenModal(render.snooze_modal(d, metadata=_meta(body, id=d.id)))


def _open_escalation(ctx: CommandContext, number: int) -> esc.Escalation:
    return esc.open_escalation(ctx.session, actor=ctx.actor, number=number)


def _current_brief(ctx: CommandContext, changed: esc.OptionsChanged, number: int) -> Outcome:
    """The answer to a decision for options that changed: the brief as it is now."""
    escalation = esc.get_escalation(ctx.session, number=number)
    d = service.get_disagreement(ctx.session, number=escalation.disagreement_id)
    brief = disputes.brief_of(ctx.session, escalation, d, ctx.today)
    lead = notice(f":warning: {changed.message}")
    return Reply(Message(text=lead.text, blocks=[*lead.blocks, *brief.blocks]))


def ask_decision(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    value = _json_value(body)
    escalation = _open_escalation(ctx, parse_record_number(value.get("e"), stale=STALE))
    d = service.get_disagreement(ctx.session, number=escalation.disagreement_id)
    index, key = value.get("o"), str(value.get("k") or "")
    try:
        option = esc.check_option(escalation, d, index if isinstance(index, int) else -1, key)
    except esc.OptionsChanged as changed:
        return _current_brief(ctx, changed, escalation.id)  # type: ignore[arg-type]
    hold = esc.linked_hold(ctx.session, d)
    meta = _meta(body, id=escalation.id, o=index, k=key)
    return OpenModal(render.decide_modal(escalation, option, hold=hold, metadata=meta))


def ask_more_info(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    escalation = _open_escalation(ctx, _int_value(body))
    return OpenModal(render.more_info_modal(escalation, metadata=_meta(body, id=escalation.id)))


def ask_defer(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    escalation = _open_escalation(ctx, _int_value(body))
    return OpenModal(render.defer_modal(escalation, metadata=_meta(body, id=escalation.id)))


ACTIONS: list[tuple[str | re.Pattern[str], ActionHandler]] = [
    (ActionId.DISAGREEMENT_SHOW.value, show),
    (action_matcher(ActionId.DISAGREEMENT_PAGE), list_page),
    (re.compile(rf"^{re.escape(ActionId.DISAGREEMENT_POSITION.value)}\.(cio|ciso)$"), ask_position),
    (ActionId.DISAGREEMENT_SETTLE.value, confirm_settlement),
    (ActionId.DISAGREEMENT_ESCALATE.value, escalate_now),
    (ActionId.DISAGREEMENT_SNOOZE.value, ask_snooze),
    (re.compile(rf"^{re.escape(ActionId.ESCALATION_OPTION.value)}\.\d+$"), ask_decision),
    (ActionId.ESCALATION_MORE_INFO.value, ask_more_info),
    (ActionId.ESCALATION_DEFER.value, ask_defer),
]


# --- modal submissions -------------------------------------------------------------------------


def _side(value: object) -> Role:
    if value not in (Role.CIO.value, Role.CISO.value):
        raise InvalidInput("This form is out of date; open it again.")
    return Role(str(value))


def save_position(ctx: CommandContext, form: FormState) -> Outcome:
    side = _side(form.metadata.get("side"))
    d, side = service.state_position(
        ctx.session,
        actor=ctx.actor,
        number=form.record_number(),
        position=form.text(BlockId.POSITION),
        now=ctx.now,
        side=side,
    )
    disputes.escalation_posts(
        ctx.session, ctx.services, d, render.position_update(d, side), today=ctx.today
    )
    return Reply(notice(f":memo: Saved the {ROLE_LABELS[side]} position on *{d.ref}*."))


def save_snooze(ctx: CommandContext, form: FormState) -> Outcome:
    d = service.snooze(
        ctx.session,
        actor=ctx.actor,
        number=form.record_number(),
        reason=form.text(BlockId.REASON),
        now=ctx.now,
    )
    return Reply(notice(f":zzz: *{d.ref}* is snoozed; its time box starts again today."))


def _decide(ctx: CommandContext, form: FormState, decision: esc.Decision) -> Outcome:
    number = form.record_number()
    try:
        escalation, d = esc.decide(
            ctx.session, actor=ctx.actor, number=number, decision=decision, now=ctx.now
        )
    except esc.OptionsChanged as changed:  # nothing was written; show what is current
        return _current_brief(ctx, changed, number)
    disputes.decision_posts(ctx.session, ctx.services, escalation, d, ctx.actor.user_id, ctx.today)
    return Reply(notice(f":scales: Recorded for *{escalation.ref}*; posted in its thread."))


def _released(form: FormState) -> bool:
    element = form.values.get(BlockId.RELEASE_HOLD, {}).get("value") or {}
    # "release" is what forms opened before the value became "yes" still send.
    chosen = {o.get("value") for o in element.get("selected_options") or []}
    return bool(chosen & {render.RELEASE_HOLD_YES, "release"})


def save_decision(ctx: CommandContext, form: FormState) -> Outcome:
    try:
        option = parse_whole_number(form.metadata.get("o"), field="option", low=0, high=99)
    except InvalidInput:
        raise InvalidInput("This form is out of date; open it again.") from None
    decision = esc.Decision(
        kind=esc.DecisionKind.OPTION,
        option=option,
        option_key=str(form.metadata.get("k") or ""),
        rationale=form.text(BlockId.RATIONALE),
        release_hold=_released(form),
    )
    return _decide(ctx, form, decision)


def save_more_info(ctx: CommandContext, form: FormState) -> Outcome:
    decision = esc.Decision(kind=esc.DecisionKind.MORE_INFO, rationale=form.text(BlockId.RATIONALE))
    return _decide(ctx, form, decision)


def save_defer(ctx: CommandContext, form: FormState) -> Outcome:
    decision = esc.Decision(
        kind=esc.DecisionKind.DEFER,
        rationale=form.text(BlockId.RATIONALE),
        defer_to=form.day(BlockId.DEFER_TO, field="defer to"),
    )
    return _decide(ctx, form, decision)


SUBMISSIONS: dict[CallbackId, tuple[FormHandler, BlockId]] = {
    CallbackId.DISAGREEMENT_POSITION: (save_position, BlockId.POSITION),
    CallbackId.DISAGREEMENT_SNOOZE: (save_snooze, BlockId.REASON),
    CallbackId.ESCALATION_DECIDE: (save_decision, BlockId.RATIONALE),
    CallbackId.ESCALATION_MORE_INFO: (save_more_info, BlockId.RATIONALE),
    CallbackId.ESCALATION_DEFER: (save_defer, BlockId.RATIONALE),
}
FIELD_BLOCKS = {"date": BlockId.DEFER_TO, "rationale": BlockId.RATIONALE, "reason": BlockId.REASON}


def register(app: App, services: Services) -> None:
    for matcher, handler in ACTIONS:
        app.action(matcher)(_action_listener(services, handler))
    for callback_id, (form_handler, first_block) in SUBMISSIONS.items():
        app.view(callback_id.value)(
            form_listener(
                services, form_handler, first_block=first_block, field_blocks=FIELD_BLOCKS
            )
        )


def _action_listener(services: Services, handler: ActionHandler) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        outcome = run_interaction(
            services,
            user_id=body["user"]["id"],
            channel_id=channel_of(body),
            request_key=action_key(body),
            work=lambda ctx: handler(ctx, body),
        )
        deliver(outcome, body=body, client=client, respond=respond, services=services)

    return listener
