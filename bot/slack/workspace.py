"""The `Workspace` port on Slack's Web API: profile time zones (users.info), channel
membership (conversations.info) and file uploads."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


#: How long a profile's time zone is trusted before users.info is asked again.
TIMEZONE_TTL_SECONDS = 3600.0
#: How long an error answer (a user Slack does not know) is kept before asking again.
TIMEZONE_RETRY_SECONDS = 300.0


class SlackWorkspace:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._zones: dict[str, tuple[float, str | None]] = {}
        self._names: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def timezone(self, user_id: str) -> str | None:
        """The profile's zone, cached for an hour (every command of a person needs it for
        "today"); a failed lookup is not cached, so the next command asks again."""
        with self._lock:
            cached = self._zones.get(user_id)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        try:
            response = self.client.users_info(user=user_id)
        except SlackApiError as error:
            # Slack answered (e.g. user_not_found): ask again in a while, not on every command.
            log.info("users.info failed for %s: %s", user_id, error.response.get("error"))
            self._remember(user_id, None, TIMEZONE_RETRY_SECONDS)
            return None
        except Exception:  # unreachable Slack: fall back to UTC rather than fail the command
            log.info("users.info unreachable for %s", user_id)
            return None
        tz = (response.get("user") or {}).get("tz")
        zone = str(tz) if tz else None
        self._remember(user_id, zone, TIMEZONE_TTL_SECONDS)
        return zone

    def _remember(self, user_id: str, zone: str | None, seconds: float) -> None:
        with self._lock:
            if len(self._zones) > 10_000:  # a bound, whatever the workspace's size
                self._zones.clear()
            self._zones[user_id] = (time.monotonic() + seconds, zone)

    def display_name(self, user_id: str) -> str | None:
        """The profile's real name (else display name, else handle), asked once per process:
        records read by people (the digest, exports) name people instead of showing ids."""
        with self._lock:
            if user_id in self._names:
                return self._names[user_id]
        try:
            found = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as error:
            log.info("users.info failed for %s: %s", user_id, error.response.get("error"))
            found = {}
        except Exception:  # unreachable Slack: show the id this time, ask again next time
            log.info("users.info unreachable for %s", user_id)
            return None
        profile = found.get("profile") or {}
        name = next(
            (
                str(value)
                for value in (
                    profile.get("real_name"),
                    found.get("real_name"),
                    profile.get("display_name"),
                    found.get("name"),
                )
                if value
            ),
            None,
        )
        with self._lock:
            if len(self._names) > 10_000:
                self._names.clear()
            self._names[user_id] = name
        return name

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
