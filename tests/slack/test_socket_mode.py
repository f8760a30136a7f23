"""Socket Mode end to end: the real bolt app behind slack_sdk's built-in Socket Mode client,
connected over a real WebSocket to a loopback server that plays Slack (tests/fakes/socket_mode)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_bolt import BoltRequest

from bot.db import session_scope
from bot.domain.initiatives import Initiative
from bot.socket_mode import SocketMode, SocketWatchdog, build_socket_mode
from tests.fakes.slack_api import FakeSlackServer
from tests.fakes.socket_mode import FakeSocketModeServer, SocketModeSlackClient
from tests.harness import (
    BOT_TOKEN,
    CIO,
    CISO_FROM_GROUP,
    CISO_GROUP,
    FakeClock,
    RunningAccord,
    reply_text,
)
from tests.harness import test_settings as accord_settings

APP_TOKEN = "xapp-1-A0ACCORD-1-test-app-level-token"
# slack_sdk's own monitor reconnects on every ping tick; this long one keeps it out of the way
# so that any reconnect seen within a test's bounded wait is the watchdog's.
QUIET_PING_INTERVAL = 600.0


@dataclass
class SocketAccord:
    accord: RunningAccord
    mode: SocketMode
    server: FakeSocketModeServer


@contextmanager
def socket_accord(
    migrated_database_url: str,
    fake: FakeSlackServer,
    *,
    clock: FakeClock,
    ping_interval: float = 10.0,
) -> Iterator[SocketAccord]:
    fake.set_usergroup(CISO_GROUP, [CISO_FROM_GROUP])
    settings = accord_settings(
        migrated_database_url, fake, slack_app_token=APP_TOKEN, slack_signing_secret=None
    )
    with FakeSocketModeServer(fake) as server:
        mode = build_socket_mode(settings, clock=clock, ping_interval=ping_interval)
        try:
            mode.handler.client.connect()
            server.wait_for_links(1)
            slack = SocketModeSlackClient(server, response_url=fake.response_url())
            url = f"ws://127.0.0.1:{server.port}/link/"
            accord = RunningAccord(mode.services, fake, slack, clock, url=url)
            yield SocketAccord(accord, mode, server)
        finally:
            fake.wait_idle()
            mode.close()  # before the server goes, or the client would chase it


@pytest.fixture
def sock(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[SocketAccord]:
    with socket_accord(migrated_sqlite_url, fake_slack, clock=clock) as running:
        yield running


@pytest.fixture
def quiet_sock(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[SocketAccord]:
    with socket_accord(
        migrated_sqlite_url, fake_slack, clock=clock, ping_interval=QUIET_PING_INTERVAL
    ) as running:
        yield running


def test_slash_command_envelope_creates_the_initiative_and_the_ack_replies(
    sock: SocketAccord,
) -> None:
    opened = sock.accord.fake.last_call("apps.connections.open")
    assert opened.token == APP_TOKEN  # the app-level token, never the bot token
    reply = sock.accord.command("initiative new Socket test")
    ack = sock.server.links[-1].received[-1]
    assert set(ack) == {"envelope_id", "payload"}
    assert reply.json() == ack["payload"]
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "INI-1" in reply_text(ack["payload"])
    with session_scope(sock.accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None
        assert (initiative.title, initiative.created_by) == ("Socket test", CIO)


def test_block_action_envelope_is_acked_then_answered_on_the_response_url(
    sock: SocketAccord,
) -> None:
    sock.accord.command("initiative new Socket test")
    reply = sock.accord.slack.block_action("initiative.show", "1", user_id=CIO)
    assert reply.body == ""  # a bare ack: {"envelope_id": ...}
    answer = sock.accord.fake.wait_for("response_url")[0].body
    assert "INI-1" in reply_text(answer) and "Socket test" in reply_text(answer)


def test_app_home_opened_event_publishes_the_home_tab(sock: SocketAccord) -> None:
    reply = sock.accord.slack.event({"type": "app_home_opened", "user": CIO, "tab": "home"})
    assert reply.body == ""
    published = sock.accord.fake.wait_for("views.publish")[0]
    assert published.body["user_id"] == CIO
    assert published.token == BOT_TOKEN


def test_the_socket_mode_app_refuses_requests_that_arrive_over_http(sock: SocketAccord) -> None:
    """Socket Mode skips signature checks; the same app must not trust unsigned HTTP."""
    request = BoltRequest(body="command=%2Faccord&text=help&user_id=U1", mode="http")
    assert sock.mode.handler.app.dispatch(request).status == 401


@pytest.mark.parametrize("close_frame", [True, False], ids=["closed", "cut-without-close-frame"])
def test_watchdog_reconnects_a_dropped_connection_with_a_fresh_url(
    quiet_sock: SocketAccord, caplog: pytest.LogCaptureFixture, close_frame: bool
) -> None:
    server, fake = quiet_sock.server, quiet_sock.accord.fake
    watchdog = SocketWatchdog(quiet_sock.mode.handler.client, interval=0.2).start()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.socket_mode"):
            first = server.drop(close_frame=close_frame)
            second = server.wait_for_links(2, timeout=5)
    finally:
        watchdog.stop()
    assert len(fake.calls("apps.connections.open")) == 2
    assert second.ticket != first.ticket and server.rejected == []
    assert "reconnecting" in caplog.text
    assert "INI-1" in quiet_sock.accord.command_text("initiative new After the drop")


def test_slack_refresh_request_moves_the_client_to_a_new_connection(sock: SocketAccord) -> None:
    sock.server.request_refresh()
    sock.server.wait_for_links(2)
    assert len(sock.accord.fake.calls("apps.connections.open")) == 2
    assert "INI-1" in sock.accord.command_text("initiative new After the refresh")


# -- `accord socket` as a process ---------------------------------------------------------------


def _environment(fake: FakeSlackServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ACCORD_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_BASE_URL=fake.base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'accord.db'}",
        ACCORD_CIO_SIDE=CIO,
        OPENAI_API_KEY="",
    )
    env.update(extra)
    return env


def _accord_socket(env: dict[str, str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "socket"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_accord_socket_serves_commands_and_stops_on_sigterm(
    fake_slack: FakeSlackServer, tmp_path: Path
) -> None:
    with FakeSocketModeServer(fake_slack) as server:
        process = _accord_socket(_environment(fake_slack, tmp_path), tmp_path)
        try:
            server.wait_for_links(1, timeout=60)
            slack = SocketModeSlackClient(server, response_url=fake_slack.response_url())
            reply = slack.command("initiative new From the process", user_id=CIO)
            assert "INI-1" in reply_text(reply.json())
            process.terminate()
            _, stderr = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert APP_TOKEN not in stderr and BOT_TOKEN not in stderr


def test_accord_socket_with_a_bot_token_as_app_token_says_so(
    fake_slack: FakeSlackServer, tmp_path: Path
) -> None:
    env = _environment(fake_slack, tmp_path, SLACK_APP_TOKEN="xoxb-not-an-app-token")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "socket"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "accord: SLACK_APP_TOKEN must be an app-level token (xapp-…) "
        "with the connections:write scope"
    )
    assert "xoxb-not-an-app-token" not in result.stderr + result.stdout


def test_accord_socket_exits_2_when_slack_refuses_the_app_token(
    fake_slack: FakeSlackServer, tmp_path: Path
) -> None:
    fake_slack.error_next("apps.connections.open", "invalid_auth")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "socket"],
        cwd=tmp_path,
        env=_environment(fake_slack, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == "accord: Slack refused the Socket Mode connection (invalid_auth)"
    assert "Traceback" not in result.stderr
    assert APP_TOKEN not in result.stderr + result.stdout
