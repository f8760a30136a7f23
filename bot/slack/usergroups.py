"""Resolves Slack user groups (`S…`) to their members for the directory."""

from __future__ import annotations

from slack_sdk import WebClient


class SlackGroupMembers:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def members(self, group_id: str) -> list[str]:
        response = self.client.usergroups_users_list(usergroup=group_id)
        users: list[object] = list(response.get("users") or [])
        return [str(user) for user in users]
