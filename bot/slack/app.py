"""Builds the bolt app with Accord's listeners; used by HTTP mode, Socket Mode and the shell."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot.logs import BOLT_LOGGER
from bot.services import Services
from bot.slack import inbound
from bot.slack.listeners import register_all
from bot.slack.runner import SignalledListenerRunner

log = logging.getLogger(__name__)


class _WithoutClientTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns at every start
    that the client's token wins. Accord builds that client from the same token, so the warning
    only worries people; it is dropped, and every other bolt message kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def bolt_logger() -> logging.Logger:
    """The logger bolt is given. Without one, bolt copies the *root* level onto each of its
    per-class loggers, and at INFO its RequestVerification logs the whole body of every
    request with a bad signature; given one, they copy this logger's level, kept at WARNING
    or above (nothing bolt logs at INFO or DEBUG is needed, and some of it is bodies).
    Bolt's App logs its start-up notices on this logger itself, so the filter sits here."""
    logger = logging.getLogger(BOLT_LOGGER)
    if logger.level < logging.WARNING:  # NOTSET too
        logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _WithoutClientTokenNotice) for f in logger.filters):
        logger.addFilter(_WithoutClientTokenNotice())
    return logger


def build_app(
    services: Services,
    *,
    client: WebClient,
    signing_secret: str,
    process_before_response: bool = False,
    listener_executor: Executor | None = None,
) -> App:
    """`process_before_response` runs listeners to the end before answering (shell, FaaS).
    Bolt runs listeners (and their after-ack work) on `listener_executor`; whoever passes one
    can wait for that work to finish on shutdown."""
    app = App(
        # Named, or bolt names it with inspect.stack() (reading every frame's source). Bolt sets
        # up a logger of this name on each request, so it must not be one Accord logs under.
        name="slack_bolt.accord",
        client=client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        listener_executor=listener_executor
        or ThreadPoolExecutor(
            max_workers=services.settings.accord_listener_threads, thread_name_prefix="accord"
        ),
        raise_error_for_unhandled_request=False,
        token_verification_enabled=False,
        logger=bolt_logger(),
    )
    # Answer as soon as `ack()` is called, not at bolt's next 10 ms poll (bot/slack/runner.py).
    app._listener_runner = SignalledListenerRunner.replacing(app.listener_runner)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        log.error("unhandled error for a %s request", body.get("type", "command"), exc_info=error)
        return BoltResponse(status=200, body="")

    inbound.register(app)  # before any listener reads the body
    register_all(app, services)
    return app
