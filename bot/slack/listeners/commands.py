"""`/accord`: acknowledge with the answer (services are fast), or open a modal after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.slack.blocks.common import Message
from bot.slack.blocks.errors import notice
from bot.slack.commands import route
from bot.slack.commands.base import Deferred, OpenModal, Outcome, Reply
from bot.slack.guard import guarded
from bot.slack.listeners.interaction import run_interaction
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)
COMMAND_TEXT_LIMIT = 4000


def run_command(
    services: Services, *, user_id: str, channel_id: str, text: str, request_key: str | None
) -> Outcome | Message | None:
    """Parse and run one command in one transaction; used by Slack and the shell alike."""
    if len(text) > COMMAND_TEXT_LIMIT:
        return Reply(
            notice(
                f":warning: That command is {len(text)} characters long; "
                f"the limit is {COMMAND_TEXT_LIMIT}. Use the form instead."
            )
        )
    return run_interaction(
        services,
        user_id=user_id,
        channel_id=channel_id,
        request_key=request_key,
        work=lambda ctx: route(ctx, text),
    )


def register(app: App, services: Services) -> None:
    @app.command("/accord")
    def accord(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        outcome = run_command(
            services,
            user_id=command["user_id"],
            channel_id=command.get("channel_id", ""),
            text=command.get("text", ""),
            request_key=f"command:{command.get('trigger_id')}"
            if command.get("trigger_id")
            else None,
        )
        if outcome is None:
            ack()
        elif isinstance(outcome, OpenModal):
            ack()
            try:
                client.views_open(trigger_id=command["trigger_id"], view=outcome.view)
            except SlackApiError as error:
                log.warning("views.open failed: %s", error.response.get("error"))
                respond(
                    text="The form could not open in time; please run the command again.",
                    response_type="ephemeral",
                )
        else:
            message = outcome.message if isinstance(outcome, Reply) else outcome
            in_channel = isinstance(outcome, Reply) and outcome.in_channel
            ack(
                text=message.text,
                blocks=message.block_dicts(),
                response_type="in_channel" if in_channel else "ephemeral",
            )
            if isinstance(outcome, Deferred) and outcome.then is not None:
                _follow_up(outcome, client=client, respond=respond)


def _follow_up(outcome: Deferred, *, client: WebClient, respond: Respond) -> None:
    then = outcome.then
    assert then is not None
    follow = guarded(lambda: then(SlackNotifier(client)))
    if follow is not None:
        respond(text=follow.text, blocks=follow.block_dicts(), response_type="ephemeral")
