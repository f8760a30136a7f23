"""Sends correctly signed Slack requests (commands, interactivity, events) to a running bolt app.

This is the inbound half of the fake Slack: it builds the same bodies, content types and
``X-Slack-*`` headers Slack does, so tests go through bolt's real request verification and
parsing instead of calling listeners directly.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from .block_kit import VIOLATIONS, ack_problems

__all__ = ["SignedSlackClient", "SlackReply"]

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_VERIFICATION_TOKEN = "verification-token-unused"  # legacy field Slack still sends


@dataclass(frozen=True)
class SlackReply:
    """What the app answered Slack: status, raw body, wall time, lower-cased headers."""

    status: int
    body: str
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON; ``{}`` for an empty body (a bare ``ack()``)."""
        return json.loads(self.body) if self.body.strip() else {}


class SignedSlackClient:
    """Plays Slack's side of the HTTP contract against ``base_url`` (the app's events URL).

    ``response_url`` sets the default response_url put in commands and message actions, e.g.
    ``FakeSlackServer.response_url()``; without it a hooks.slack.com-looking URL is used.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0ACCORD",
        team_domain: str = "accord-test",
        api_app_id: str = "A0ACCORD",
        bot_user_id: str = "U0ACCORDBOT",
        response_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.default_response_url = response_url
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)
        self._counter = itertools.count(1)
        # Never route 127.0.0.1 through an HTTP(S)_PROXY from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        #: Called after every reply (the harness drains the app's outbox there).
        self.after_reply: Callable[[], None] | None = None

    # -- ids -------------------------------------------------------------------------------
    def new_trigger_id(self) -> str:
        """A unique, Slack-shaped trigger_id."""
        n = next(self._counter)
        return f"{n}.{int(time.time())}.{uuid.uuid4().hex[:20]}"

    def new_action_ts(self) -> str:
        """A unique action_ts (seconds.micros, like Slack's)."""
        n = next(self._counter)
        return f"{int(time.time())}.{n:06d}"

    def _response_url(self, kind: str, given: str | None) -> str:
        if given is not None:
            return given
        if self.default_response_url is not None:
            return self.default_response_url
        n = next(self._counter)
        return f"https://hooks.slack.com/{kind}/{self.team_id}/{n}/{uuid.uuid4().hex[:24]}"

    def _view_payload(self, view: dict[str, Any]) -> dict[str, Any]:
        """Fill the fields Slack always sends with a view, keeping what the caller gave."""
        view_id = view.get("id") or "V0VIEW"
        full: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": "h1",
            "title": {"type": "plain_text", "text": "Accord", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": "B0ACCORD",
        }
        full.update(view)
        return full

    def _user(self, user_id: str, user_name: str | None) -> dict[str, Any]:
        name = user_name if user_name is not None else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    # -- Slack request kinds ---------------------------------------------------------------
    def command(
        self,
        text: str,
        *,
        user_id: str,
        command: str = "/accord",
        channel_id: str = "C0COORD",
        channel_name: str = "coordination",
        user_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
        **overrides: str,
    ) -> SlackReply:
        """A slash command, form-encoded in Slack's field order; ``overrides`` replace fields."""
        fields = {
            "token": _VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name if user_name is not None else user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url("commands", response_url),
            "trigger_id": trigger_id if trigger_id is not None else self.new_trigger_id(),
        }
        fields.update(overrides)
        return self.send_raw(
            urlencode(fields).encode(),
            content_type=_FORM,
            timestamp=timestamp,
            extra_headers=_retry_headers(retry_num, None),
        )

    def block_action(
        self,
        action_id: str,
        value: str | None,
        *,
        user_id: str,
        channel_id: str | None = "C0COORD",
        message_ts: str | None = "1700000000.000100",
        block_id: str = "b1",
        action_ts: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        view: Mapping[str, Any] | None = None,
        container: Mapping[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        state_values: Mapping[str, Any] | None = None,
        user_name: str | None = None,
        is_ephemeral: bool = False,
        extra: Mapping[str, Any] | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
    ) -> SlackReply:
        """A button click. With ``view`` it comes from a modal/Home tab, else from a message.

        ``message`` replaces the clicked message (default: empty text, no blocks),
        ``state_values`` fills ``state.values`` and ``extra`` is merged into the payload.
        """
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "text": {"type": "plain_text", "text": action_id, "emoji": True},
            "type": "button",
            "action_ts": action_ts if action_ts is not None else self.new_action_ts(),
        }
        if value is not None:
            action["value"] = value
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": _VERIFICATION_TOKEN,
            "container": {},
            "trigger_id": trigger_id if trigger_id is not None else self.new_trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            full_view = self._view_payload(dict(view))
            if state_values is not None:
                full_view["state"] = {"values": dict(state_values)}
            payload["container"] = {"type": "view", "view_id": full_view["id"]}
            payload["view"] = full_view
        else:
            if channel_id is not None:
                payload["container"] = {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel_id,
                    "is_ephemeral": is_ephemeral,
                }
                payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
            if message_ts is not None and not is_ephemeral:
                msg: dict[str, Any] = {
                    "type": "message",
                    "user": self.bot_user_id,
                    "ts": message_ts,
                    "text": "",
                    "blocks": [],
                }
                msg.update(message or {})
                payload["message"] = msg
            payload["state"] = {"values": dict(state_values or {})}
            payload["response_url"] = self._response_url("actions", response_url)
        if container is not None:
            payload["container"] = dict(container)
        payload["actions"] = [action]
        payload.update(extra or {})
        return self.interactive(payload, retry_num=retry_num, timestamp=timestamp)

    def view_submission(
        self,
        callback_id: str,
        values: Mapping[str, Mapping[str, Mapping[str, Any]]],
        *,
        user_id: str,
        private_metadata: str = "",
        view_id: str = "V0SUBMIT",
        external_id: str | None = None,
        hash: str = "h1",
        blocks: list[dict[str, Any]] | None = None,
        user_name: str | None = None,
        trigger_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
    ) -> SlackReply:
        """A modal submit; ``values`` is ``view.state.values`` (block_id -> action_id -> value)."""
        view = self._view_payload(
            {
                "id": view_id,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": {b: dict(a) for b, a in values.items()}},
                "hash": hash,
                "external_id": external_id or "",
                "blocks": blocks or [],
            }
        )
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": _VERIFICATION_TOKEN,
            "trigger_id": trigger_id if trigger_id is not None else self.new_trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        payload.update(extra or {})
        return self.interactive(
            payload, retry_num=retry_num, timestamp=timestamp, submitted_blocks=blocks
        )

    def interactive(
        self,
        payload: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        timestamp: int | None = None,
        submitted_blocks: list[dict[str, Any]] | None = None,
    ) -> SlackReply:
        """Any interactivity payload (view_closed, shortcut...) as ``payload=<json>`` form."""
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return self.send_raw(
            body,
            content_type=_FORM,
            timestamp=timestamp,
            extra_headers=_retry_headers(retry_num, None),
            submitted_blocks=submitted_blocks,
        )

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
    ) -> SlackReply:
        """An Events API ``event_callback`` envelope around ``event``, as JSON."""
        now = int(time.time()) if timestamp is None else timestamp
        envelope = {
            "token": _VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id if event_id is not None else f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }
        return self.send_raw(
            json.dumps(envelope, separators=(",", ":")).encode(),
            content_type=_JSON,
            timestamp=timestamp,
            extra_headers=_retry_headers(retry_num, retry_reason),
        )

    def url_verification(
        self, challenge: str = "challenge-token", *, timestamp: int | None = None
    ) -> SlackReply:
        """The handshake Slack sends when the events URL is configured."""
        body = {"token": _VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.send_raw(json.dumps(body).encode(), content_type=_JSON, timestamp=timestamp)

    # -- transport ---------------------------------------------------------------------------
    def sign(self, body: bytes, timestamp: int) -> str:
        """Slack's ``v0=`` HMAC-SHA256 signature of ``body`` at ``timestamp``."""
        signature = self._verifier.generate_signature(timestamp=str(timestamp), body=body)
        if signature is None:  # only for a None timestamp, which we never pass
            raise AssertionError("SignatureVerifier returned no signature")
        return signature

    def send_raw(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        signature: str | None = None,
        signed: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        submitted_blocks: list[dict[str, Any]] | None = None,
    ) -> SlackReply:
        """POST ``body`` with Slack's headers; override ``timestamp``/``signature`` to test
        verification, or ``signed=False`` to omit both headers. Never raises on 4xx/5xx.

        An ack Slack would refuse (blocks, a view, form errors) is recorded in
        ``block_kit.VIOLATIONS`` so that the test fails (``submitted_blocks``: the view's
        blocks a form error must name)."""
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if signed:
            headers["X-Slack-Request-Timestamp"] = str(ts)
            headers["X-Slack-Signature"] = (
                signature if signature is not None else self.sign(body, ts)
            )
        headers.update(extra_headers or {})
        request = urllib.request.Request(self.base_url, data=body, headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
                status = int(response.status)
                reply_headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            with error:
                raw = error.read()
                status = int(error.code)
                reply_headers = {k.lower(): v for k, v in error.headers.items()}
        elapsed = time.perf_counter() - started
        if self.after_reply is not None:
            self.after_reply()
        reply = SlackReply(
            status=status,
            body=raw.decode("utf-8", errors="replace"),
            elapsed=elapsed,
            headers=reply_headers,
        )
        _check_ack(reply, submitted_blocks)
        return reply


def _check_ack(reply: SlackReply, submitted_blocks: list[dict[str, Any]] | None) -> None:
    """What Slack does with the JSON of an ack: refuses blocks or views it cannot show."""
    if reply.status != 200 or not reply.headers.get("content-type", "").startswith(_JSON):
        return
    try:
        answer = reply.json()
    except ValueError:
        return
    check_ack_payload(answer, submitted_blocks)


def check_ack_payload(answer: Any, submitted_blocks: list[dict[str, Any]] | None = None) -> None:
    """Record in ``block_kit.VIOLATIONS`` what Slack would refuse in an ack's payload."""
    VIOLATIONS.record("ack body", ack_problems(answer, submitted_blocks=submitted_blocks), answer)


def _retry_headers(retry_num: int | None, retry_reason: str | None) -> dict[str, str]:
    """Slack's redelivery headers; a retry without a reason is a timeout retry."""
    if retry_num is None:
        return {}
    return {
        "X-Slack-Retry-Num": str(retry_num),
        "X-Slack-Retry-Reason": retry_reason or "http_timeout",
    }
