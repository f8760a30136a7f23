"""The parts every adapter (Slack listeners, shell, scheduler) shares, wired by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine

from bot.clock import Clock
from bot.config import Settings
from bot.domain.roles import Directory


class Workspace(Protocol):
    """What services need from the chat workspace besides messages (Slack in production)."""

    def timezone(self, user_id: str) -> str | None:
        """The user's IANA time zone from their profile, or None if unknown."""
        ...

    def display_name(self, user_id: str) -> str | None:
        """The name people know the user by (profile display or real name), or None."""
        ...

    def is_member(self, channel_id: str) -> bool | None:
        """Whether Accord is in the channel (conversations.info); None if Slack cannot say."""
        ...

    def upload(self, *, channel: str, filename: str, content: bytes, title: str) -> None:
        """Share a file in a channel."""
        ...


class Outbound(Protocol):
    """Delivers the outbox (bot/slack/deliver.py in production)."""

    def kick(self) -> None:
        """Deliver soon: something was committed."""
        ...

    def drain(self) -> None:
        """Deliver everything that is due now, before returning."""
        ...


@dataclass
class Services:
    settings: Settings
    engine: Engine
    clock: Clock
    directory: Directory
    workspace: Workspace | None = None
    outbound: Outbound | None = None
