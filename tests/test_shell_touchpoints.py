"""Touchpoints in the shell, as a person runs them: the organiser's time zone, the channel
check and the calendar file come from the same Workspace as in Slack (over the local stand-in)."""

from __future__ import annotations

import re
from pathlib import Path

from icalendar import Calendar

from tests.test_cli import run

SCRIPT = """\
:as @dave
/accord touchpoint new Sync every:weekly at:09:00 with:@dave,@bob
/accord touchpoint new Elsewhere every:weekly at:09:00 with:@dave,@bob channel:#random
/accord touchpoint ics TP-1
/accord touchpoint list
:quit
"""


def test_shell_touchpoints_use_the_workspace(tmp_path: Path) -> None:
    result = run(["shell", "--database", str(tmp_path / "t.db")], cwd=tmp_path, stdin=SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr

    # No tz: given, so the organiser's profile zone (dave is in New York) is used.
    assert "Created *TP-1*" in out
    assert "at 09:00 America/New_York" in out
    # Dates read as their fallback text, not as Slack markup.
    assert "@date^" not in out and "{date_short_pretty}" not in out
    assert re.search(r"• \w{3} \d{4}-\d{2}-\d{2} 09:00 America/New_York", out), out

    # Accord was never invited to #random: the series is refused, nothing is created.
    assert "Accord is not a member of channel" in out
    assert "Created *TP-2*" not in out
    assert "Touchpoints (1)" in out

    # The calendar file is shared, and saved under ./exports.
    assert "Shared `tp-1.ics`" in out
    saved = tmp_path / "exports" / "tp-1.ics"
    assert saved.exists(), out
    calendar = Calendar.from_ical(saved.read_bytes())
    event = next(c for c in calendar.walk("VEVENT"))
    assert str(event["SUMMARY"]) == "TP-1 Sync"
    assert "FREQ=WEEKLY" in event["RRULE"].to_ical().decode()
