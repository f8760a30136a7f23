"""Requests are checked on the raw bytes before bolt parses them, and refusals leave no body
in the log: unsigned, stale, forged, oversized and malformed requests through the real server."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode, urlsplit

import pytest
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import build_web_client
from bot.logs import JsonFormatter, configure_logging
from bot.slack.app import build_app
from bot.web import MAX_BODY_BYTES, SERVER_BODY_LIMIT
from tests.harness import CIO, SIGNING_SECRET, RunningAccord
from tests.slack.test_transport import command_body, initiatives

FORM = "application/x-www-form-urlencoded"
MARKER = "UNSIGNED-BODY-MARKER-7f3a"
#: A body that tries to forge a log line of its own if it were ever logged raw.
FORGED_LINE = f'\n{{"level":"INFO","message":"{MARKER} approved RSK-1"}}\n'


class LogLines:
    """Every line the root logger writes, as production writes it (JSON, one per line)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    captured = LogLines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # stricter than production (INFO): nothing may log the body
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _big_unsigned_body() -> bytes:
    payload = json.dumps({"type": "block_actions", "note": MARKER + FORGED_LINE})
    body = ("payload=" + quote(payload)).encode()
    return body + b"&pad=" + b"x" * (2 * 1024 * 1024 - len(body))


def _accord_lines(lines: list[str]) -> list[str]:
    """Lines Accord writes; waitress's "Task queue depth" warnings are about its threads."""
    return [line for line in lines if not json.loads(line)["logger"].startswith("waitress")]


def _assert_one_short_line_without_the_body(before: list[str], after: list[str]) -> None:
    added = after[len(before) :]
    assert len(_accord_lines(added)) <= 1, added
    for line in added:
        assert len(line) < 200, line
        assert json.loads(line)["level"] in ("INFO", "WARNING")
    assert not any(MARKER in line for line in after)


def test_an_unsigned_2mb_body_gets_401_and_one_short_line(
    accord_sqlite: RunningAccord, log_lines: LogLines
) -> None:
    body = _big_unsigned_body()
    assert len(body) > MAX_BODY_BYTES
    before = log_lines.lines()
    reply = accord_sqlite.slack.send_raw(body, content_type=FORM, signed=False)
    assert reply.status == 401
    assert MARKER not in reply.body
    _assert_one_short_line_without_the_body(before, log_lines.lines())


def test_a_malformed_unsigned_payload_gets_401_not_500(
    accord_sqlite: RunningAccord, log_lines: LogLines
) -> None:
    before = log_lines.lines()
    for body in (
        f"payload=%7B{MARKER}".encode(),
        f"payload=[{MARKER}]".encode(),
        b"\xff\xfe" + MARKER.encode(),
    ):
        forged = accord_sqlite.slack.send_raw(body, content_type=FORM, signature="v0=" + "0" * 64)
        assert forged.status == 401, body
        unsigned = accord_sqlite.slack.send_raw(body, content_type=FORM, signed=False)
        assert unsigned.status == 401, body
    lines = log_lines.lines()
    assert len(_accord_lines(lines)) - len(_accord_lines(before)) <= 6  # one per refused request
    assert not any(MARKER in line for line in lines)


@pytest.mark.parametrize(
    "timestamp",
    ["abc", "1e9", "+1700000000", "1_700_000_000", "²", "99999999999999999999999", "-5", "0"],
)
def test_a_bad_timestamp_header_gets_401(
    accord_sqlite: RunningAccord, log_lines: LogLines, timestamp: str
) -> None:
    body = command_body(f"initiative new {MARKER}")
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    before = log_lines.lines()
    reply = accord_sqlite.slack.send_raw(
        body,
        content_type=FORM,
        signed=False,
        extra_headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature},
    )
    assert reply.status == 401
    _assert_one_short_line_without_the_body(before, log_lines.lines())
    assert initiatives(accord_sqlite) == 0


def test_a_stale_correctly_signed_request_gets_401(accord_sqlite: RunningAccord) -> None:
    body = command_body("initiative new Replayed")
    stale = int(time.time()) - 5 * 60 - 5
    reply = accord_sqlite.slack.send_raw(
        body, content_type=FORM, timestamp=stale, signature=accord_sqlite.slack.sign(body, stale)
    )
    assert reply.status == 401
    assert initiatives(accord_sqlite) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=not-json", FORM),
        (b"payload=%5B1%2C2%5D", FORM),  # a JSON list, not an object
        (b'payload="text"', FORM),
        (b"[1, 2]", "application/json"),
        (b"{not json", "application/json"),
        (b"\xff\xfepayload=1", FORM),  # not UTF-8
    ],
)
def test_a_signed_malformed_payload_gets_400(
    accord_sqlite: RunningAccord, body: bytes, content_type: str
) -> None:
    now = int(time.time())
    base = f"v0:{now}:".encode() + body  # signed over the raw bytes, even those not UTF-8
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    reply = accord_sqlite.slack.send_raw(
        body, content_type=content_type, timestamp=now, signature=signature
    )
    assert reply.status == 400
    assert json.loads(reply.body) == {"error": "malformed body"}


def test_a_signed_body_over_the_cap_gets_413(accord_sqlite: RunningAccord) -> None:
    text = "x" * (MAX_BODY_BYTES + 10)
    reply = accord_sqlite.slack.send_raw(command_body(text), content_type=FORM)
    assert reply.status == 413
    assert initiatives(accord_sqlite) == 0


def test_the_server_refuses_a_huge_body_before_it_arrives(accord_sqlite: RunningAccord) -> None:
    """Waitress answers from the declared length alone; the client never sends the body."""
    address = urlsplit(accord_sqlite.url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: accord\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {SERVER_BODY_LIMIT + 1}\r\n\r\n".encode()
        )
        answer = connection.recv(200)
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_correctly_signed_command_still_works(accord_sqlite: RunningAccord) -> None:
    assert "INI-1" in accord_sqlite.command_text("initiative new Still works")


def test_other_paths_and_methods_get_404(accord_sqlite: RunningAccord) -> None:
    other = accord_sqlite.slack.send_raw  # same client, other URL
    accord_sqlite.slack.base_url = accord_sqlite.url.replace("/slack/events", "/slack/other")
    try:
        assert other(b"", content_type=FORM).status == 404
    finally:
        accord_sqlite.slack.base_url = accord_sqlite.url


def test_bolt_alone_never_logs_an_unsigned_body(
    accord_sqlite: RunningAccord, log_lines: LogLines
) -> None:
    """Even if a request reached bolt without our check (another adapter), bolt's
    RequestVerification logs nothing at any root level, because bolt is given its logger."""
    services = accord_sqlite.services
    bolt = build_app(services, client=build_web_client(services.settings), signing_secret="s")
    body = urlencode({"command": "/accord", "text": MARKER + FORGED_LINE, "user_id": CIO})
    response = bolt.dispatch(
        BoltRequest(
            body=body,
            headers={
                "content-type": FORM,
                "x-slack-request-timestamp": str(int(time.time())),
                "x-slack-signature": "v0=" + "0" * 64,
            },
        )
    )
    assert response.status == 401
    assert not any(MARKER in line for line in log_lines.lines())


def test_log_lines_are_json_and_a_newline_in_a_value_cannot_forge_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging()
        logging.getLogger("bot.test").warning(
            "user typed %s", "ok\r\n" + '{"level":"INFO","message":"forged"}\u2028x'
        )
        logging.getLogger("slack_bolt.RequestVerification").info("body: %s", MARKER)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "bot.test"
    assert entry["message"].startswith("user typed ok\r\n")
    assert MARKER not in lines[0]
