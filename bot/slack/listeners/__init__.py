"""Thin bolt listeners, grouped by kind; each module exposes `register(app, services)`."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from bot.slack.listeners import (
    actions,
    attack,
    commands,
    disagreement_actions,
    events,
    fallback,
    risk_actions,
    threat_forms,
    touchpoints,
    views,
)


def register_all(app: App, services: Services) -> None:
    commands.register(app, services)
    actions.register(app, services)
    views.register(app, services)
    events.register(app, services)
    risk_actions.register(app, services)
    disagreement_actions.register(app, services)
    touchpoints.register(app, services)
    attack.register(app, services)
    threat_forms.register(app, services)
    fallback.register(app, services)  # keep last: it matches everything
