"""A fake Slack Web API served over real HTTP, so the bot's real ``WebClient`` is exercised.

Point ``slack_sdk.WebClient(base_url=slack.base_url)`` at it. Every request is recorded as a
:class:`RecordedCall`; answers are realistic defaults that tests can override, and failures
(HTTP 429/5xx or ``ok: false`` errors) can be injected per method to test retries and
error handling.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import mimetypes
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._server import FakeHTTPServer, HTTPRequest, HTTPResponse, wait_until
from .block_kit import VIOLATIONS, message_problems, view_problems

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "FakeSlackServer",
    "RecordedCall",
    "ResponseFactory",
]

TEAM_ID = "T0ACCORD"
TEAM_DOMAIN = "accord-test"
BOT_USER_ID = "U0ACCORDBOT"
BOT_ID = "B0ACCORD"
APP_ID = "A0ACCORD"
_BASE_TS_SECONDS = 1_700_000_000
# Methods that real Slack serves without a bot/user token (they use client credentials).
_NO_TOKEN_METHODS = frozenset({"api.test", "oauth.access", "oauth.v2.access", "oauth.v2.exchange"})
# Free text that must stay a string even if a user typed something that looks like JSON.
_FREE_TEXT_FIELDS = frozenset(
    {"text", "initial_comment", "title", "alt_txt", "query", "name", "purpose", "topic"}
)
_REDACTED = "<redacted>"
_MESSAGE_METHODS = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage"}
)
_VIEW_METHODS = frozenset({"views.open", "views.update", "views.push", "views.publish"})

ResponseFactory = Callable[[dict[str, Any]], dict[str, Any]]
"""Computes an answer from the parsed request body (see :meth:`FakeSlackServer.set_response`)."""


@dataclass(frozen=True, repr=False)
class RecordedCall:
    """One request the fake received, including failed attempts (so retries can be counted).

    ``headers`` keys are lower-cased. ``error`` is the Slack error code answered (``ratelimited``,
    ``not_in_channel``...) or None; ``response`` is the JSON answered (None for non-JSON answers).
    """

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    error: str | None = None
    response: Any = None
    path: str = ""

    @property
    def ok(self) -> bool:
        """True when the call was answered HTTP 200 without an ``ok: false`` error."""
        return self.status == 200 and self.error is None

    @property
    def token(self) -> str | None:
        """The token used, from ``Authorization: Bearer`` or the ``token`` form field."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        token = self.body.get("token")
        return token if isinstance(token, str) and token else None

    def __repr__(self) -> str:
        # Tokens must never end up in test output or CI logs, even in assertion diffs.
        headers = {k: _REDACTED if k == "authorization" else v for k, v in self.headers.items()}
        body = {k: _REDACTED if k == "token" else v for k, v in self.body.items()}
        return (
            f"RecordedCall(method={self.method!r}, status={self.status}, error={self.error!r}, "
            f"body={body!r}, headers={headers!r})"
        )


@dataclass(frozen=True)
class _Injection:
    """A queued failure: an HTTP error status, or an HTTP 200 ``ok: false`` with ``error``."""

    status: int = 200
    error: str | None = None
    retry_after: int = 1


@dataclass(frozen=True)
class _OutagePhase:
    """Every matching call fails with `status` from `start` until `end` (monotonic seconds)."""

    status: int
    start: float
    end: float
    retry_after: int
    methods: frozenset[str] | None

    def applies(self, method: str, now: float) -> bool:
        in_time = self.start <= now < self.end
        return in_time and (self.methods is None or method in self.methods)


@dataclass
class _Upload:
    """A file announced through files.getUploadURLExternal, filled by POST /upload/<id>."""

    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)


def _maybe_json(key: str, value: str) -> Any:
    """Decode form values slack_sdk JSON-encodes (blocks, view, files...) back into objects."""
    stripped = value.strip()
    if key in _FREE_TEXT_FIELDS or not stripped or stripped[0] not in "[{":
        return value
    try:
        decoded = json.loads(stripped)
    except ValueError:
        return value
    return decoded if isinstance(decoded, list | dict) else value


def _flatten_form(pairs: Mapping[str, list[str]]) -> dict[str, Any]:
    """parse_qs gives lists; single values become plain strings like Slack sees them."""
    out: dict[str, Any] = {}
    for key, values in pairs.items():
        if len(values) == 1:
            out[key] = _maybe_json(key, values[0])
        else:
            out[key] = [_maybe_json(key, v) for v in values]
    return out


def _parse_multipart(body: bytes, content_type_header: str) -> dict[str, Any]:
    """Text parts become (JSON-decoded) strings; file parts are kept as raw bytes."""
    head = f"Content-Type: {content_type_header}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
    out: dict[str, Any] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            out[name] = raw
        else:
            charset = part.get_content_charset() or "utf-8"
            out[name] = _maybe_json(name, raw.decode(charset, errors="replace"))
    return out


def _parse_body(request: HTTPRequest) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body into one dict; returns (params, parse error or None)."""
    params = _flatten_form(request.query)
    if not request.body:
        return params, None
    ctype = request.content_type
    if ctype == "application/json":
        try:
            decoded = json.loads(request.body)
        except ValueError:
            return params, "invalid_json"
        if not isinstance(decoded, dict):
            return params, "invalid_json"
        params.update(decoded)
    elif ctype.startswith("multipart/"):
        params.update(_parse_multipart(request.body, request.headers["content-type"]))
    else:  # application/x-www-form-urlencoded, also Slack's behaviour for a missing type
        text = request.body.decode("utf-8", errors="replace")
        params.update(_flatten_form(parse_qs(text, keep_blank_values=True)))
    return params, None


def _tz_fields(tz: str) -> tuple[str, int]:
    """Slack's ``tz_label``/``tz_offset`` for a zone, as of now (so DST is right)."""
    try:
        now = datetime.now(UTC).astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset is not None else 0


def _page(
    messages: list[dict[str, Any]], body: dict[str, Any], *, default_limit: int
) -> dict[str, Any]:
    """One page of a cursor-paginated answer: `limit` (capped at 999, as on Slack) messages
    from the `cursor` on, and `response_metadata.next_cursor` while more remain."""
    try:
        limit = min(max(int(body.get("limit") or default_limit), 1), 999)
        start = int(str(body.get("cursor") or "0").removeprefix("page:"))
    except ValueError:
        return {"ok": False, "error": "invalid_cursor"}
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    answer: dict[str, Any] = {"ok": True, "messages": page, "has_more": more}
    answer["response_metadata"] = {"next_cursor": f"page:{start + limit}" if more else ""}
    return answer


class FakeSlackServer(FakeHTTPServer):
    """Fake Slack Web API on ``http://127.0.0.1:<port>/api/`` with recording and failure injection.

    Usage::

        with FakeSlackServer() as slack:
            client = WebClient(token="xoxb-test", base_url=slack.base_url)
            client.chat_postMessage(channel="C1", text="hi")
            assert slack.wait_for("chat.postMessage")[0].body["text"] == "hi"
    """

    def __init__(self) -> None:
        super().__init__()
        self._calls: list[RecordedCall] = []
        self._injections: dict[str, deque[_Injection]] = {}
        self._sticky_errors: dict[str, str] = {}
        self._outage: list[_OutagePhase] = []
        self._overrides: dict[str, dict[str, Any] | ResponseFactory] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._not_member: set[str] = set()
        self._uploads: dict[str, _Upload] = {}
        self._home_view_ids: dict[str, str] = {}
        self._last_ts_micros = 0
        self._holds: list[tuple[str, Callable[[dict[str, Any]], bool], threading.Event]] = []
        #: Messages as posted, per channel (what conversations.history/replies answer).
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._view_counter = itertools.count(1)
        self._file_counter = itertools.count(1)
        self.add_user(BOT_USER_ID, name="accord", real_name="Accord", is_bot=True)

    # -- addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The ``WebClient(base_url=...)`` value; slack_sdk needs the trailing slash."""
        return f"{self.root_url}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A response_url whose POSTs are recorded as method ``"response_url"``."""
        return f"{self.root_url}/respond/{name}"

    # -- directory / world state -----------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        tz: str = "Europe/Berlin",
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> None:
        """Register a user answered by ``users.info`` (unknown users get ``user_not_found``)."""
        label, offset = _tz_fields(tz)
        real = real_name if real_name is not None else name
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": deleted,
            "real_name": real,
            "tz": tz,
            "tz_label": label,
            "tz_offset": offset,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": _BASE_TS_SECONDS,
            "profile": {
                "real_name": real,
                "real_name_normalized": real,
                "display_name": name,
                "display_name_normalized": name,
                "email": email if email is not None else f"{name}@example.com",
                "team": TEAM_ID,
            },
        }
        with self._cond:
            self._users[user_id] = user

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        """Define a user group's members for ``usergroups.users.list``."""
        with self._cond:
            self._usergroups[group_id] = list(users)

    def add_channel(self, channel_id: str, *, name: str, is_private: bool = False) -> None:
        """Give a channel a name/privacy for ``conversations.info`` (others are synthesised)."""
        with self._cond:
            self._channels[channel_id] = {"name": name, "is_private": is_private}

    def set_not_member(self, channel_id: str) -> None:
        """Make the bot a non-member: posting there answers ``not_in_channel`` until joined."""
        with self._cond:
            self._not_member.add(channel_id)

    def set_member(self, channel_id: str) -> None:
        """Undo :meth:`set_not_member` (``conversations.join`` does the same)."""
        with self._cond:
            self._not_member.discard(channel_id)

    # -- answers and failures ----------------------------------------------------------------
    def set_response(self, method: str, payload: dict[str, Any] | ResponseFactory) -> None:
        """Replace the default answer for ``method``: a fixed dict, or a function of the body."""
        with self._cond:
            self._overrides[method] = payload

    def clear_response(self, method: str) -> None:
        """Go back to the built-in default answer for ``method``."""
        with self._cond:
            self._overrides.pop(method, None)

    def hold_answer(
        self, method: str, *, matching: Callable[[dict[str, Any]], bool] | None = None
    ) -> threading.Event:
        """Slack did the work but has not answered yet: the next call of ``method`` (whose body
        `matching` accepts) is handled and recorded as usual (a post is in the channel's
        history), but its HTTP answer is held until the returned event is set or the fake
        stops. Other calls are answered meanwhile. For a client that dies mid-call (kill -9)."""
        release = threading.Event()
        with self._cond:
            self._holds.append((method, matching or (lambda _body: True), release))
        return release

    def fail_next(
        self, method: str, *, status: int = 500, times: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next ``times`` calls with an HTTP error (429 carries ``Retry-After``)."""
        if status < 400:
            raise ValueError("fail_next needs an HTTP error status; use error_next for ok:false")
        with self._cond:
            queue = self._injections.setdefault(method, deque())
            queue.extend(_Injection(status=status, retry_after=retry_after) for _ in range(times))

    def error_next(self, method: str, error: str, *, times: int | None = 1) -> None:
        """Answer HTTP 200 ``ok: false`` with ``error``; ``times=None``: until clear_errors()."""
        with self._cond:
            if times is None:
                self._sticky_errors[method] = error
                return
            queue = self._injections.setdefault(method, deque())
            queue.extend(_Injection(error=error) for _ in range(times))

    def clear_errors(self) -> None:
        """Drop every pending injected failure, persistent error and outage."""
        with self._cond:
            self._injections.clear()
            self._sticky_errors.clear()
            self._outage.clear()

    def fail_all(
        self,
        *,
        status: int = 500,
        seconds: float | None = None,
        retry_after: int = 1,
        methods: list[str] | tuple[str, ...] | frozenset[str] | None = None,
    ) -> None:
        """An outage: every call (Web API methods, ``upload`` and ``response_url``; or only
        those in `methods`) answers HTTP `status` (a 429 with ``Retry-After: retry_after``) for
        `seconds`, or until :meth:`end_outage`. Failed attempts are recorded like any call.

        Calls queue phases: the phase starts when the previous finite one ends, so
        ``fail_all(status=500, seconds=20); fail_all(status=429)`` is 20 s of 500s, then 429s
        until :meth:`end_outage`. A phase added after an open-ended one replaces it from now.
        """
        if status < 400:
            raise ValueError("fail_all needs an HTTP error status")
        with self._cond:
            now = time.monotonic()
            start = now
            if self._outage and self._outage[-1].end > now:
                last = self._outage[-1]
                if math.isinf(last.end):
                    self._outage[-1] = _OutagePhase(
                        last.status, last.start, now, last.retry_after, last.methods
                    )
                else:
                    start = last.end
            end = math.inf if seconds is None else start + seconds
            chosen = frozenset(methods) if methods is not None else None
            self._outage.append(_OutagePhase(status, start, end, retry_after, chosen))

    def end_outage(self) -> None:
        """Slack is back: calls answer normally again (queued :meth:`fail_next` entries stay)."""
        with self._cond:
            self._outage.clear()

    @property
    def in_outage(self) -> bool:
        """True while a :meth:`fail_all` phase is failing calls."""
        with self._cond:
            now = time.monotonic()
            return any(phase.start <= now < phase.end for phase in self._outage)

    # -- inspection ----------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Recorded calls in arrival order, optionally only those of one method."""
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def last_call(self, method: str) -> RecordedCall:
        """The most recent call of ``method``; AssertionError if there was none."""
        calls = self.calls(method)
        if not calls:
            raise AssertionError(f"no {method} call recorded; methods seen: {self._seen()}")
        return calls[-1]

    def clear(self) -> None:
        """Forget recorded calls (configuration, users and uploads are kept)."""
        with self._cond:
            self._calls.clear()

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """Block until ``count`` calls of ``method`` were recorded; return all of them so far.

        Failed attempts (injected 429/5xx/errors) count too, so retries can be awaited.
        """
        with self._cond:
            ok = wait_until(
                self._cond,
                lambda: sum(1 for c in self._calls if c.method == method) >= count,
                timeout,
            )
            calls = [c for c in self._calls if c.method == method]
            if not ok:
                raise AssertionError(
                    f"expected at least {count} {method} call(s) within {timeout}s, "
                    f"got {len(calls)}; methods seen: {self._seen()}"
                )
            return calls

    def assert_no_call(self, method: str) -> None:
        """Fail if ``method`` was called (check after :meth:`wait_idle`; it does not sleep)."""
        calls = self.calls(method)
        if calls:
            raise AssertionError(f"unexpected {method} call(s): {calls!r}")

    def uploaded_files(self) -> dict[str, bytes]:
        """Bytes received on the upload URLs, by file id."""
        with self._cond:
            return {fid: u.data for fid, u in self._uploads.items() if u.data is not None}

    def _seen(self) -> dict[str, int]:
        with self._cond:
            return dict(Counter(c.method for c in self._calls))

    # -- HTTP ------------------------------------------------------------------------------
    def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Route /api/<method>, /upload/<file_id> and /respond/<name>."""
        path = request.path
        if path.startswith("/api/") and len(path) > len("/api/"):
            return self._handle_api(path.removeprefix("/api/"), request)
        if path.startswith("/upload/") and request.method == "POST":
            return self._handle_upload(path.removeprefix("/upload/"), request)
        if path.startswith("/respond/") and request.method == "POST":
            return self._handle_response_url(request)
        return HTTPResponse.text(f"no such endpoint on the fake Slack: {path}", status=404)

    def _record(
        self, method: str, request: HTTPRequest, body: dict[str, Any], response: HTTPResponse
    ) -> HTTPResponse:
        payload: Any = None
        if response.content_type.startswith("application/json"):
            payload = json.loads(response.body)
        error = (
            payload.get("error") if isinstance(payload, dict) and not payload.get("ok") else None
        )
        call = RecordedCall(
            method=method,
            body=body,
            headers=dict(request.headers),
            status=response.status,
            error=error if isinstance(error, str) else None,
            response=payload,
            path=request.path,
        )
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        return response

    def _injected(self, method: str) -> HTTPResponse | None:
        """The injected failure for this attempt, if any (consumes one queued entry)."""
        now = time.monotonic()
        phase = next((p for p in self._outage if p.applies(method, now)), None)
        queue = self._injections.get(method)
        if phase is not None:
            injection: _Injection | None = _Injection(
                status=phase.status, retry_after=phase.retry_after
            )
        else:
            injection = queue.popleft() if queue else None
        if injection is None and method in self._sticky_errors:
            injection = _Injection(error=self._sticky_errors[method])
        if injection is None:
            return None
        if injection.error is not None:
            return HTTPResponse.json({"ok": False, "error": injection.error})
        if injection.status == 429:
            return HTTPResponse.json(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(injection.retry_after)},
            )
        return HTTPResponse.text(f"fake Slack: injected HTTP {injection.status}", injection.status)

    def _handle_api(self, method: str, request: HTTPRequest) -> HTTPResponse:
        body, parse_error = _parse_body(request)
        release: threading.Event | None = None
        with self._cond:
            response = self._injected(method)
            if response is None:
                payload = self._refusal(method, body) or self._answer(
                    method, request, body, parse_error
                )
                response = HTTPResponse.json(payload)
                release = self._take_hold(method, body)
            recorded = self._record(method, request, body, response)
        while release is not None and not release.wait(0.05) and not self._stopping.is_set():
            pass  # answered, recorded, not yet sent back (see hold_answer)
        return recorded

    def _take_hold(self, method: str, body: dict[str, Any]) -> threading.Event | None:
        for index, (held, matching, release) in enumerate(self._holds):
            if held == method and matching(copy.deepcopy(body)):
                del self._holds[index]
                return release
        return None

    def _refusal(self, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Real Slack's answer to blocks or a view it would refuse; the violation is recorded
        so that the test that sent it fails (see tests/fakes/block_kit.py)."""
        if method in _MESSAGE_METHODS:
            problems, error = message_problems(body), "invalid_blocks"
        elif method in _VIEW_METHODS and isinstance(body.get("view"), dict):
            problems, error = view_problems(body["view"]), "invalid_arguments"
        else:
            return None
        if not problems:
            return None
        VIOLATIONS.record(f"fake Slack {method}", problems, body.get("blocks") or body.get("view"))
        return {"ok": False, "error": error, "response_metadata": {"messages": problems}}

    def _answer(
        self, method: str, request: HTTPRequest, body: dict[str, Any], parse_error: str | None
    ) -> dict[str, Any]:
        if parse_error is not None:
            return {"ok": False, "error": parse_error}
        auth = request.headers.get("authorization", "")
        has_token = auth.lower().startswith("bearer ") or bool(body.get("token"))
        if not has_token and method not in _NO_TOKEN_METHODS:
            return {"ok": False, "error": "not_authed"}
        override = self._overrides.get(method)
        if override is not None:
            if callable(override):
                return override(copy.deepcopy(body))
            return copy.deepcopy(override)
        handler = self._DEFAULTS.get(method)
        if handler is None:
            return {"ok": True}
        return handler(self, body)

    def _handle_upload(self, file_id: str, request: HTTPRequest) -> HTTPResponse:
        with self._cond:
            upload = self._uploads.get(file_id)
            body = {
                "file_id": file_id,
                "length": len(request.body),
                "content_type": request.headers.get("content-type", ""),
            }
            response = self._injected("upload")
            if response is None:
                if upload is None:
                    response = HTTPResponse.text("unknown upload id", status=404)
                else:
                    upload.data = request.body
                    response = HTTPResponse.text(f"OK - {len(request.body)}")
            return self._record("upload", request, body, response)

    def _handle_response_url(self, request: HTTPRequest) -> HTTPResponse:
        body, parse_error = _parse_body(request)
        with self._cond:
            response = self._injected("response_url")
            problems = message_problems(body) if parse_error is None else []
            if response is None:
                if parse_error is not None:
                    response = HTTPResponse.text("invalid_payload", status=400)
                elif problems:
                    VIOLATIONS.record("fake Slack response_url", problems, body.get("blocks"))
                    response = HTTPResponse.text("invalid_blocks", status=400)
                else:
                    response = HTTPResponse.json({"ok": True})
            return self._record("response_url", request, body, response)

    # -- default answers (called with self._cond held) ----------------------------------------
    def _next_ts(self) -> str:
        """The wall clock in microseconds, unique per server, as Slack's `ts` (which is a
        moment: `conversations.history(oldest=...)` filters by it)."""
        micros = max(time.time_ns() // 1000, self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _resolve_channel(self, channel: str) -> str:
        """Posting to a user id lands in the bot's DM with them, as on real Slack."""
        return f"D{channel}" if channel[:1] in ("U", "W") else channel

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Accord Test",
            "user": "accord",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, body: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "text": body.get("text") or "",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if body.get(key):
                message[key] = body[key]
        return message

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            return {"ok": False, "error": "no_text"}
        if channel in self._not_member:
            return {"ok": False, "error": "not_in_channel"}
        ts = self._next_ts()
        resolved = self._resolve_channel(channel)
        message = self._message(body, ts)
        self._history.setdefault(resolved, []).append(message)
        return {"ok": True, "channel": resolved, "ts": ts, "message": message}

    def _conversation_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        messages = list(self._history.get(str(body.get("channel") or ""), []))
        oldest = float(body.get("oldest") or 0)
        messages = [m for m in messages if float(m["ts"]) >= oldest]
        if str(body.get("include_all_metadata")).lower() not in ("true", "1"):
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return messages

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Newest first, top-level messages only, a page at a time, as on real Slack."""
        found = [m for m in self._conversation_messages(body) if not m.get("thread_ts")]
        return _page(list(reversed(found)), body, default_limit=100)

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """The thread's parent and its replies, oldest first, a page at a time."""
        root = str(body.get("ts") or "")
        found = [
            m
            for m in self._conversation_messages(body)
            if m["ts"] == root or m.get("thread_ts") == root
        ]
        return _page(found, body, default_limit=1000)

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Every message posted in `channel` (a user id means the bot's DM with them)."""
        with self._cond:
            return list(self._history.get(self._resolve_channel(channel), []))

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_found"}
        if channel in self._not_member:
            return {"ok": False, "error": "not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = body.get("channel"), body.get("ts")
        if not channel or not isinstance(ts, str) or not ts:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": body.get("text") or "",
            "message": self._message(body, ts),
        }

    def _chat_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = body.get("channel"), body.get("ts")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _get_permalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("message_ts", ""))
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _view(
        self, body: dict[str, Any], view_id: str | None = None, view_type: str = "modal"
    ) -> dict[str, Any]:
        submitted = body.get("view")
        if not isinstance(submitted, dict):
            return {"ok": False, "error": "invalid_arguments"}
        vid = view_id or f"V{next(self._view_counter):07d}"
        view: dict[str, Any] = {
            "id": vid,
            "team_id": TEAM_ID,
            "type": view_type,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{_BASE_TS_SECONDS}.{hashlib.sha256(vid.encode()).hexdigest()[:8]}",
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": vid,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        view.update({k: v for k, v in submitted.items() if k != "id"})
        return {"ok": True, "view": view}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id") and not body.get("interactivity_pointer"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._view(body)

    def _views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        view_id = body.get("view_id")
        if not view_id and not body.get("external_id"):
            return {"ok": False, "error": "not_found"}
        return self._view(body, view_id if isinstance(view_id, str) and view_id else None)

    def _views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = self._home_view_ids.setdefault(user_id, f"V{next(self._view_counter):07d}")
        return self._view(body, view_id, view_type="home")

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(body.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": copy.deepcopy(user)}

    def _usergroup_users(self, body: dict[str, Any]) -> dict[str, Any]:
        users = self._usergroups.get(str(body.get("usergroup", "")))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(users)}

    def _channel_object(self, channel_id: str) -> dict[str, Any]:
        known = self._channels.get(channel_id, {})
        is_im = channel_id.startswith("D")
        is_private = bool(known.get("is_private", channel_id.startswith("G")))
        return {
            "id": channel_id,
            "name": known.get("name", channel_id.lower()),
            "is_channel": not is_im and not is_private,
            "is_group": is_private,
            "is_im": is_im,
            "is_private": is_private,
            "is_archived": False,
            "is_member": channel_id not in self._not_member,
            "created": _BASE_TS_SECONDS,
            "context_team_id": TEAM_ID,
        }

    def _conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._channel_object(channel)}

    def _conversations_join(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        self._not_member.discard(channel)
        return {"ok": True, "channel": self._channel_object(channel)}

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if isinstance(body.get("channel"), str) and body["channel"]:
            return {"ok": True, "channel": {"id": body["channel"]}}
        raw = body.get("users")
        users = [u.strip() for u in raw.split(",") if u.strip()] if isinstance(raw, str) else []
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) == 1:
            channel_id = f"D{users[0]}"
        else:
            digest = hashlib.sha256(",".join(sorted(users)).encode()).hexdigest()
            channel_id = f"G{digest[:10].upper()}"
        return {"ok": True, "no_op": False, "already_open": False, "channel": {"id": channel_id}}

    def _get_upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        filename = body.get("filename")
        length = body.get("length")
        if not isinstance(filename, str) or not filename or length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._file_counter):07d}"
        self._uploads[file_id] = _Upload(filename=filename, length=int(length))
        return {"ok": True, "upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel = body.get("channel_id") or body.get("channels")
        channels = [c for c in str(channel).split(",") if c] if channel else []
        answered: list[dict[str, Any]] = []
        for item in files:
            file_id = item.get("id") if isinstance(item, dict) else None
            upload = self._uploads.get(str(file_id))
            if upload is None or upload.data is None:
                return {"ok": False, "error": "file_not_found"}
            upload.title = str(item.get("title") or upload.filename)
            upload.channels = channels
            answered.append(
                {
                    "id": file_id,
                    "title": upload.title,
                    "name": upload.filename,
                    "mimetype": mimetypes.guess_type(upload.filename)[0] or "text/plain",
                    "size": len(upload.data),
                    "user": BOT_USER_ID,
                    "channels": channels,
                    "permalink": (
                        f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{file_id}/"
                        f"{upload.filename}"
                    ),
                }
            )
        return {"ok": True, "files": answered}

    _DEFAULTS: ClassVar[dict[str, Callable[[FakeSlackServer, dict[str, Any]], dict[str, Any]]]] = {
        "auth.test": _auth_test,
        "chat.postMessage": _post_message,
        "conversations.history": _conversations_history,
        "conversations.replies": _conversations_replies,
        "chat.postEphemeral": _post_ephemeral,
        "chat.update": _chat_update,
        "chat.delete": _chat_delete,
        "chat.getPermalink": _get_permalink,
        "views.open": _views_open,
        "views.push": _views_open,
        "views.update": _views_update,
        "views.publish": _views_publish,
        "users.info": _users_info,
        "usergroups.users.list": _usergroup_users,
        "conversations.info": _conversations_info,
        "conversations.join": _conversations_join,
        "conversations.open": _conversations_open,
        "files.getUploadURLExternal": _get_upload_url,
        "files.completeUploadExternal": _complete_upload,
    }
