"""Runs the real Accord WSGI app (waitress, bolt, listeners, services) on a loopback port,
talking to the fake Slack Web API, with an injected clock."""

from __future__ import annotations

import itertools
import threading
import time
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
from bot.slack.deliver import Deliverer
from bot.slack.listeners.commands import WORKING
from bot.web import SERVER_OPTIONS, AccordWsgi
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
#: A second admin: side changes wait for one to confirm (two-person rule).
ADMIN_2 = "U0ADMIN2"
OUTSIDER = "U0OUT1"
CISO_GROUP = "S0CISOGRP"
COORDINATION = "C0COORD"
EXECUTIVE_CHANNEL = "C0EXEC"
DIGEST_CHANNEL = "C0DIGEST"

#: Each `command_text` gets its own response_url, to tell its late answer apart.
_COMMAND_NUMBERS = itertools.count(1)


class TrackedExecutor(ThreadPoolExecutor):
    """Bolt's listener pool, counting work in flight so a test can wait for after-ack work."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._cond = threading.Condition()
        self._in_flight = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        with self._cond:
            self._in_flight += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Any) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._in_flight == 0, timeout):
                raise AssertionError(f"{self._in_flight} listener task(s) still running")


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
        "accord_admins": f"{ADMIN},{ADMIN_2}",
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
    listeners: TrackedExecutor | None = None
    replies: list[SlackReply] = field(default_factory=list)
    #: `http://127.0.0.1:<port>`, for the non-Slack entry points (gate API, GitHub webhook).
    root_url: str = ""

    def deliver(self) -> None:
        """Send everything the outbox holds that is due now (what the deliverer thread does a
        moment later); tests that run jobs directly call it before looking at the fake."""
        assert self.services.outbound is not None
        self.services.outbound.drain()

    def wait_idle(self) -> None:
        """Until bolt's listeners have finished and what they queued has been delivered."""
        if self.listeners is not None:
            self.listeners.wait_idle()
        self.deliver()
        self.fake.wait_idle()

    def posts_in(self, channel: str, count: int = 1) -> list[Any]:
        """The chat.postMessage calls to `channel`, once there are `count` of them (DMs to
        people about the same change go out beside them, in no fixed order)."""
        seen = 1
        while True:
            calls = self.fake.wait_for("chat.postMessage", seen)
            found = [c for c in calls if c.body.get("channel") == channel]
            if len(found) >= count:
                return found
            seen = len(calls) + 1

    def command(self, text: str, *, user: str = CIO, **kwargs: Any) -> SlackReply:
        reply = self.slack.command(text, user_id=user, **kwargs)
        self.replies.append(reply)
        return reply

    def command_text(self, text: str, *, user: str = CIO) -> str:
        """Every piece of text of a command's answer (fallback plus blocks), for assertions.

        On a loaded machine a command can outlive the ack budget: Slack is told "Working on
        it…" and the answer follows through the command's response_url. That answer is the
        one returned (each command gets its own response_url to tell it apart), so that what
        the test does next sees the command's work committed, as the person would."""
        name = f"cmd{next(_COMMAND_NUMBERS)}"
        reply = self.command(text, user=user, response_url=self.fake.response_url(name))
        assert reply.status == 200, reply.body
        payload = reply.json()
        if WORKING in str(payload.get("text", "")):
            payload = self._late_answer(f"/respond/{name}")
        return reply_text(payload)

    def _late_answer(self, path: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            calls = self.fake.wait_for("response_url", seen + 1, timeout=timeout)
            seen = len(calls)
            for call in calls:
                if call.path == path:
                    self.deliver()  # what the late work queued, as after any reply
                    return call.body
        raise AssertionError(f"no answer through {path} within {timeout}s")


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
    deliverer = services.outbound
    assert isinstance(deliverer, Deliverer)
    deliverer.start()
    listeners = TrackedExecutor(max_workers=10, thread_name_prefix="test-listener")
    bolt = build_app(
        services, client=client, signing_secret=SIGNING_SECRET, listener_executor=listeners
    )
    server = create_server(
        AccordWsgi(bolt, services, signing_secret=SIGNING_SECRET),
        host="127.0.0.1",
        port=0,
        threads=6,
        **SERVER_OPTIONS,
    )
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
    signed = SignedSlackClient(url, SIGNING_SECRET, response_url=fake.response_url())
    # What the deliverer thread does right after a commit, done before the test looks.
    signed.after_reply = deliverer.drain
    try:
        yield RunningAccord(
            services=services,
            fake=fake,
            slack=signed,
            clock=clock,
            url=url,
            listeners=listeners,
            root_url=root_url,
        )
    finally:
        deliverer.drain()
        fake.wait_idle()
        deliverer.stop()
        stopping.set()
        # Closed from its own loop, which then ends at once (closed from here, the loop would
        # sit out its 1 s select timeout first: a second per test).
        server.trigger.pull_trigger(server.close)  # type: ignore[union-attr]
        thread.join(timeout=5)
        server.task_dispatcher.shutdown(timeout=5)  # its request threads (close() leaves them)
        listeners.shutdown(wait=True)  # let after-ack work finish while the fakes still answer
        services.engine.dispose()
