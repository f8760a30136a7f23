"""Events: the App Home tab is rebuilt whenever someone opens it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.db import session_scope
from bot.domain import touchpoints
from bot.domain.gate.queries import blocked_since
from bot.domain.initiatives import home_summary
from bot.domain.needs import needs_you
from bot.services import Services
from bot.slack.blocks.home import HOME_SECTION_SIZE, NEEDS_SECTION_SIZE, home_view

log = logging.getLogger(__name__)


def publish_home(services: Services, client: WebClient, user_id: str) -> None:
    """Publishing is idempotent, so a retried event simply publishes the same view again."""
    now = services.clock.now()
    with session_scope(services.engine) as session:
        summary = home_summary(
            session, viewer_id=user_id, today=now.date(), limit=HOME_SECTION_SIZE
        )
        meetings = touchpoints.home_summary(session, viewer_id=user_id, limit=HOME_SECTION_SIZE)
        needs = needs_you(
            session,
            actor=services.directory.actor(session, user_id),
            today=now.date(),
            limit=NEEDS_SECTION_SIZE,
        )
        blocked = blocked_since(session, since=now - timedelta(days=7))
    view = home_view(summary, today=now.date(), touchpoints=meetings, needs=needs, blocked=blocked)
    client.views_publish(user_id=user_id, view=view)


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(services, client, event["user"])
