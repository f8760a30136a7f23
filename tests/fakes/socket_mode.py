"""Slack's side of Socket Mode: a real RFC 6455 WebSocket server on loopback (``websockets``).

:class:`FakeSocketModeServer` makes the fake Web API answer ``apps.connections.open`` with
``ws://127.0.0.1:<port>/link/?ticket=<n>``, so slack_sdk's built-in client connects to it
exactly as it would to Slack: it gets a ``hello``, then envelopes, and sends back acks, which
are recorded. Each ticket is accepted once, as Slack's URLs are temporary: a client that
reconnects must ask ``apps.connections.open`` again.

:class:`SocketModeSlackClient` builds Slack's requests with :class:`SignedSlackClient`'s
builders and delivers them as envelopes instead of signed HTTP posts, so one test can be
written for either transport.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from ._server import wait_until
from .slack_api import APP_ID, FakeSlackServer
from .slack_requests import SignedSlackClient, SlackReply, check_ack_payload

__all__ = ["FakeSocketModeServer", "Link", "SocketModeSlackClient"]

_HOST = "127.0.0.1"
_PATH = "/link/"


@dataclass
class Link:
    """One accepted WebSocket connection and every message the client sent on it."""

    ticket: str
    connection: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    open: bool = True


class FakeSocketModeServer:
    """Hands out envelopes on the newest open connection and records the client's acks."""

    def __init__(self, slack: FakeSlackServer) -> None:
        self.slack = slack
        self._cond = threading.Condition()
        self._tickets = itertools.count(1)
        self._issued: set[str] = set()
        self._links: list[Link] = []
        self._rejected: list[str] = []
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Listen on an ephemeral loopback port and answer ``apps.connections.open``."""
        self._server = serve(
            self._serve_link,
            _HOST,
            0,
            process_request=self._check_ticket,
            compression=None,  # slack_sdk's client offers no extensions
            ping_interval=None,  # the client pings; the server only answers
            close_timeout=1,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="FakeSocketMode", daemon=True
        )
        self._thread.start()
        self.slack.set_response("apps.connections.open", self._open_connection)
        return self

    def stop(self) -> None:
        """Close every connection (1001 going away) and the listening socket."""
        if self._server is None or self._thread is None:
            return
        self.slack.clear_response("apps.connections.open")
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the Web API half --------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSocketModeServer is not started; use start() or `with`")
        return int(self._server.socket.getsockname()[1])

    def _open_connection(self, body: dict[str, Any]) -> dict[str, Any]:
        ticket = f"t{next(self._tickets)}"
        with self._cond:
            self._issued.add(ticket)
        url = f"ws://{_HOST}:{self.port}{_PATH}?ticket={ticket}&app_id={APP_ID}"
        return {"ok": True, "url": url}

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse unknown or already used tickets, as Slack refuses expired URLs."""
        split = urlsplit(request.path)
        ticket = parse_qs(split.query).get("ticket", [""])[0]
        with self._cond:
            if split.path == _PATH and ticket in self._issued:
                self._issued.discard(ticket)
                return None
            self._rejected.append(request.path)
            self._cond.notify_all()
        body = b"invalid or expired ticket\n"
        headers = Headers({"Content-Type": "text/plain", "Content-Length": str(len(body))})
        return Response(HTTPStatus.UNAUTHORIZED, "Unauthorized", headers, body)

    # -- the WebSocket half -------------------------------------------------------------------
    def _serve_link(self, connection: ServerConnection) -> None:
        request = connection.request
        ticket = parse_qs(urlsplit(request.path).query)["ticket"][0] if request else ""
        link = Link(ticket=ticket, connection=connection)
        with self._cond:
            self._links.append(link)
            count = sum(1 for each in self._links if each.open)
            self._cond.notify_all()
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        try:
            connection.send(json.dumps(hello))
            for message in connection:
                with self._cond:
                    link.received.append(json.loads(message))
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                link.open = False
                self._cond.notify_all()

    @property
    def links(self) -> list[Link]:
        """Every connection accepted so far, oldest first."""
        with self._cond:
            return list(self._links)

    @property
    def rejected(self) -> list[str]:
        """Paths of handshakes refused for a bad or reused ticket."""
        with self._cond:
            return list(self._rejected)

    def wait_for_links(self, count: int, timeout: float = 5.0) -> Link:
        """Block until ``count`` connections were accepted and the newest is open; return it."""
        with self._cond:
            if not wait_until(
                self._cond,
                lambda: len(self._links) >= count and self._links[-1].open,
                timeout,
            ):
                raise AssertionError(
                    f"expected {count} open connection(s) within {timeout}s; "
                    f"got {len(self._links)}, rejected {self._rejected}"
                )
            return self._links[-1]

    def send(self, envelope: Mapping[str, Any]) -> None:
        """Deliver one message on the newest open connection."""
        with self._cond:
            link = next((each for each in reversed(self._links) if each.open), None)
        if link is None:
            raise AssertionError("no open Socket Mode connection to send on")
        link.connection.send(json.dumps(envelope))

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The message the client sent back for ``envelope_id``, on any connection."""

        def find() -> dict[str, Any] | None:
            for link in self._links:
                for message in link.received:
                    if message.get("envelope_id") == envelope_id:
                        return message
            return None

        with self._cond:
            if not wait_until(self._cond, lambda: find() is not None, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s")
            found = find()
            assert found is not None
            return found

    def drop(self, *, close_frame: bool = True) -> Link:
        """End the newest connection from the server side: with a close frame (1001), or by
        cutting the TCP connection without one, as a dying proxy or NAT does."""
        link = self.wait_for_links(len(self.links))
        if close_frame:
            link.connection.close(code=1001, reason="going away")
        else:
            link.connection.socket.shutdown(socket.SHUT_RDWR)
        return link

    def request_refresh(self) -> None:
        """Slack's periodic ``disconnect`` message: the client must move to a new URL."""
        self.send({"type": "disconnect", "reason": "refresh_requested", "debug_info": {}})


class SocketModeSlackClient(SignedSlackClient):
    """Sends :class:`SignedSlackClient`'s requests as Socket Mode envelopes; the reply is the ack.

    Slash commands become ``slash_commands``, ``payload=`` forms ``interactive`` and
    ``event_callback`` bodies ``events_api`` envelopes; retry headers become the envelope's
    ``retry_attempt``/``retry_reason``. The reply body is the ack's ``payload`` (empty when
    the ack carried none), like the HTTP body bolt would have answered.
    """

    def __init__(self, server: FakeSocketModeServer, *, response_url: str | None = None) -> None:
        super().__init__(
            "socket-mode://", "unused-socket-mode-is-not-signed", response_url=response_url
        )
        self.server = server

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
        envelope = _envelope(body, content_type, extra_headers or {})
        started = time.perf_counter()
        self.server.send(envelope)
        ack = self.server.wait_for_ack(envelope["envelope_id"], timeout=self.timeout)
        payload = ack.get("payload")
        if payload:
            check_ack_payload(payload, submitted_blocks)
        return SlackReply(
            status=200,
            body=json.dumps(payload) if payload else "",
            elapsed=time.perf_counter() - started,
        )


def _envelope(body: bytes, content_type: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """Wrap an HTTP-mode body the way Slack wraps the same request for Socket Mode."""
    text = body.decode()
    envelope: dict[str, Any] = {"envelope_id": str(uuid.uuid4())}
    if content_type.startswith("application/json"):
        payload = json.loads(text)
        if payload.get("type") != "event_callback":
            raise ValueError(f"Socket Mode carries no {payload.get('type')!r} requests")
        envelope.update(type="events_api", payload=payload, accepts_response_payload=False)
    elif text.startswith("payload="):
        payload = json.loads(parse_qs(text)["payload"][0])
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        envelope.update(type="interactive", payload=payload, accepts_response_payload=accepts)
    else:
        payload = dict(parse_qsl(text, keep_blank_values=True))
        envelope.update(type="slash_commands", payload=payload, accepts_response_payload=True)
    lowered = {k.lower(): v for k, v in headers.items()}
    if "x-slack-retry-num" in lowered:
        envelope["retry_attempt"] = int(lowered["x-slack-retry-num"])
        envelope["retry_reason"] = lowered.get("x-slack-retry-reason", "")
    return envelope
