"""The `Workspace` port on Slack's Web API: profile time zones (users.info) and file uploads."""

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

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> None:
        self.client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=title
        )
