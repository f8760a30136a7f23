"""The single wiring point: picks the real parts (or the shell's local ones) and connects them."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import make_engine, upgrade
from bot.domain.roles import Directory, GroupMembers, Role
from bot.services import Services
from bot.slack.usergroups import SlackGroupMembers
from bot.slack.workspace import SlackWorkspace


def check_audit_key(settings: Settings) -> None:
    """Before a process writes: PostgreSQL needs ACCORD_AUDIT_KEY (ConfigurationError naming
    it); SQLite runs without one, with a warning that the chain is then signed with the public
    development key (it shows accidental edits, not a deliberate rewrite)."""
    if settings.require_audit_key() is None:
        logging.getLogger("accord").warning(
            "ACCORD_AUDIT_KEY is not set: the audit chain is signed with the public development "
            "key; set a secret key before real use"
        )


def build_web_client(settings: Settings, *, token: str | None = None, **kwargs: Any) -> WebClient:
    """A WebClient that waits out 429s (Retry-After) and retries 5xx and connection errors."""
    bot_token = token or (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    )
    return WebClient(
        token=bot_token,
        base_url=settings.slack_api_base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
        **kwargs,
    )


def build_delivery_client(settings: Settings) -> WebClient:
    """The outbox's client: no waiting inside a call (the outbox reschedules a 429 or a 5xx
    itself, honouring Retry-After), one retry of a dropped connection."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_base_url,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


def build_services(
    settings: Settings,
    *,
    groups: GroupMembers,
    clock: Clock | None = None,
    migrate: bool = True,
) -> Services:
    engine = make_engine(settings.database_url, audit_key=settings.audit_secret())
    if migrate:
        upgrade(engine)
    clock = clock or SystemClock()
    directory = Directory(
        configured={
            Role.CIO: settings.accord_cio_side,
            Role.CISO: settings.accord_ciso_side,
            Role.EXECUTIVE: settings.accord_executives,
            Role.ADMIN: settings.accord_admins,
        },
        groups=groups,
        clock=clock,
        cache_seconds=settings.accord_group_cache_seconds,
    )
    return Services(settings=settings, engine=engine, clock=clock, directory=directory)


def build_slack_services(
    settings: Settings, *, client: WebClient, clock: Clock | None = None
) -> Services:
    from bot.domain import outbox
    from bot.slack.deliver import Deliverer

    services = build_services(settings, groups=SlackGroupMembers(client), clock=clock)
    # The workspace answers questions asked while a person waits (is Accord in that channel?):
    # it must not wait out a Slack outage, so it gets the outbox's no-waiting client.
    quick = build_delivery_client(settings)
    services.workspace = SlackWorkspace(quick)
    deliverer = Deliverer(services, quick)
    services.outbound = deliverer
    outbox.wake_on_commit(services.engine, deliverer.kick)
    return services
