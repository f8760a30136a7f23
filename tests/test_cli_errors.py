"""What a person sees when a setting or the database is wrong: one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import run

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/accord"
AUDIT_KEY = "audit-key-for-the-cli-tests-0123456789abcdef"
TOKENS = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s3cret",
    "SLACK_APP_TOKEN": "xapp-1",
    # PostgreSQL needs it (a missing key is refused first); without it no command gets as far
    # as the database.
    "ACCORD_AUDIT_KEY": AUDIT_KEY,
}


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["serve"], ["socket"], ["clock"], ["db", "upgrade"], ["export", "risks"]],
    ids=lambda c: " ".join(c),
)
def test_an_unreachable_database_is_one_line(tmp_path: Path, command: list[str]) -> None:
    result = run(command, cwd=tmp_path, env={**TOKENS, "DATABASE_URL": UNREACHABLE})
    assert result.returncode == 2
    reading = "accord: reading postgresql+psycopg://nobody@127.0.0.1:1/accord\n"
    line = _one_line(result.stderr.removeprefix(reading))  # exports say what they read first
    assert line.startswith(
        "accord: cannot use the database postgresql+psycopg://nobody@127.0.0.1:1/accord ("
    ), line
    assert line.endswith("check DATABASE_URL and that the database server is running and reachable")
    assert "xoxb-1" not in result.stderr + result.stdout
    assert AUDIT_KEY not in result.stderr + result.stdout


def test_a_database_url_that_is_not_one_says_so(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], cwd=tmp_path, env={"DATABASE_URL": "accord.db"})
    assert result.returncode == 2
    assert "is not a database URL Accord can use" in _one_line(result.stderr)


def test_every_missing_and_malformed_setting_is_named_at_once(tmp_path: Path) -> None:
    result = run(["serve"], cwd=tmp_path)
    assert result.returncode == 2
    assert _one_line(result.stderr) == (
        "accord: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set; "
        "export them or add them to .env"
    )
    bad = {**TOKENS, "PORT": "abc", "ACCORD_LLM_TIMEOUT_SECONDS": "soon"}
    for command in (["serve"], ["clock"], ["socket"], ["export", "risks"]):
        result = run(command, cwd=tmp_path, env=bad)
        assert result.returncode == 2
        line = _one_line(result.stderr)
        assert "PORT: input should be a valid integer" in line and "(got 'abc')" in line
        assert "ACCORD_LLM_TIMEOUT_SECONDS: input should be a valid number" in line, line


def test_start_up_warns_about_names_in_side_settings(tmp_path: Path) -> None:
    env = {"ACCORD_CIO_SIDE": "alice,U0REAL", "ACCORD_CISO_SIDE": "S0GROUP,bob"}
    result = run(["serve"], cwd=tmp_path, env=env)
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "accord: warning: ACCORD_CIO_SIDE lists `alice`, which is not a Slack member or "
        "user-group id (U…, W… or S…), so nobody matches; copy the member id from the "
        "person's Slack profile (⋮ → Copy member ID)",
        "accord: warning: ACCORD_CISO_SIDE lists `bob`, which is not a Slack member or "
        "user-group id (U…, W… or S…), so nobody matches; copy the member id from the "
        "person's Slack profile (⋮ → Copy member ID)",
    ]
    assert "Traceback" not in result.stderr


SHELL_SCRIPT = """\
:as @bob
/accord risk new Legacy VPN likelihood:2 impact:2 expires:2027-01-31
:quit
"""


def test_export_after_a_shell_session_reads_the_database_it_is_given(tmp_path: Path) -> None:
    shell = run(["shell"], cwd=tmp_path, stdin=SHELL_SCRIPT)
    assert shell.returncode == 0 and (tmp_path / "accord-shell.db").exists(), shell.stderr
    plain = run(["export", "risks", "--format", "json"], cwd=tmp_path)
    assert plain.returncode == 2
    assert _one_line(plain.stderr) == (
        f"accord: there is no Accord database at {tmp_path / 'accord.db'}. `accord shell` "
        "keeps its records in accord-shell.db: add --database accord-shell.db."
    )
    assert not (tmp_path / "accord.db").exists()  # the export did not create an empty one
    given = run(
        ["export", "risks", "--format", "json", "--database", "accord-shell.db"], cwd=tmp_path
    )
    assert given.returncode == 0, given.stderr
    assert "Legacy VPN" in given.stdout
    assert _one_line(given.stderr) == f"accord: reading sqlite:///{tmp_path / 'accord-shell.db'}"


def test_every_export_from_the_server_is_an_audit_event(tmp_path: Path) -> None:
    """`accord export risks|attack-layer` leave a `register.exported` event naming the
    operating-system account, the file and how many records left; the chain still verifies."""
    import sqlite3

    shell = run(["shell"], cwd=tmp_path, stdin=SHELL_SCRIPT)
    assert shell.returncode == 0, shell.stderr
    database = ["--database", "accord-shell.db"]
    out = tmp_path / "risks.csv"
    assert run(["export", "risks", *database, "--output", str(out)], cwd=tmp_path).returncode == 0
    layer = run(["export", "attack-layer", *database], cwd=tmp_path)
    assert layer.returncode == 0, layer.stderr
    with sqlite3.connect(tmp_path / "accord-shell.db") as db:
        rows = db.execute(
            "SELECT actor_id, record_ref, after FROM audit_event "
            "WHERE action = 'register.exported' ORDER BY seq"
        ).fetchall()
    assert [row[1] for row in rows] == ["REGISTER", "REGISTER"]
    assert all(row[0].startswith("cli:") for row in rows)
    assert '"via": "accord export risks"' in rows[0][2] and str(out) in rows[0][2]
    assert '"records": 1' in rows[0][2]
    assert '"via": "accord export attack-layer"' in rows[1][2]
    verified = run(["audit", "verify", *database], cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
