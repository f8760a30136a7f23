"""Shared plumbing for the fake HTTP servers: a real socket on 127.0.0.1:0 in a daemon thread.

Each fake subclasses :class:`FakeHTTPServer` and implements :meth:`FakeHTTPServer.handle`, which
turns a fully read :class:`HTTPRequest` into an :class:`HTTPResponse`. The base class owns the
thread, the in-flight bookkeeping (``wait_idle``) and a ``threading.Condition`` that subclasses
use to guard their state and wake waiters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FakeHTTPServer",
    "HTTPRequest",
    "HTTPResponse",
    "wait_until",
]

_HOST = "127.0.0.1"
logger = logging.getLogger(__name__)
# How long stop() lets already running handlers finish writing before it gives up on them.
_STOP_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class HTTPRequest:
    """One fully read request, so handlers never touch sockets themselves."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased: lookups must not depend on client casing
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters (``application/json;charset=utf-8`` -> ``...json``)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class HTTPResponse:
    """What a fake answers; the base handler adds Content-Length and ``Connection: close``."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HTTPResponse:
        """Serialise ``payload`` the way the real APIs do (compact UTF-8 JSON)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def text(
        cls, text: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HTTPResponse:
        """A plain-text answer, e.g. the HTML-ish error pages proxies return on 5xx."""
        return cls(
            status=status,
            body=text.encode(),
            headers=dict(headers or {}),
            content_type="text/plain; charset=utf-8",
        )


def wait_until(
    cond: threading.Condition,
    predicate: Callable[[], bool],
    timeout: float,
) -> bool:
    """Wait on ``cond`` (already held) until ``predicate()``; return whether it became true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        cond.wait(remaining)
    return True


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that skips the reverse-DNS lookup and never joins handlers on close."""

    daemon_threads = True
    # ThreadingMixIn would otherwise join every handler thread in server_close(), so a stalled
    # handler (OpenAI fake) could hang stop(); FakeHTTPServer.stop() bounds that wait itself.
    block_on_close = False
    # The stdlib default backlog of 5 drops concurrent connects, which then wait ~1s for a
    # SYN retransmit; a bot with a thread pool easily opens more than 5 at once.
    request_queue_size = 128

    def __init__(self, owner: FakeHTTPServer) -> None:
        self.owner = owner
        super().__init__((_HOST, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can block for seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name = _HOST
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected in these tests, not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, delegates to the owning fake, writes the answer, closes."""

    server: _Server
    # HTTP/1.1 status line but one request per connection: no idle keep-alive sockets survive
    # stop(), and every request is fully accounted for by the in-flight counter.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Dispatch GET (Slack accepts Web API calls as GET with a query string)."""
        self._dispatch()

    def do_POST(self) -> None:
        """Dispatch POST, the normal verb for every fake endpoint."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Dispatch PUT so unexpected verbs get a clear 404/405 from the fake, not a 501."""
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: pytest output should not be flooded (or leak anything) per request."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Drain optional trailers up to the terminating blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        owner = self.server.owner
        owner._enter()
        try:
            self.close_connection = True
            split = urlsplit(self.path)
            request = HTTPRequest(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self._read_body(),
            )
            try:
                response = owner.handle(request)
            except Exception as exc:  # a bug in a fake must surface, not hang the client
                logger.exception(
                    "%s crashed on %s %s", type(owner).__name__, request.method, request.path
                )
                owner._record_crash(exc)
                response = HTTPResponse.text(
                    f"fake server crashed: {type(exc).__name__}: {exc}", status=500
                )
            self._write(response)
        finally:
            owner._leave()

    def _write(self, response: HTTPResponse) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()


class FakeHTTPServer:
    """Base of the fakes: lifecycle, context manager, in-flight tracking, crash reporting."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._in_flight = 0
        self._crashes: list[BaseException] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Set by stop(); handlers that deliberately stall wait on it so shutdown is never slow.
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind 127.0.0.1 on an ephemeral port and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{type(self).__name__}:{server.server_port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake stalled handlers, let running ones finish briefly, close."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with self._cond:
            wait_until(self._cond, lambda: self._in_flight == 0, _STOP_GRACE_SECONDS)
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

    # -- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The ephemeral port the OS picked; only valid while started."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; use start() or `with`")
        return int(self._server.server_port)

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:<port>`` without a trailing slash."""
        return f"http://{_HOST}:{self.port}"

    # -- waiting ---------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no request is being handled (does not wait for requests not yet sent)."""
        with self._cond:
            if not wait_until(self._cond, lambda: self._in_flight == 0, timeout):
                raise AssertionError(
                    f"{type(self).__name__}: still {self._in_flight} request(s) in flight "
                    f"after {timeout}s"
                )

    @property
    def crashes(self) -> list[BaseException]:
        """Exceptions raised inside the fake's own handler code (should always be empty)."""
        with self._cond:
            return list(self._crashes)

    # -- for subclasses --------------------------------------------------------------------
    def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Answer one request; runs on a handler thread, so guard state with ``self._cond``."""
        raise NotImplementedError

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stop() is called first; return True if stop() interrupted the sleep."""
        return self._stopping.wait(seconds)

    def _enter(self) -> None:
        with self._cond:
            self._in_flight += 1
            self._cond.notify_all()

    def _leave(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def _record_crash(self, exc: BaseException) -> None:
        with self._cond:
            self._crashes.append(exc)
            self._cond.notify_all()
