"""Shared plumbing for buttons and modals: context from a payload, and delivering an outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import session_scope
from bot.services import Services
from bot.slack import send
from bot.slack.blocks.common import Message
from bot.slack.commands.base import CommandContext, OpenModal, Outcome, Reply
from bot.slack.guard import guarded, unit_of_work

log = logging.getLogger(__name__)


def channel_of(body: dict[str, Any]) -> str:
    channel = body.get("channel") or {}
    return str(channel.get("id", "")) if isinstance(channel, dict) else ""


def action_key(body: dict[str, Any]) -> str | None:
    """Slack's retry of one click repeats `action_ts`; a second click gets a new one."""
    actions = body.get("actions") or [{}]
    action = actions[0]
    if not action.get("action_ts"):
        return None
    return f"action:{action.get('action_id')}:{action['action_ts']}:{body['user']['id']}"


def run_interaction(
    services: Services,
    *,
    user_id: str,
    channel_id: str,
    request_key: str | None,
    work: Callable[[CommandContext], Outcome],
) -> Outcome | Message | None:
    """Run `work` as one unit; user errors and bugs come back as messages to show."""
    return guarded(
        interaction_unit(
            services,
            user_id=user_id,
            channel_id=channel_id,
            request_key=request_key,
            work=work,
        )
    )


def interaction_unit(
    services: Services,
    *,
    user_id: str,
    channel_id: str,
    request_key: str | None,
    work: Callable[[CommandContext], Outcome],
    **_: Any,
) -> Callable[[], Outcome]:
    """`work` in one transaction that claims the request key, with the actor resolved."""

    def run() -> Outcome:
        with unit_of_work(services, request_key=request_key) as session:
            actor = services.directory.actor(session, user_id)
            ctx = CommandContext(
                session=session,
                services=services,
                actor=actor,
                channel_id=channel_id,
                now=services.clock.now(),
            )
            return work(ctx)

    return run


def deliver(
    outcome: Outcome | Message | None,
    *,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    services: Services,
    replace_original: bool = False,
) -> None:
    """Show the result to the person who clicked: in place, ephemerally, or (from Home, which
    has no response_url) as a DM through the outbox, so an outage does not lose it."""
    if outcome is None:
        return
    if isinstance(outcome, OpenModal):
        try:
            client.views_open(trigger_id=body["trigger_id"], view=outcome.view)
        except SlackApiError as error:
            log.warning("views.open failed: %s", error.response.get("error"))
        return
    message = outcome.message if isinstance(outcome, Reply) else outcome
    if body.get("response_url"):
        respond(
            text=message.text,
            blocks=message.block_dicts(),
            response_type="ephemeral",
            replace_original=replace_original,
        )
    else:
        try:
            with session_scope(services.engine) as session:
                send.ephemeral(
                    session,
                    services,
                    user_id=body["user"]["id"],
                    channel=channel_of(body) or None,
                    message=message,
                )
        except Exception:  # the change is committed; only this answer is lost, and logged
            log.exception("could not queue the answer to a Home tab click")
