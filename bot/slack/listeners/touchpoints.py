"""Touchpoint buttons and modals: capture action items and decisions from a posted agenda."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain import touchpoints as service
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.touchpoints import SeriesDraft
from bot.domain.validation import parse_page, parse_record_number, parse_whole_number
from bot.services import Services
from bot.slack import send
from bot.slack.blocks import touchpoints as render
from bot.slack.commands.base import CommandContext, OpenModal, Outcome, Reply
from bot.slack.ids import ActionId, BlockId, CallbackId, action_matcher
from bot.slack.inbound import json_object
from bot.slack.listeners.forms import FormState, form_listener, tell_submitter
from bot.slack.listeners.interaction import action_key, channel_of, deliver, run_interaction
from bot.slack.notifier import SlackNotifier
from bot.slack.thread_capture import on_message

log = logging.getLogger(__name__)

FIELD_BLOCKS = {
    "name": BlockId.TP_NAME,
    "participants": BlockId.TP_PARTICIPANTS,
    "time": BlockId.TP_TIME,
    "tz": BlockId.TP_TZ,
    "every": BlockId.TP_EVERY,
    "first meeting": BlockId.TP_FIRST,
    "channel": BlockId.TP_CHANNEL,
    "owner": BlockId.TP_OWNER,
    "due": BlockId.TP_DUE,
    "duration": BlockId.TP_DURATION,
    "lead": BlockId.TP_LEAD,
}


def _occurrence(body: dict[str, Any]) -> dict[str, int]:
    stale = "That button is out of date."
    value = json_object((body.get("actions") or [{}])[0].get("value"), stale=stale)
    return {key: parse_record_number(value.get(key), stale=stale) for key in ("o", "s")}


def _thread_metadata(ctx: CommandContext, body: dict[str, Any]) -> tuple[str, str]:
    ids = _occurrence(body)
    series = service.get_series(ctx.session, number=ids["s"])
    message = body.get("message") or {}
    metadata = {
        "id": ids["s"],
        "occurrence": ids["o"],
        "channel": channel_of(body),
        "thread_ts": message.get("thread_ts") or message.get("ts"),
    }
    return series.ref, json.dumps(metadata)


def open_action(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.TOUCHPOINT_MANAGE)  # before a form they could not submit
    ref, metadata = _thread_metadata(ctx, body)
    return OpenModal(render.action_modal(metadata=metadata, ref=ref))


def open_decision(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.TOUCHPOINT_MANAGE)  # before a form they could not submit
    ref, metadata = _thread_metadata(ctx, body)
    return OpenModal(render.decision_modal(metadata=metadata, ref=ref))


def _form_number(form: FormState, block: str, *, field: str, high: int, default: int) -> int:
    """An optional whole-number field of a form (empty: the default); the domain checks the
    range and names the field."""
    raw = form.text(block).strip().lower().removesuffix("h").removesuffix("m").strip()
    return parse_whole_number(raw, field=field, low=0, high=high) if raw else default


def submit_create(ctx: CommandContext, form: FormState) -> Outcome:
    values = form.values
    users = (values.get(BlockId.TP_PARTICIPANTS, {}).get("value") or {}).get("selected_users")
    channel = (values.get(BlockId.TP_CHANNEL, {}).get("value") or {}).get("selected_channel")
    clock = (values.get(BlockId.TP_TIME, {}).get("value") or {}).get("selected_time")
    draft = SeriesDraft(
        name=form.text(BlockId.TP_NAME),
        participants=[str(u) for u in users or []],
        every=form.choice(BlockId.TP_EVERY) or "weekly",
        at=str(clock or ""),
        channel_id=str(channel or ctx.channel_id),
        timezone=form.text(BlockId.TP_TZ) or None,
        first_date=form.day(BlockId.TP_FIRST, field="first meeting"),
        duration_minutes=_form_number(
            form,
            BlockId.TP_DURATION,
            field="duration",
            high=8 * 60,
            default=service.DEFAULT_DURATION_MINUTES,
        ),
        lead_minutes=60
        * _form_number(
            form,
            BlockId.TP_LEAD,
            field="lead",
            high=14 * 24,
            default=service.DEFAULT_LEAD_MINUTES // 60,
        ),
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
    return Reply(
        render.card(
            series,
            upcoming=service.next_meetings(ctx.session, series=series, now=ctx.now),
            actions_open=[],
            decisions=[],
            today=ctx.today,
            lead=f":calendar: Created *{series.ref}*.",
        )
    )


def submit_action(ctx: CommandContext, form: FormState) -> Outcome:
    number = form.record_number()
    item = service.add_action(
        ctx.session,
        actor=ctx.actor,
        number=number,
        text=form.text(BlockId.TP_TEXT),
        owner_id=form.user(BlockId.TP_OWNER),
        due=form.day(BlockId.TP_DUE, field="due"),
        now=ctx.now,
        today=ctx.today,
        occurrence_id=form.optional_number("occurrence"),
    )
    return Reply(render.action_recorded(service.get_series(ctx.session, number=number), item), True)


def submit_decision(ctx: CommandContext, form: FormState) -> Outcome:
    number = form.record_number()
    decision = service.record_decision(
        ctx.session,
        actor=ctx.actor,
        number=number,
        text=form.text(BlockId.TP_TEXT),
        now=ctx.now,
        occurrence_id=form.optional_number("occurrence"),
    )
    series = service.get_series(ctx.session, number=number)
    return Reply(render.decision_recorded(series, decision), True)


def turn_page(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    stale = "That button is out of date; run the command again."
    state = json_object((body.get("actions") or [{}])[0].get("value"), stale=stale)
    include, number = bool(state.get("a")), parse_page(state.get("p"), stale=stale)
    page = service.list_series(
        ctx.session, include_cancelled=include, page=number, page_size=render.LIST_PAGE_SIZE
    )
    return Reply(render.list_message(page, include_cancelled=include))


ACTIONS: dict[ActionId, Callable[[CommandContext, dict[str, Any]], Outcome]] = {
    ActionId.TOUCHPOINT_ACTION: open_action,
    ActionId.TOUCHPOINT_DECISION: open_decision,
    ActionId.TOUCHPOINT_PAGE: turn_page,
}
#: Buttons whose answer replaces the message they are on (a list's next page).
REPLACES = frozenset({ActionId.TOUCHPOINT_PAGE})
SUBMISSIONS: dict[CallbackId, tuple[Callable[[CommandContext, FormState], Outcome], BlockId]] = {
    CallbackId.TOUCHPOINT_CREATE: (submit_create, BlockId.TP_NAME),
    CallbackId.TOUCHPOINT_ACTION: (submit_action, BlockId.TP_TEXT),
    CallbackId.TOUCHPOINT_DECISION: (submit_decision, BlockId.TP_TEXT),
}


def register(app: App, services: Services) -> None:
    for action_id, handler in ACTIONS.items():
        app.action(action_matcher(action_id))(
            _action_listener(services, handler, replace=action_id in REPLACES)
        )
    for callback_id, (submit, first_block) in SUBMISSIONS.items():
        app.view(callback_id.value)(
            form_listener(
                services,
                submit,
                first_block=first_block,
                field_blocks=FIELD_BLOCKS,
                confirm=_confirm_capture,
            )
        )

    @app.event("message")
    def thread_reply(event: dict[str, Any], client: WebClient) -> None:
        on_message(services, SlackNotifier(client), event)


def _action_listener(
    services: Services,
    handler: Callable[[CommandContext, dict[str, Any]], Outcome],
    *,
    replace: bool = False,
) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        outcome = run_interaction(
            services,
            user_id=body["user"]["id"],
            channel_id=channel_of(body),
            request_key=action_key(body),
            work=lambda ctx: handler(ctx, body),
        )
        deliver(
            outcome,
            body=body,
            client=client,
            respond=respond,
            services=services,
            replace_original=replace,
        )

    return listener


def _confirm_capture(ctx: CommandContext, form: FormState, reply: Reply) -> None:
    """Captured from an agenda: the record goes into the agenda's thread for everyone (through
    the outbox, in the capture's transaction)."""
    channel = str(form.metadata.get("channel") or "")
    thread_ts = form.metadata.get("thread_ts")
    if reply.in_channel and channel and thread_ts:
        send.reply(
            ctx.session,
            ctx.services,
            parent=None,
            channel=channel,
            thread_ts=str(thread_ts),
            message=reply.message,
            summary="a captured agenda item",
            notify=ctx.actor.user_id,
        )
        return
    tell_submitter(ctx, form, reply)
