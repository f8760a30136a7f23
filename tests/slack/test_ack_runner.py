"""The listener runner answers as soon as `ack()` is called, and promptly when a listener
fails before acknowledging (bot/slack/runner.py), through bolt's own request dispatch."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.slack.runner import SignalledListenerRunner
from tests.fakes.slack_api import FakeSlackServer

SECRET = "runner-test-secret"


def signed_command(text: str) -> BoltRequest:
    body = urlencode(
        {"command": "/accord", "text": text, "user_id": "U1", "team_id": "T1", "channel_id": "C1"}
    )
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [timestamp],
        "x-slack-signature": [signature],
    }
    return BoltRequest(body=body, headers=headers)


def test_the_answer_leaves_when_ack_is_called_not_when_the_listener_ends() -> None:
    finished = threading.Event()
    with FakeSlackServer() as fake, ThreadPoolExecutor(max_workers=2) as pool:
        app = App(
            client=WebClient(token="xoxb-t", base_url=fake.base_url),
            signing_secret=SECRET,
            token_verification_enabled=False,
            listener_executor=pool,
        )
        app._listener_runner = SignalledListenerRunner.replacing(app.listener_runner)

        @app.command("/accord")
        def accord(ack: Ack, command: dict[str, str]) -> None:
            if command["text"] == "fail":
                raise RuntimeError("before the ack")
            ack(text=f"you said {command['text']}")
            time.sleep(0.5)  # work after the ack
            finished.set()

        @app.error
        def on_error(error: Exception) -> BoltResponse:
            return BoltResponse(status=200, body="sorry")

        app.dispatch(signed_command("warm-up"))  # bolt's auth.test on the first request
        finished.wait(2)
        finished.clear()
        started = time.perf_counter()
        answer = app.dispatch(signed_command("hello"))
        elapsed = time.perf_counter() - started
        assert answer.status == 200 and "you said hello" in answer.body
        assert elapsed < 0.25 and not finished.is_set()

        started = time.perf_counter()
        failed = app.dispatch(signed_command("fail"))
        # Not bolt's 3-second wait for an ack that will never come.
        assert time.perf_counter() - started < 1.0
        assert failed.body == "sorry"
        assert finished.wait(2)
