"""Socket Mode: the same bolt app and listeners as HTTP mode, reached over an outbound WebSocket
opened with the app-level token, plus a watchdog for connections that die without a word."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackClientError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.builtin.connection import Connection

from bot.bootstrap import build_slack_services, build_web_client, check_audit_key
from bot.clock import Clock
from bot.config import ConfigurationError, Settings
from bot.services import Services
from bot.slack.app import build_app
from bot.slack.deliver import Deliverer

log = logging.getLogger(__name__)

#: slack_sdk pings every this many seconds; its own monitor reconnects on the same beat.
DEFAULT_PING_INTERVAL = 10.0
DEFAULT_CHECK_INTERVAL = 60.0


@dataclass(frozen=True)
class SocketMode:
    """What `accord socket` runs; the services are kept so shutdown can release the database."""

    handler: SocketModeHandler
    services: Services

    def close(self) -> None:
        """Disconnect, stop slack_sdk's threads and close the database pool.

        slack_sdk's reader holds a lock while it blocks in recv() for up to 3 s, and closing
        waits for that lock; shutting the socket down first wakes the reader at once.
        """
        session = self.handler.client.current_session
        sock = session.sock if session is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.handler.client.close()
        if isinstance(self.services.outbound, Deliverer):
            self.services.outbound.stop()
        self.services.engine.dispose()


def build_socket_mode(
    settings: Settings, *, clock: Clock | None = None, ping_interval: float = DEFAULT_PING_INTERVAL
) -> SocketMode:
    """Wire the bolt app exactly as `serve` does, behind a Socket Mode handler (not connected yet).

    Socket Mode requests are not signed: bolt's request verification skips every request whose
    mode is ``socket_mode``, so no SLACK_SIGNING_SECRET is needed. The app is still given a
    random secret nobody knows, so that if it were ever mounted over HTTP by mistake it would
    refuse every request instead of trusting an empty or well-known one.
    """
    token, app_token = settings.require_socket_credentials()
    if not app_token.startswith("xapp-"):
        raise ConfigurationError(
            "SLACK_APP_TOKEN must be an app-level token (xapp-…) with the connections:write scope"
        )
    check_audit_key(settings)
    client = build_web_client(settings, token=token)
    services = build_slack_services(settings, client=client, clock=clock)
    if isinstance(services.outbound, Deliverer):
        services.outbound.start().kick()
    bolt = build_app(services, client=client, signing_secret=secrets.token_hex(32))
    handler = SocketModeHandler(bolt, app_token, web_client=client, ping_interval=ping_interval)
    return SocketMode(handler=handler, services=services)


class SocketWatchdog:
    """Every `interval` seconds: `auth.test`, then make sure the connection still answers.

    slack_sdk's client misses two failures for a long time: after Slack closes the socket it
    waits for its next ping tick to reconnect, and when the TCP connection dies without a close
    frame `is_connected()` stays true until five pings have failed (50 s by default). Apps have
    also been seen to stay connected but deaf after a reconnect; a periodic `auth.test` was the
    reported cure (bolt-python #1529). So each check calls `auth.test`, pings the connection,
    and opens a new one (with a fresh URL from apps.connections.open, as the old one expires)
    when the client is disconnected or the previous check's ping was never answered.
    """

    def __init__(self, client: SocketModeClient, *, interval: float = DEFAULT_CHECK_INTERVAL):
        if interval <= 0:
            raise ValueError("the Socket Mode check interval must be positive")
        self.client = client
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pinged: tuple[str, float] | None = None  # (session id, time of our last ping)

    def start(self) -> SocketWatchdog:
        self._thread = threading.Thread(target=self._run, name="socket-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop checking; waits for a check in progress (bounded by `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # a supervisor that dies on a surprise leaves the app deaf
                log.exception("Socket Mode health check failed")

    def check(self) -> None:
        """One health check; reconnects when needed."""
        if self.client.closed:
            return
        self._keep_alive()
        session = self.client.current_session
        if session is None or not self.client.is_connected():
            log.warning("Socket Mode is disconnected; reconnecting")
            self.client.connect_to_new_endpoint()
        elif self._unanswered(session) or not self._ping(session):
            log.warning("Socket Mode connection went silent; reconnecting")
            self.client.connect_to_new_endpoint(force=True)

    def _keep_alive(self) -> None:
        try:
            self.client.web_client.auth_test()
        except (SlackClientError, OSError) as error:
            log.warning("Socket Mode health check: auth.test failed (%s)", error)

    def _unanswered(self, session: Connection) -> bool:
        """True when our ping on this session got no pong by the next check."""
        if self._pinged is None or self._pinged[0] != session.session_id:
            return False
        answered = session.last_ping_pong_time
        return answered is None or answered < self._pinged[1]

    def _ping(self, session: Connection) -> bool:
        """Ping as slack_sdk does (its pong handler records the time); False if the send fails."""
        sent = time.time()
        try:
            session.ping(f"{session.session_id}:{sent}")
        except OSError:
            return False
        self._pinged = (session.session_id, sent)
        return True
