"""Sends rendered messages through the Web API: channels, threads, DMs and ephemerals."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.errors import UserError
from bot.slack.blocks.common import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


class NotInChannel(UserError):
    """The bot is not a member of the channel; the message says how to invite it."""

    def __init__(self, channel: str) -> None:
        super().__init__(
            f"Accord is not a member of channel {channel}, so nothing was posted or changed.",
            hint="Open that channel, type `/invite @Accord`, then try again.",
        )
        self.channel = channel


class SlackNotifier:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, message: Message, *, thread_ts: str | None = None) -> Posted:
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.block_dicts(),
                thread_ts=thread_ts,
                unfurl_links=False,
            )
        except SlackApiError as error:
            if error.response.get("error") in ("not_in_channel", "channel_not_found"):
                raise NotInChannel(channel) from error
            raise
        return Posted(channel=str(response["channel"]), ts=str(response["ts"]))

    def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self.client.chat_postEphemeral(
            channel=channel, user=user, text=message.text, blocks=message.block_dicts()
        )

    def direct(self, user: str, message: Message) -> Posted:
        """A DM: posting to a user id opens the bot's conversation with them."""
        return self.post(user, message)

    def tell(self, user: str, message: Message, *, channel: str | None) -> None:
        """Ephemeral in the channel the person was in, or a DM when there is none."""
        if channel:
            try:
                self.ephemeral(channel, user, message)
                return
            except SlackApiError as error:
                log.info("ephemeral failed (%s); sending a DM", error.response.get("error"))
        self.direct(user, message)
