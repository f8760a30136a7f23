"""`POST /github/webhook`: verify `X-Hub-Signature-256`, decide `deployment_protection_rule`
events, record the review, then try to send it at once (the clock retries what fails)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from bot.api.gate import hold_link
from bot.api.http import ApiRequest, ApiResponse, HttpError
from bot.db import session_scope
from bot.domain.errors import UserError
from bot.domain.gate import github as reviews
from bot.domain.gate.models import GITHUB_ENVIRONMENT_MAX, GithubReview
from bot.github.reviews import deliver_reviews, github_app
from bot.services import Services
from bot.slack.gate_delivery import queue_gate_messages

log = logging.getLogger(__name__)


def signature_valid(secret: bytes, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def _text(payload: dict[str, Any], *path: str) -> str:
    node: Any = payload
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, str) or not node:
        raise HttpError(400, f"The event has no {'.'.join(path)}.")
    return node


def _login(payload: dict[str, Any]) -> str | None:
    """Who started the deployment: its creator, else the event's sender."""
    deployment = payload.get("deployment")
    creator = deployment.get("creator") if isinstance(deployment, dict) else None
    for holder in (creator, payload.get("sender")):
        login = holder.get("login") if isinstance(holder, dict) else None
        if isinstance(login, str) and login:
            return login[:64]
    return None


class GithubWebhook:
    def __init__(self, services: Services) -> None:
        self.services = services

    def __call__(self, request: ApiRequest) -> ApiResponse:
        secret = self.services.settings.github_webhook_secret
        if secret is None or not secret.get_secret_value():
            raise HttpError(503, "GITHUB_WEBHOOK_SECRET is not configured.")
        signature = request.headers.get("x-hub-signature-256", "")
        if not signature_valid(secret.get_secret_value().encode(), request.body, signature):
            raise HttpError(401, "The X-Hub-Signature-256 signature does not match.")
        event = request.headers.get("x-github-event", "")
        if event == "ping":
            return ApiResponse(200, {"ok": True})
        if event != "deployment_protection_rule":
            return ApiResponse(202, {"ignored": event[:60]})
        payload = request.json()
        if not isinstance(payload, dict):
            raise HttpError(400, "The event is not a JSON object.")
        if payload.get("action") != "requested":
            return ApiResponse(202, {"ignored": f"{event}.{str(payload.get('action'))[:30]}"})
        return self._review(payload)

    def _review(self, payload: dict[str, Any]) -> ApiResponse:
        repository = _text(payload, "repository", "full_name")
        environment = _text(payload, "environment")
        installation = (payload.get("installation") or {}).get("id")
        if not isinstance(installation, int):
            raise HttpError(400, "The event has no installation.id.")
        if len(environment) > GITHUB_ENVIRONMENT_MAX:
            raise HttpError(400, "The environment name is longer than GitHub allows.")
        found = payload.get("deployment")
        deployment: dict[str, Any] = found if isinstance(found, dict) else {}
        request = reviews.ProtectionRequest(
            repository=repository,
            environment=environment,
            callback_url=_text(payload, "deployment_callback_url"),
            installation_id=installation,
            sha=str(deployment.get("sha"))[:200] if deployment.get("sha") else None,
            run_url=str(deployment.get("url"))[:2000] if deployment.get("url") else None,
            # a redelivery repeats both; a re-run is a new deployment on the same callback
            deployment_id=f"{deployment.get('id')}@{payload['deployment_callback_url']}"[:2100],
            requested_by=_login(payload),
            ref=str(deployment.get("ref"))[:200] if deployment.get("ref") else None,
        )
        settings = self.services.settings
        try:
            with session_scope(self.services.engine) as session:
                review = reviews.decide(
                    session,
                    request=request,
                    wait=settings.github_waits(repository, environment),
                    now=self.services.clock.now(),
                    link_for=lambda ref: hold_link(settings, ref),
                )
                queue_gate_messages(session, self.services)  # a blocked one, in its thread
                review_id = review.id
        except UserError as error:
            raise HttpError(400, error.message) from None
        app = github_app(self.services)
        if app is None:
            log.error(
                "GitHub review %s recorded but GITHUB_APP_ID/PRIVATE_KEY are missing", review_id
            )
        else:
            try:
                deliver_reviews(self.services, app, only=review_id)
            except Exception:  # the row stays pending; the clock sends it
                log.exception("GitHub review %s: first delivery failed", review_id)
        with session_scope(self.services.engine) as session:
            stored = session.get(GithubReview, review_id)
            assert stored is not None
            decision = stored.decision.value if stored.decision else None
            return ApiResponse(200, {"state": stored.state.value, "decision": decision})
