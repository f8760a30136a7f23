"""HTTP mode: a WSGI app serving `POST /slack/events` (bolt), `GET /healthz`, the gate API
(`/api/v1/…`) and the GitHub webhook (`POST /github/webhook`).

Every Slack request is checked here, on the raw bytes, before bolt parses anything: bolt
parses the body before it verifies the signature (a malformed unsigned `payload=` reached a
500), and on a bad signature it logs the whole body. So an unsigned, stale or forged request
is answered 401 from its headers and at most the first megabyte, whatever the body holds; a
body over the cap is refused unread (413); a signed body that bolt could not parse gets a 400.
Only then does bolt see the request (and checks the signature again, which is harmless).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body
from sqlalchemy import text

from bot.api.app import ApiApp
from bot.services import Services

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
#: The largest request body Accord reads; Slack's own payloads are far smaller.
MAX_BODY_BYTES = 1024 * 1024
#: Slack refuses requests older than this; so do we (replays of a captured request).
MAX_CLOCK_SKEW_SECONDS = 5 * 60
#: What waitress may buffer for one request before it even calls the app (its default is
#: 1 GB). Larger than our cap so that an unsigned body somewhat over it still gets its 401.
SERVER_BODY_LIMIT = 4 * MAX_BODY_BYTES
#: Options for waitress, shared by `accord serve` and the tests' server.
SERVER_OPTIONS: dict[str, Any] = {"max_request_body_size": SERVER_BODY_LIMIT, "ident": "accord"}


class Refused(Exception):
    """The request is answered here with `status`; `reason` is Accord's own words (logged)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


UNAUTHORIZED = "401 Unauthorized"
BAD_REQUEST = "400 Bad Request"
TOO_LARGE = "413 Content Too Large"


class AccordWsgi:
    def __init__(
        self,
        app: App,
        services: Services,
        *,
        signing_secret: str,
        max_body_bytes: int = MAX_BODY_BYTES,
        now: Callable[[], float] = time.time,
        api: ApiApp | None = None,
    ) -> None:
        if not signing_secret:
            raise ValueError("HTTP mode needs the Slack signing secret")
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.services = services
        self.api = api or ApiApp(services)
        self._secret = signing_secret.encode()
        self.max_body_bytes = max_body_bytes
        self.now = now

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method == "GET":
            return self._health(start_response)
        if ApiApp.handles(str(path or "")):
            return self.api(environ, start_response)
        if path != EVENTS_PATH or method != "POST":
            return _answer(start_response, "404 Not Found", {"error": "not found"})
        try:
            body = self._checked_body(environ)
        except Refused as refused:
            log.info(
                "refused a Slack request: %s",
                refused.reason,
                extra={"status": int(refused.status[:3]), "length": _length_or_none(environ)},
            )
            return _answer(start_response, refused.status, {"error": refused.reason})
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.slack(environ, start_response)

    def _checked_body(self, environ: WSGIEnvironment) -> bytes:
        """The raw body of a correctly signed, fresh request that bolt can parse."""
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
        if not signature or not timestamp:
            raise Refused(UNAUTHORIZED, "unsigned")
        if not (timestamp.isascii() and timestamp.isdecimal() and len(timestamp) <= 12):
            raise Refused(UNAUTHORIZED, "malformed timestamp")
        if abs(self.now() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise Refused(UNAUTHORIZED, "stale timestamp")
        body = self._read_capped(environ)
        if not self._signed(body, timestamp, signature):
            raise Refused(UNAUTHORIZED, "bad signature")
        if not _parses_as_bolt_expects(body, environ.get("CONTENT_TYPE")):
            raise Refused(BAD_REQUEST, "malformed body")
        return body

    def _signed(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Slack's `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` over the bytes as received
        (slack_sdk's SignatureVerifier decodes the body first, and fails on bytes that are
        not UTF-8)."""
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    def _read_capped(self, environ: WSGIEnvironment) -> bytes:
        """At most `max_body_bytes`; a larger declared length is refused before any read."""
        declared = _declared_length(environ)
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        if declared is not None:
            if declared > self.max_body_bytes:
                raise Refused(TOO_LARGE, "body too large")
            body = bytes(stream.read(declared))
        else:  # no length given (chunked): read one byte past the cap to know
            body = bytes(stream.read(self.max_body_bytes + 1))
        if len(body) > self.max_body_bytes:
            raise Refused(TOO_LARGE, "body too large")
        return body

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.services.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            status, body = "200 OK", {"status": "ok"}
        except Exception:
            log.exception("health check: database unreachable")
            status, body = "503 Service Unavailable", {"status": "database unreachable"}
        return _answer(start_response, status, body)


def _declared_length(environ: WSGIEnvironment) -> int | None:
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 15):
        raise Refused(BAD_REQUEST, "malformed Content-Length")
    return int(raw)


def _length_or_none(environ: WSGIEnvironment) -> int | None:
    try:
        return _declared_length(environ)
    except Refused:
        return None


def _parses_as_bolt_expects(body: bytes, content_type: object) -> bool:
    """True when bolt's own parser turns `body` into an object (a dict), as Slack's are."""
    try:
        decoded = body.decode("utf-8")
        parsed = parse_body(decoded, str(content_type) if content_type else None)
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(parsed, dict)


def _answer(start_response: StartResponse, status: str, body: dict[str, str]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]
