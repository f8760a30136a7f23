"""Start-up says nothing that worries people for no reason."""

from __future__ import annotations

import logging

import pytest

from bot.bootstrap import build_slack_services, build_web_client
from bot.slack.app import build_app
from tests import harness
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import BOT_TOKEN, SIGNING_SECRET


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
