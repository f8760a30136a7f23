"""The parts every adapter (Slack listeners, shell, scheduler) shares, wired by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.clock import Clock
from bot.config import Settings
from bot.domain.roles import Directory


@dataclass
class Services:
    settings: Settings
    engine: Engine
    clock: Clock
    directory: Directory
