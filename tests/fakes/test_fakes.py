"""Proves the fakes speak the real protocols: each test drives them with the real client."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import openai
import pytest
from pydantic import BaseModel
from slack_bolt import Ack, App, BoltRequest, Say
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from ._server import FakeHTTPServer, HTTPRequest, HTTPResponse
from .openai_api import FakeOpenAIServer
from .slack_api import FakeSlackServer
from .slack_requests import SignedSlackClient

SECRET = "test-signing-secret"


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server
    assert server.crashes == []


@pytest.fixture
def ai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
    assert server.crashes == []


@pytest.fixture
def web(slack: FakeSlackServer) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


# -- FakeSlackServer -------------------------------------------------------------------------


def test_rate_limit_is_retried_and_both_attempts_are_recorded(
    slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RateLimitErrorRetryHandler sleeps Retry-After + random() seconds; make that 0 here.
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.random.random", lambda: 0.0)
    client = WebClient(
        token="xoxb-test",
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.fail_next("chat.postMessage", status=429, retry_after=0)

    reply = client.chat_postMessage(channel="C1", text="hello")

    assert reply["ok"] is True
    attempts = slack.calls("chat.postMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[0].error == "ratelimited"
    assert attempts[0].response == {"ok": False, "error": "ratelimited"}
    assert attempts[1].body == {"channel": "C1", "text": "hello"}


def test_server_error_raises_without_retry_handler(slack: FakeSlackServer, web: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=500)

    with pytest.raises(SlackApiError) as raised:
        web.chat_postMessage(channel="C1", text="hello")

    assert raised.value.response.status_code == 500
    assert web.chat_postMessage(channel="C1", text="again")["ok"] is True
    assert [c.status for c in slack.calls("chat.postMessage")] == [500, 200]


def test_injected_errors_and_membership(slack: FakeSlackServer, web: WebClient) -> None:
    slack.error_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        web.chat_postMessage(channel="C1", text="x")

    slack.set_not_member("C2")
    assert web.conversations_info(channel="C2")["channel"]["is_member"] is False
    with pytest.raises(SlackApiError, match="not_in_channel"):
        web.chat_postMessage(channel="C2", text="x")
    web.conversations_join(channel="C2")
    assert web.chat_postMessage(channel="C2", text="x")["ok"] is True

    slack.error_next("users.info", "ratelimited", times=None)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            web.users_info(user="U0ACCORDBOT")
    slack.clear_errors()
    assert web.users_info(user="U0ACCORDBOT")["ok"] is True


def test_outage_fails_every_call_500_then_429_until_it_ends(
    slack: FakeSlackServer, web: WebClient
) -> None:
    slack.fail_all(status=500, seconds=0.3)
    slack.fail_all(status=429, retry_after=7)  # from the end of the 500s until end_outage()
    assert slack.in_outage
    for call in (lambda: web.chat_postMessage(channel="C1", text="x"), web.auth_test):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response.status_code == 500
    time.sleep(0.35)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            web.chat_update(channel="C1", ts="1.2", text="y")
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "7"
    assert slack.in_outage

    slack.end_outage()
    assert not slack.in_outage
    assert web.chat_postMessage(channel="C1", text="x")["ok"] is True
    statuses = [(c.method, c.status) for c in slack.calls()]
    assert statuses == [
        ("chat.postMessage", 500),
        ("auth.test", 500),
        ("chat.update", 429),
        ("chat.update", 429),
        ("chat.postMessage", 200),
    ]


def test_outage_of_some_methods_ends_by_itself(slack: FakeSlackServer, web: WebClient) -> None:
    slack.fail_all(status=503, seconds=0.2, methods=["chat.postMessage"])
    assert web.auth_test()["ok"] is True
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C1", text="x")
    time.sleep(0.25)
    assert not slack.in_outage
    assert web.chat_postMessage(channel="C1", text="x")["ok"] is True
    assert [c.status for c in slack.calls("chat.postMessage")] == [503, 200]


def test_history_filters_by_the_moment_a_message_was_posted(
    slack: FakeSlackServer, web: WebClient
) -> None:
    tagged = {"event_type": "t", "event_payload": {"id": 7}}
    before = f"{time.time() - 1:.6f}"
    posted = web.chat_postMessage(channel="C1", text="a", metadata=tagged)
    history = web.conversations_history(channel="C1", oldest=before, include_all_metadata=True)
    assert [m["ts"] for m in history["messages"]] == [posted["ts"]]
    assert history["messages"][0]["metadata"] == tagged
    later = f"{float(posted['ts']) + 1:.6f}"
    assert web.conversations_history(channel="C1", oldest=later)["messages"] == []


def test_history_comes_a_page_at_a_time_newest_first(
    slack: FakeSlackServer, web: WebClient
) -> None:
    posted = [web.chat_postMessage(channel="C1", text=str(n))["ts"] for n in range(5)]
    first = web.conversations_history(channel="C1", limit=2)
    assert [m["ts"] for m in first["messages"]] == posted[::-1][:2] and first["has_more"]
    cursor = first["response_metadata"]["next_cursor"]
    second = web.conversations_history(channel="C1", limit=2, cursor=cursor)
    assert [m["ts"] for m in second["messages"]] == posted[::-1][2:4]
    last = web.conversations_history(
        channel="C1", limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in last["messages"]] == posted[:1] and not last["has_more"]
    assert last["response_metadata"]["next_cursor"] == ""
    assert len(web.conversations_history(channel="C1")["messages"]) == 5  # default 100


def test_a_held_answer_is_recorded_at_once_and_sent_when_released(
    slack: FakeSlackServer, web: WebClient
) -> None:
    release = slack.hold_answer("chat.postMessage", matching=lambda body: body["text"] == "slow")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(web.chat_postMessage, channel="C1", text="slow")
        slack.wait_for("chat.postMessage")
        assert [m["text"] for m in slack.messages_in("C1")] == ["slow"]  # Slack did the work
        assert web.chat_postMessage(channel="C1", text="other")["ok"]  # others are answered
        assert web.auth_test()["ok"]
        time.sleep(0.2)
        assert not pending.done()  # ...while the held answer waits
        release.set()
        assert pending.result(timeout=5)["ts"] == slack.messages_in("C1")[0]["ts"]
    web.chat_postMessage(channel="C1", text="slow")  # a hold is used once
    assert [c.ok for c in slack.calls("chat.postMessage")] == [True, True, True]


def test_default_answers(slack: FakeSlackServer, web: WebClient) -> None:
    assert web.auth_test()["user_id"] == "U0ACCORDBOT"
    first = web.chat_postMessage(channel="C1", text="a", thread_ts="1.2")
    second = web.chat_postMessage(channel="U1", blocks=[{"type": "divider"}], text="b")
    # A ts is the moment of posting (microseconds), unique and increasing, as on Slack.
    assert abs(float(first["ts"]) - time.time()) < 60
    assert float(first["ts"]) < float(second["ts"]) and len(first["ts"].split(".")[1]) == 6
    assert first["message"]["thread_ts"] == "1.2"
    assert second["channel"] == "DU1"
    assert second["message"]["blocks"] == [{"type": "divider"}]
    assert web.chat_postEphemeral(channel="C1", user="U1", text="e")["message_ts"]
    assert web.conversations_open(users="U1")["channel"]["id"] == "DU1"

    view = {
        "type": "modal",
        "callback_id": "cb",
        "title": {"type": "plain_text", "text": "T"},
        "blocks": [{"type": "divider"}],
    }
    opened = web.views_open(trigger_id="t1", view=view)["view"]
    assert (opened["id"], opened["callback_id"]) == ("V0000001", "cb")
    updated = web.views_update(view_id=opened["id"], view=view)["view"]
    assert updated["id"] == opened["id"]

    # Form-encoded JSON fields (as slack_sdk sends them with data=) are decoded back.
    web.api_call(
        "chat.update", data={"channel": "C1", "ts": "1.2", "blocks": '[{"type":"divider"}]'}
    )
    call = slack.last_call("chat.update")
    assert call.body["blocks"] == [{"type": "divider"}]
    assert call.token == "xoxb-test"
    assert "xoxb-test" not in repr(call)


def test_overrides_and_concurrency(slack: FakeSlackServer, web: WebClient) -> None:
    slack.set_response(
        "conversations.history",
        lambda body: {"ok": True, "messages": [{"text": f"in {body['channel']}"}]},
    )
    slack.set_response("auth.test", {"ok": False, "error": "invalid_auth"})
    assert web.conversations_history(channel="C5")["messages"] == [{"text": "in C5"}]
    with pytest.raises(SlackApiError, match="invalid_auth"):
        web.auth_test()

    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = list(
            pool.map(lambda i: web.chat_postMessage(channel="C1", text=str(i))["ts"], range(40))
        )
    assert len(set(stamps)) == 40
    assert len(slack.wait_for("chat.postMessage", count=40)) == 40


def test_users_and_usergroups(slack: FakeSlackServer, web: WebClient) -> None:
    slack.add_user("U1", name="ada", tz="America/New_York", real_name="Ada L.")
    slack.set_usergroup("S1", ["U1", "U2"])

    user = web.users_info(user="U1")["user"]
    assert (user["name"], user["real_name"], user["tz"]) == ("ada", "Ada L.", "America/New_York")
    assert user["tz_offset"] in (-5 * 3600, -4 * 3600)
    assert web.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError, match="user_not_found"):
        web.users_info(user="U404")
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        web.usergroups_users_list(usergroup="S404")


def test_files_upload_v2_round_trips_bytes(slack: FakeSlackServer, web: WebClient) -> None:
    reply = web.files_upload_v2(channel="C1", content="a,b", filename="x.csv", title="X")

    assert reply["file"]["title"] == "X"
    file_id = reply["file"]["id"]
    assert slack.uploaded_files() == {file_id: b"a,b"}
    assert [c.method for c in slack.calls()] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert slack.last_call("files.getUploadURLExternal").body == {
        "filename": "x.csv",
        "length": "3",
    }
    complete = slack.last_call("files.completeUploadExternal").body
    assert complete == {"files": [{"id": file_id, "title": "X"}], "channel_id": "C1"}


def test_response_url_get_and_waiting(slack: FakeSlackServer) -> None:
    webhook = WebhookClient(slack.response_url("r7"))
    assert webhook.send(text="replaced", replace_original=True).status_code == 200
    call = slack.wait_for("response_url")[0]
    assert call.body == {"text": "replaced", "replace_original": True}
    assert call.path == "/respond/r7"

    with urllib.request.urlopen(  # GET with a query string, token as a parameter
        f"{slack.base_url}users.info?user=U0ACCORDBOT&token=xoxb-q", timeout=5
    ) as response:
        assert json.load(response)["user"]["id"] == "U0ACCORDBOT"
    assert slack.last_call("users.info").token == "xoxb-q"

    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    timer = threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="later"))
    timer.start()
    assert slack.wait_for("chat.postMessage", timeout=5)[0].body["text"] == "later"
    timer.join()
    slack.wait_idle()
    slack.assert_no_call("chat.delete")
    with pytest.raises(AssertionError, match=r"chat.delete.*methods seen:.*users.info"):
        slack.wait_for("chat.delete", timeout=0.05)


# -- FakeOpenAIServer --------------------------------------------------------------------------


class Verdict(BaseModel):
    summary: str
    risk: int


def test_openai_json_reply_and_parse(ai: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=ai.base_url, api_key="test", max_retries=0)
    ai.reply_json({"summary": "fine", "risk": 2})
    ai.reply_json({"summary": "parsed", "risk": 3})

    created = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
    )
    parsed = client.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hello"}],
        response_format=Verdict,
    )

    assert json.loads(created.choices[0].message.content or "") == {"summary": "fine", "risk": 2}
    assert created.usage is not None
    assert created.usage.total_tokens > 0
    assert parsed.choices[0].message.parsed == Verdict(summary="parsed", risk=3)
    requests = ai.requests()
    assert requests[0]["messages"] == [{"role": "user", "content": "hello"}]
    assert requests[1]["response_format"]["json_schema"]["name"] == "Verdict"
    assert ai.request_headers()[0]["authorization"] == "Bearer test"
    assert ai.pending() == 0


def test_openai_retries_a_500(ai: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=ai.base_url, api_key="test", max_retries=2)
    ai.fail(500, retry_after_ms=10)  # the header keeps the client's backoff short
    ai.reply_text("recovered")

    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])

    assert reply.choices[0].message.content == "recovered"
    assert len(ai.wait_for(2)) == 2
    assert [h["x-stainless-retry-count"] for h in ai.request_headers()] == ["0", "1"]


def test_openai_stall_times_out_quickly(ai: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=ai.base_url, api_key="test", timeout=0.5, max_retries=0)
    ai.stall(30)
    started = time.perf_counter()

    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])

    assert time.perf_counter() - started < 3
    # stop() (fixture teardown) must not wait for the stalled handler's 30 seconds either.


def test_openai_stop_does_not_hang_on_a_stalled_handler() -> None:
    server = FakeOpenAIServer().start()
    server.stall(30)
    client = openai.OpenAI(base_url=server.base_url, api_key="test", timeout=0.3, max_retries=0)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 1.5


# -- SignedSlackClient -----------------------------------------------------------------------


class _VerifyingApp(FakeHTTPServer):
    """Stands in for the app: checks Slack's signature like bolt does and keeps the request."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[HTTPRequest] = []

    def handle(self, request: HTTPRequest) -> HTTPResponse:
        with self._cond:
            self.received.append(request)
        verifier = SignatureVerifier(SECRET)
        valid = verifier.is_valid(
            request.body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
        )
        if not valid:
            return HTTPResponse.json({"error": "invalid request"}, status=401)
        return HTTPResponse.text("")


def test_signed_client_signatures_verify() -> None:
    with _VerifyingApp() as app:
        client = SignedSlackClient(app.root_url + "/slack/events", SECRET)

        command = client.command("new initiative", user_id="U1", retry_num=1)
        action = client.block_action("approve", "42", user_id="U1")
        event = client.event({"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.2"})
        stale = client.command("x", user_id="U1", timestamp=int(time.time()) - 600)
        forged = client.send_raw(b"a=b", content_type="text/plain", signature="v0=bad")

        assert [r.status for r in (command, action, event)] == [200, 200, 200]
        assert command.json() == {}
        assert command.elapsed > 0
        assert (stale.status, forged.status) == (401, 401)  # and nothing raised
        assert stale.json() == {"error": "invalid request"}

        cmd, act, evt = app.received[:3]
        assert cmd.content_type == "application/x-www-form-urlencoded"
        assert cmd.headers["x-slack-retry-num"] == "1"
        form = parse_qs(cmd.body.decode())
        assert (form["text"], form["user_id"], form["command"]) == (
            ["new initiative"],
            ["U1"],
            ["/accord"],
        )
        payload = json.loads(parse_qs(act.body.decode())["payload"][0])
        assert payload["actions"][0]["value"] == "42"
        assert payload["container"]["channel_id"] == "C0COORD"
        assert evt.content_type == "application/json"
        assert json.loads(evt.body)["event"]["type"] == "app_mention"


class _BoltAdapter(FakeHTTPServer):
    """The smallest HTTP adapter for a bolt App, to check bolt accepts the generated payloads."""

    def __init__(self, app: App) -> None:
        super().__init__()
        self.app = app

    def handle(self, request: HTTPRequest) -> HTTPResponse:
        bolt_request = BoltRequest(body=request.body.decode(), headers=dict(request.headers))
        response = self.app.dispatch(bolt_request)
        content_type = response.headers.get("content-type", ["text/plain;charset=utf-8"])[0]
        return HTTPResponse(
            status=response.status, body=response.body.encode(), content_type=content_type
        )


def test_bolt_app_accepts_generated_requests(slack: FakeSlackServer) -> None:
    app = App(
        client=WebClient(token="xoxb-test", base_url=slack.base_url),
        signing_secret=SECRET,
    )
    seen: dict[str, Any] = {}

    @app.command("/accord")
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        ack(f"got {command['text']}")

    @app.action("approve")
    def on_action(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        seen["action"] = (action["value"], body["container"]["type"])
        ack()

    @app.view("edit")
    def on_view(ack: Ack, view: dict[str, Any]) -> None:
        value = view["state"]["values"]["title"]["input"]["value"]
        ack(response_action="errors", errors={"title": f"bad: {value}"})

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Say) -> None:
        say(f"hello {event['user']}")

    with _BoltAdapter(app) as adapter:
        client = SignedSlackClient(adapter.root_url, SECRET)
        assert client.command("status", user_id="U1").body == "got status"
        assert client.block_action("approve", "7", user_id="U1").status == 200
        home = {"id": "VHOME", "type": "home"}
        assert client.block_action("approve", "8", user_id="U1", view=home).status == 200
        values = {"title": {"input": {"type": "plain_text_input", "value": "x"}}}
        submitted = client.view_submission("edit", values, user_id="U1")
        assert submitted.json() == {"response_action": "errors", "errors": {"title": "bad: x"}}
        assert client.event({"type": "app_mention", "user": "U1", "channel": "C1"}).status == 200
        assert client.command("x", user_id="U1", timestamp=int(time.time()) - 600).status == 401

        posted = slack.wait_for("chat.postMessage")[0]
        assert posted.body == {"channel": "C1", "text": "hello U1", "team_id": "T0ACCORD"}
    assert seen["action"] == ("8", "view")
