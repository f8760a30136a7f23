"""The entry points as a person runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DECISION_SCRIPT = """\
/accord initiative new Segment OT network cio:@dave ciso:@bob due:2027-01-31
:as @dave
/accord disagree INI-1 We need two more weeks to finish the cut-over
:as @bob
/accord disagree position DIS-1 Every week of delay keeps the plant exposed
/accord escalate DIS-1 by:2026-12-10
:as @erin
:click {button}
:submit rationale="Safety first; one more week with extra staff"
/accord initiative
:submit title="Made in a form" due=2027-02-01 cio_owner=@alice
:quit
"""

SCRIPT = """\
/accord help
/accord initiative new Roll out MFA <!channel> cio:@alice ciso:@bob due:2027-01-31 #iam
:as @bob
/accord initiative hold INI-1 legacy VPN still reachable
:as @dave
/accord initiative release INI-1 we are fine
/accord initiative list hold
:click 1
:home
:quit
"""


def run(args: list[str], *, cwd: Path, stdin: str = "", env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ACCORD_"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean,
        timeout=120,
        check=False,
    )


def test_shell_runs_a_scripted_session_as_several_people(tmp_path: Path) -> None:
    result = run(["shell", "--database", str(tmp_path / "demo.db")], cwd=tmp_path, stdin=SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Created *INI-1*" in out
    assert "Roll out MFA <!channel>" in out  # shown literally, as Slack would show escaped text
    assert "INI-1* is now on security hold" in out
    assert "Only the CISO side (or an executive on neither side) can release" in out
    assert "Initiatives on security hold (1)" in out
    # :click 1 pressed the first card's Update: @dave answers for nothing here, so no form
    assert "Only the people answerable for INI-1" in out and "form opened" not in out
    assert "App Home of @dave" in out
    assert "Traceback" not in out + result.stderr


def test_serve_without_credentials_names_the_missing_variable(tmp_path: Path) -> None:
    result = run(["serve"], cwd=tmp_path, env={"SLACK_SIGNING_SECRET": "s"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "accord: SLACK_BOT_TOKEN is not set; export it or add it to .env"
    )
    result = run(["socket"], cwd=tmp_path, env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN is not set" in result.stderr
    assert "xoxb-1" not in result.stderr + result.stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run(["db", "upgrade"], cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_one_person_can_take_an_executive_decision_and_fill_forms(tmp_path: Path) -> None:
    first = run(
        ["shell", "--database", str(tmp_path / "d.db")],
        cwd=tmp_path,
        stdin=DECISION_SCRIPT.format(button=0),
    )
    # Find the number the shell gave the "Adopt the CISO-side position" button.
    number = next(
        part.split(":")[0].lstrip("[")
        for line in first.stdout.splitlines()
        if "Adopt the CISO-side position]" in line
        for part in line.split("] ")
        if "Adopt the CISO-side position" in part
    )
    result = run(
        ["shell", "--database", str(tmp_path / "e.db")],
        cwd=tmp_path,
        stdin=DECISION_SCRIPT.format(button=number),
    )
    out = result.stdout
    assert "form opened: Decide ESC-1" in out
    assert "*ESC-1* decided by @erin: Adopt the CISO-side position" in out
    assert "Safety first; one more week with extra staff" in out
    assert "Created *INI-2*" in out
    assert "Made in a form" in out
    assert "Traceback" not in out + result.stderr


RISK_EXPORT_SCRIPT = """\
:as @bob
/accord risk new Legacy VPN likelihood:2 impact:2 expires:2027-01-31
/accord risk export json
:quit
"""

DIGEST_SCRIPT = """\
/accord initiative new Roll out MFA cio:@alice ciso:@bob due:2027-01-31
/accord digest preview
/accord digest now
:quit
"""


def test_shell_saves_the_risk_export(tmp_path: Path) -> None:
    result = run(
        ["shell", "--database", str(tmp_path / "r.db")], cwd=tmp_path, stdin=RISK_EXPORT_SCRIPT
    )
    assert result.returncode == 0, result.stderr
    files = list((tmp_path / "exports").glob("accord-risks-*.json"))
    assert len(files) == 1, result.stdout
    assert "Legacy VPN" in files[0].read_text()
    assert "Traceback" not in result.stdout + result.stderr


def test_shell_shows_digest_answers_in_slacks_order(tmp_path: Path) -> None:
    """The notice first, then the preview; for `now`: notice, confirmation, then the channel
    post (the digest leaves through the outbox once its transaction commits)."""
    result = run(["shell", "--database", str(tmp_path / "g.db")], cwd=tmp_path, stdin=DIGEST_SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    preview = out.index("/accord digest preview")
    now = out.index("/accord digest now")
    order = [
        out.index("Building a preview", preview),
        out.index("Accord digest — preview", preview),
        now,
        out.index("Building the digest for #leadership-digest", now),
        out.index("The digest is on its way to #leadership-digest", now),
        out.index("message in #leadership-digest", now),
    ]
    assert order == sorted(order)
    assert "Traceback" not in out + result.stderr
