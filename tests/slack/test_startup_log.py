"""Start-up says nothing that worries people for no reason."""

from __future__ import annotations

import logging

import pytest

from bot.bootstrap import build_slack_services, build_web_client
from bot.slack.app import build_app
from tests import harness
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import BOT_TOKEN, CIO, SIGNING_SECRET, RunningAccord


def test_no_client_and_token_warning_when_the_token_is_in_the_environment(
    migrated_sqlite_url: str,
    fake_slack: FakeSlackServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # as in production: bolt reads it too
    settings = harness.test_settings(migrated_sqlite_url, fake_slack)
    client = build_web_client(settings)
    services = build_slack_services(settings, client=client)
    with caplog.at_level(logging.INFO):
        bolt = build_app(services, client=client, signing_secret=SIGNING_SECRET)
        bolt.logger.warning("a real bolt warning still shows")
    messages = [record.getMessage() for record in caplog.records]
    assert "As you gave `client` as well, `token` will be unused." not in messages
    assert "a real bolt warning still shows" in messages
    services.engine.dispose()


def test_accords_own_info_lines_still_show_after_bolt_serves_a_request(
    accord_sqlite: RunningAccord, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt configures a logger named after the app on every request (level and filter of
    its own logger); the app's name must not be one Accord logs under."""
    with caplog.at_level(logging.INFO):
        assert "initiative" in accord_sqlite.command_text("help", user=CIO)
        logging.getLogger("accord").info("Accord connected in Socket Mode")
    assert "Accord connected in Socket Mode" in [r.getMessage() for r in caplog.records]
