"""The `Workspace` port on Slack's Web API: profile time zones (users.info), channel
membership (conversations.info) and file uploads."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class SlackWorkspace:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def timezone(self, user_id: str) -> str | None:
        try:
            response = self.client.users_info(user=user_id)
        except SlackApiError as error:
            log.info("users.info failed for %s: %s", user_id, error.response.get("error"))
            return None
        tz = (response.get("user") or {}).get("tz")
        return str(tz) if tz else None

    def is_member(self, channel_id: str) -> bool | None:
        try:
            response = self.client.conversations_info(channel=channel_id)
        except SlackApiError as error:
            code = error.response.get("error")
            log.info("conversations.info failed for %s: %s", channel_id, code)
            # A channel the bot cannot see is one it is not in; anything else is unknown.
            return False if code in ("channel_not_found", "not_in_channel") else None
        member = (response.get("channel") or {}).get("is_member")
        return bool(member) if member is not None else None

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> None:
        self.client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=title
        )
