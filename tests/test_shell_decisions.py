"""An executive decides in the shell and releases the hold with the value the form suggests."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_cli import run

HOLD_DECISION_SCRIPT = """\
/accord initiative new Segment OT network cio:@dave ciso:@bob due:2027-01-31
:as @bob
/accord initiative hold INI-1 the plant network is still flat
:as @dave
/accord disagree INI-1 We need two more weeks to finish the cut-over
:as @bob
/accord disagree position DIS-1 Every week of delay keeps the plant exposed
/accord escalate DIS-1 by:2026-12-10
:as @erin
:click {button}
:submit rationale="Extra staff; finish in one week" release_hold=release
:submit rationale="Extra staff; finish in one week" release_hold={value}
/accord initiative show INI-1
:quit
"""


def _button(out: str, label: str) -> str:
    found = re.search(r"\[(\d+): " + re.escape(label) + r"\]", out)
    assert found, out
    return found.group(1)


def test_the_hold_checkbox_takes_the_value_the_form_suggests(tmp_path: Path) -> None:
    probe = run(
        ["shell", "--database", str(tmp_path / "probe.db")],
        cwd=tmp_path,
        stdin=HOLD_DECISION_SCRIPT.format(button=0, value="yes"),
    )
    button = _button(probe.stdout, "Adopt the CISO-side position")
    result = run(
        ["shell", "--database", str(tmp_path / "d.db")],
        cwd=tmp_path,
        stdin=HOLD_DECISION_SCRIPT.format(button=button, value="yes"),
    )
    out = result.stdout
    assert "form opened: Decide ESC-1" in out
    assert "release_hold=<yes|no>" in out  # the form says what to type…
    # …a value it does not offer is refused, not read as "keep the hold" (as before)…
    assert "release_hold: `release` is not one of yes|no; the form is still open." in out
    assert "*ESC-1* decided by @erin" in out
    card = out[out.rindex("/accord initiative show INI-1") :]
    assert "Security hold" not in card  # …and typing it released the hold
    assert "Release hold" not in card  # erin (an executive) would be offered it while on
    assert "Traceback" not in out + result.stderr


FORM_SCRIPT = """\
/accord initiative
:submit titel="Made in a form"
:submit title="Made in a form" due=2026-02-30
:submit title="Made in a form" due=2027-02-01
:quit
"""


def test_a_form_in_the_shell_refuses_unknown_fields_and_impossible_dates(tmp_path: Path) -> None:
    result = run(["shell", "--database", str(tmp_path / "f.db")], cwd=tmp_path, stdin=FORM_SCRIPT)
    out = result.stdout
    assert "this form has no titel; its fields are title, description," in out
    assert "✗ due: `2026-02-30` is not a valid due date" in out
    assert out.count("Created *INI-") == 1 and "Created *INI-1*" in out
    assert "Traceback" not in out + result.stderr
