"""Sends owed GitHub reviews: right after the webhook commits, and from the clock for retries and
for waiting deployments whose hold was released. The one place that posts reviews (the lead
folds it into the outbox later)."""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import ConfigurationError
from bot.db import session_scope
from bot.domain.gate import github as reviews
from bot.github.app import GitHubApp, GitHubError
from bot.services import Services

if TYPE_CHECKING:
    from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)
#: One client per App and API, so installation tokens are reused (they live an hour).
_apps: dict[tuple[str, str, str, int], GitHubApp] = {}
_apps_lock = threading.Lock()


def github_app(services: Services) -> GitHubApp | None:
    """The App client, or None when the GitHub settings are not there."""
    settings = services.settings
    try:
        app_id, key = settings.require_github_app()
    except ConfigurationError:
        return None
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    cache_key = (app_id, settings.github_api_base_url, fingerprint, id(services.clock))
    with _apps_lock:
        app = _apps.get(cache_key)
        if app is None:
            app = GitHubApp(
                app_id=app_id,
                private_key=key,
                base_url=settings.github_api_base_url,
                clock=services.clock,
            )
            _apps[cache_key] = app
        return app


def deliver_reviews(services: Services, app: GitHubApp, *, only: int | None = None) -> int:
    """Approve released waits, then send what is due; returns how many GitHub accepted."""
    now = services.clock.now()
    with session_scope(services.engine) as session:
        if only is None:
            reviews.approve_released(session, now=now)
        claimed = [
            (review.id, review.callback_url, review.installation_id, review.payload())
            for review in reviews.claim_due(session, now=now, only=only)
        ]
    sent = 0
    for review_id, callback_url, installation_id, payload in claimed:
        assert review_id is not None
        try:
            app.review(callback_url=callback_url, installation_id=installation_id, payload=payload)
        except GitHubError as error:
            log.warning("GitHub review %s not delivered: %s", review_id, error)
            with session_scope(services.engine) as session:
                reviews.mark_failed_attempt(
                    session,
                    review_id=review_id,
                    now=services.clock.now(),
                    error=str(error),
                    permanent=error.permanent,
                    retry_after=error.retry_after,
                )
            continue
        with session_scope(services.engine) as session:
            reviews.mark_sent(session, review_id=review_id, now=services.clock.now())
        sent += 1
    return sent


def deliver_reviews_job(services: Services, _notifier: SlackNotifier, _now: datetime) -> None:
    """The clock's job (see bot/scheduler/registry.py)."""
    app = github_app(services)
    if app is not None:
        deliver_reviews(services, app)
