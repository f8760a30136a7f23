"""Buttons. Each listener acks at once, then runs the same services as the commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain import initiatives as service
from bot.domain.audit import list_events
from bot.domain.errors import InvalidInput
from bot.domain.initiatives import InitiativeFilter
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.validation import parse_page, parse_record_number
from bot.services import Services
from bot.slack.blocks import initiatives as render
from bot.slack.commands import general
from bot.slack.commands.base import CommandContext, OpenModal, Outcome, Reply
from bot.slack.ids import ActionId, action_matcher
from bot.slack.inbound import json_object
from bot.slack.listeners.interaction import action_key, channel_of, deliver, run_interaction

STALE = "That button is out of date; run the command again."


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _number(body: dict[str, Any]) -> int:
    return parse_record_number(_value(body), stale=STALE)


def _metadata(body: dict[str, Any], number: int) -> str:
    return json.dumps({"id": number, "channel": channel_of(body)})


def show(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    initiative = service.get_initiative(ctx.session, number=_number(body))
    return Reply(render.card(initiative, ctx.today, viewer=ctx.actor))


def page(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    state = json_object(_value(body), stale=STALE)
    try:
        which = InitiativeFilter(str(state.get("f")))
    except ValueError:
        raise InvalidInput(STALE) from None
    tag = state.get("t")
    if tag is not None and not isinstance(tag, str):
        raise InvalidInput(STALE)
    number = parse_page(state.get("p"), stale=STALE)
    result = service.list_initiatives(
        ctx.session,
        which=which,
        tag=tag,
        viewer_id=ctx.actor.user_id,
        today=ctx.today,
        page=number,
        page_size=render.LIST_PAGE_SIZE,
    )
    return Reply(render.list_message(result, which=which, tag=tag, today=ctx.today))


def hold(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.HOLD_PLACE)  # before a form they could not submit
    initiative = service.get_initiative(ctx.session, number=_number(body))
    return OpenModal(
        render.reason_modal(initiative, release=False, metadata=_metadata(body, _number(body)))
    )


def release(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.HOLD_RELEASE)
    initiative = service.get_initiative(ctx.session, number=_number(body))
    return OpenModal(
        render.reason_modal(initiative, release=True, metadata=_metadata(body, _number(body)))
    )


def edit(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    initiative = service.get_initiative(ctx.session, number=_number(body))
    ensure_allowed(ctx.actor, Permission.INITIATIVE_EDIT, record=initiative)
    return OpenModal(render.edit_modal(initiative, metadata=_metadata(body, _number(body))))


def audit(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    initiative = service.get_initiative(ctx.session, number=_number(body))
    return Reply(
        render.audit_message(initiative.ref, list_events(ctx.session, record_ref=initiative.ref))
    )


def confirm_role_change(ctx: CommandContext, body: dict[str, Any]) -> Outcome:
    """The Confirm button on a side change in the coordination channel (a second admin)."""
    return Reply(general.confirm_change(ctx, _number(body)))


HANDLERS: dict[ActionId, tuple[Callable[[CommandContext, dict[str, Any]], Outcome], bool]] = {
    ActionId.INITIATIVE_SHOW: (show, False),
    ActionId.INITIATIVE_PAGE: (page, True),
    ActionId.INITIATIVE_HOLD: (hold, False),
    ActionId.INITIATIVE_RELEASE: (release, False),
    ActionId.INITIATIVE_EDIT: (edit, False),
    ActionId.INITIATIVE_AUDIT: (audit, False),
    ActionId.ROLES_CONFIRM: (confirm_role_change, False),
}


def register(app: App, services: Services) -> None:
    for action_id, (handler, replace) in HANDLERS.items():
        app.action(action_matcher(action_id))(_listener(services, handler, replace))


def _listener(
    services: Services,
    handler: Callable[[CommandContext, dict[str, Any]], Outcome],
    replace_original: bool,
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
            replace_original=replace_original and not isinstance(outcome, OpenModal),
        )

    return listener
