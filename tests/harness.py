"""Runs the real Accord WSGI app (waitress, bolt, listeners, services) on a loopback port,
talking to the fake Slack Web API, with an injected clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from waitress.server import create_server

from bot.bootstrap import build_slack_services, build_web_client
from bot.config import Settings
from bot.services import Services
from bot.slack.app import build_app
from bot.web import AccordWsgi
from tests.fakes.slack_api import FakeSlackServer
from tests.fakes.slack_requests import SignedSlackClient, SlackReply

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token-never-logged"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

CIO = "U0CIO1"
CIO_2 = "U0CIO2"
CISO = "U0CISO1"
CISO_2 = "U0CISO2"
CISO_FROM_GROUP = "U0CISO3"
EXEC = "U0EXEC1"
ADMIN = "U0ADMIN"
OUTSIDER = "U0OUT1"
CISO_GROUP = "S0CISOGRP"
COORDINATION = "C0COORD"
EXECUTIVE_CHANNEL = "C0EXEC"
DIGEST_CHANNEL = "C0DIGEST"


class FakeClock:
    """A clock the test moves; shared by the app's threads."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


def test_settings(database_url: str, slack: FakeSlackServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_base_url": slack.base_url,
        "accord_cio_side": f"{CIO},{CIO_2}",
        "accord_ciso_side": f"{CISO},{CISO_2},{CISO_GROUP}",
        "accord_executives": EXEC,
        "accord_admins": ADMIN,
        "accord_coordination_channel": COORDINATION,
        "accord_executive_channel": EXECUTIVE_CHANNEL,
        "accord_digest_channel": DIGEST_CHANNEL,
        "openai_api_key": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningAccord:
    services: Services
    fake: FakeSlackServer
    slack: SignedSlackClient
    clock: FakeClock
    url: str
    replies: list[SlackReply] = field(default_factory=list)
    #: `http://127.0.0.1:<port>`, for the non-Slack entry points (gate API, GitHub webhook).
    root_url: str = ""

    def command(self, text: str, *, user: str = CIO, **kwargs: Any) -> SlackReply:
        reply = self.slack.command(text, user_id=user, **kwargs)
        self.replies.append(reply)
        return reply

    def command_text(self, text: str, *, user: str = CIO) -> str:
        """Every piece of text of a command's reply (fallback plus blocks), for assertions."""
        reply = self.command(text, user=user)
        assert reply.status == 200, reply.body
        return reply_text(reply.json())


def _texts(payload: dict[str, Any], *, mrkdwn_only: bool) -> list[str]:
    found: list[str] = [str(payload.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            wanted = node.get("type") == "mrkdwn" if mrkdwn_only else True
            if wanted and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload.get("blocks", []))
    return found


def reply_text(payload: dict[str, Any]) -> str:
    """All human-visible text in a message payload, flattened."""
    return "\n".join(_texts(payload, mrkdwn_only=False))


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """The texts Slack parses for mentions and links: top-level text and every mrkdwn object."""
    return _texts(payload, mrkdwn_only=True)


@contextmanager
def running_accord(
    database_url: str, fake: FakeSlackServer, *, clock: FakeClock | None = None, **overrides: Any
) -> Iterator[RunningAccord]:
    clock = clock or FakeClock()
    fake.set_usergroup(CISO_GROUP, [CISO_FROM_GROUP])
    settings = test_settings(database_url, fake, **overrides)
    client = build_web_client(settings)
    services = build_slack_services(settings, client=client, clock=clock)
    listeners = ThreadPoolExecutor(max_workers=10, thread_name_prefix="test-listener")
    bolt = build_app(
        services, client=client, signing_secret=SIGNING_SECRET, listener_executor=listeners
    )
    server = create_server(AccordWsgi(bolt, services), host="127.0.0.1", port=0, threads=6)
    stopping = threading.Event()

    def serve() -> None:
        try:
            server.run()
        except (OSError, ValueError):  # closing the sockets under select() at shutdown
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    root_url = f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    url = f"{root_url}/slack/events"
    try:
        yield RunningAccord(
            services=services,
            fake=fake,
            slack=SignedSlackClient(url, SIGNING_SECRET, response_url=fake.response_url()),
            clock=clock,
            url=url,
            root_url=root_url,
        )
    finally:
        fake.wait_idle()
        stopping.set()
        server.close()
        thread.join(timeout=5)
        listeners.shutdown(wait=True)  # let after-ack work finish while the fakes still answer
        services.engine.dispose()
