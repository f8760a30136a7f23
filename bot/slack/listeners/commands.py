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
from bot.slack.commands import reads_only, route
from bot.slack.commands.base import Deferred, OpenModal, Outcome, Reply
from bot.slack.deadline import Pending, within_budget
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
        # A command that only reads claims no key: nothing to repeat, and no write to wait for.
        request_key=None if reads_only(text) else request_key,
        work=lambda ctx: route(ctx, text),
    )


WORKING = ":hourglass_flowing_sand: Working on it… the answer follows here in a moment."


def register(app: App, services: Services) -> None:
    @app.command("/accord")
    def accord(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        trigger_id = command.get("trigger_id")
        result = within_budget(
            lambda: run_command(
                services,
                user_id=command["user_id"],
                channel_id=command.get("channel_id", ""),
                text=command.get("text", ""),
                request_key=f"command:{trigger_id}" if trigger_id else None,
            ),
            seconds=services.settings.accord_ack_budget_seconds,
        )
        if isinstance(result, Pending):
            # Slack would show an error after 3 s although the work may succeed: answer now.
            ack(text=WORKING, response_type="ephemeral")
            _deliver_late(result.result(), client=client, respond=respond)
            return
        if result is None:
            ack()
        elif isinstance(result, OpenModal):
            ack()
            _open_form(result, trigger_id=str(trigger_id), client=client, respond=respond)
        elif isinstance(result, Deferred) and result.then is not None and result.notice_first:
            # The ack's body and a response_url post race each other to Slack, so a fast
            # result could show above its own "Building…". Send both through response_url,
            # one after the other, and ack empty (still within the budget).
            ack()
            _respond(result.message, respond=respond, in_channel=result.in_channel)
            _follow_up(result, client=client, respond=respond)
        else:
            message = result.message if isinstance(result, Reply) else result
            in_channel = isinstance(result, Reply) and result.in_channel
            ack(
                text=message.text,
                blocks=message.block_dicts(),
                response_type="in_channel" if in_channel else "ephemeral",
            )
            if isinstance(result, Deferred) and result.then is not None:
                _follow_up(result, client=client, respond=respond)


def _open_form(modal: OpenModal, *, trigger_id: str, client: WebClient, respond: Respond) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=modal.view)
    except SlackApiError as error:
        log.warning("views.open failed: %s", error.response.get("error"))
        respond(
            text="The form could not open in time; please run the command again.",
            response_type="ephemeral",
        )


def _deliver_late(
    outcome: Outcome | Message | None, *, client: WebClient, respond: Respond
) -> None:
    """The answer to a command that outlived the ack budget, through its response_url."""
    if outcome is None:
        return
    if isinstance(outcome, OpenModal):
        respond(
            text="Accord was too slow to open the form; please run the command again.",
            response_type="ephemeral",
        )
        return
    message = outcome.message if isinstance(outcome, Reply) else outcome
    respond(text=message.text, blocks=message.block_dicts(), response_type="ephemeral")
    if isinstance(outcome, Deferred) and outcome.then is not None:
        _follow_up(outcome, client=client, respond=respond)


def _respond(message: Message, *, respond: Respond, in_channel: bool = False) -> None:
    try:
        respond(
            text=message.text,
            blocks=message.block_dicts(),
            response_type="in_channel" if in_channel else "ephemeral",
        )
    except Exception:  # the notice is a courtesy; the work still runs and answers
        log.warning("could not send a command's first notice through response_url", exc_info=True)


def _follow_up(outcome: Deferred, *, client: WebClient, respond: Respond) -> None:
    then = outcome.then
    assert then is not None
    follow = guarded(lambda: then(SlackNotifier(client)))
    if follow is not None:
        respond(text=follow.text, blocks=follow.block_dicts(), response_type="ephemeral")
