"""`accord gate check` against the real running server: exit 0 allowed, 3 held, 2 refused or
unreachable (fail closed), 0 unreachable with --fail-open."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from bot.cli import app
from tests.gate.helpers import new_token
from tests.harness import CISO, RunningAccord

runner = CliRunner()


def gate_check(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["gate", "check", *args], env=env or {})


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_exit_codes_follow_the_gate(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    token = new_token(accord)
    accord.command_text("initiative new Patch covers:payments-api@production", user=CISO)
    target = ["--service", "payments-api", "--environment", "production"]
    env = {"ACCORD_GATE_URL": accord.root_url, "ACCORD_GATE_TOKEN": token}

    allowed = gate_check(*target, "--version", "v1.2.3", env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "allowed" in allowed.output

    accord.command_text("initiative hold INI-1 unpatched CVE on the edge", user=CISO)
    held = gate_check(*target, "--url", accord.root_url, "--token", token)
    assert held.exit_code == 3
    assert "HELD: payments-api@production" in held.output
    assert "INI-1 Patch: unpatched CVE on the edge" in held.output
    assert f"placed by {CISO}" in held.output

    refused = gate_check(*target, env={**env, "ACCORD_GATE_TOKEN": token + "-wrong"})
    assert refused.exit_code == 2
    assert "refused the token" in refused.output
    # A refused token is not "unreachable": --fail-open does not open the gate for it.
    assert gate_check(*target, "--fail-open", env={**env, "ACCORD_GATE_TOKEN": "x"}).exit_code == 2


def test_an_unreachable_server_fails_closed_unless_told_to_fail_open() -> None:
    url = closed_port_url()
    target = ["--service", "payments-api", "--environment", "production"]
    down = gate_check(*target, "--url", url, "--token", "t", "--timeout", "2")
    assert down.exit_code == 2
    assert "failing closed" in down.output
    opened = gate_check(*target, "--url", url, "--token", "t", "--fail-open")
    assert opened.exit_code == 0
    assert "--fail-open: allowing payments-api@production unchecked" in opened.output
    assert gate_check(*target).exit_code == 2  # no URL or token at all
