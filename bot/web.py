"""HTTP mode: a WSGI app serving `POST /slack/events` (bolt), `GET /healthz`, the gate API
(`/api/v1/…`) and the GitHub webhook (`POST /github/webhook`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.api.app import ApiApp
from bot.services import Services

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)


class AccordWsgi:
    def __init__(self, app: App, services: Services, api: ApiApp | None = None) -> None:
        self.slack = SlackRequestHandler(app, path="/slack/events")
        self.services = services
        self.api = api or ApiApp(services)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            return self._health(start_response)
        if ApiApp.handles(str(environ.get("PATH_INFO") or "")):
            return self.api(environ, start_response)
        return self.slack(environ, start_response)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.services.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            status, body = "200 OK", {"status": "ok"}
        except Exception:
            log.exception("health check: database unreachable")
            status, body = "503 Service Unavailable", {"status": "database unreachable"}
        payload = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]
