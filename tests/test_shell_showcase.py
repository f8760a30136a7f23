"""The README's tour, typed into the shell line by line, checking what each person sees: a risk
requested and approved by both sides, a disagreement escalated and decided with the hold
released, a touchpoint whose agenda comes with `:clock +1d`, a reply in the agenda's thread, and
the digest preview."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.shell.console import Shell


class Session:
    """One shell, driven a line at a time; `type` returns what that line printed."""

    def __init__(self, database: Path) -> None:
        self.out = io.StringIO()
        self.shell = Shell(database=database, out=self.out)

    def type(self, line: str) -> str:
        start = len(self.out.getvalue())
        assert self.shell.handle(line)
        return self.out.getvalue()[start:]

    def close(self) -> None:
        self.shell.close()


def button(output: str, label: str) -> str:
    found = re.search(rf"\[(\d+): {re.escape(label)}\]", output)
    assert found, f"no [{label}] button in:\n{output}"
    return found.group(1)


def message_number(output: str, where: str) -> str:
    found = re.search(rf"\[msg (\d+)\] message in {re.escape(where)}\n", output)
    assert found, f"no message in {where} in:\n{output}"
    return found.group(1)


def blocks_to(output: str, where: str) -> list[str]:
    """The text of each message shown in `where` (a channel or `DM with @name`)."""
    parts = re.split(r"(?m)^(?=┌─ |@\w+ #)", output)
    return [part for part in parts if re.match(rf"┌─ (\[msg \d+\] )?message in {where}", part)]


def test_the_readme_tour_in_the_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = Session(tmp_path / "tour.db")
    try:
        # A risk: requested by the CISO side, approved by one person of each side.
        run.type(":as @bob")
        asked = run.type(
            "/accord risk new Legacy VPN concentrator likelihood:2 impact:2 expires:2027-06-30"
        )
        [request] = blocks_to(asked, "#cio-ciso-coordination")
        assert "RSK-1" in request and "[1: Approve]" in request
        run.type(":as @alice")
        assert "You approved *RSK-1*" in run.type("/accord risk approve RSK-1 controls in place")
        run.type(":as @carol")
        approved = run.type("/accord risk approve RSK-1")
        assert "both sides have approved, so it is accepted" in approved
        [told] = blocks_to(approved, "DM with @bob")
        assert "Your request for *RSK-1* (round 1) was approved by both sides" in told

        # A held initiative, a disagreement about it, escalated, decided with the hold released.
        run.type("/accord initiative new Segment OT network cio:@dave ciso:@bob due:2027-01-31")
        run.type(":as @bob")
        held = run.type("/accord initiative hold INI-1 the plant network is reachable")
        [dave_told] = blocks_to(held, "DM with @dave")
        assert "@bob placed a security hold on INI-1 “Segment OT network”" in dave_told
        run.type(":as @dave")
        run.type("/accord disagree INI-1 We need two more weeks to finish the cut-over")
        run.type(":as @bob")
        run.type("/accord disagree position DIS-1 Every week of delay keeps the plant exposed")
        escalated = run.type("/accord escalate DIS-1 by:2027-01-10")
        [brief] = blocks_to(escalated, "#exec-decisions")
        assert "Decision needed · ESC-1" in brief and "INI-1 is on security hold" in brief
        run.type(":as @erin")
        form = run.type(f":click {button(brief, 'Adopt the CISO-side position')}")
        assert "form opened: Decide ESC-1" in form
        decided = run.type(
            ':submit rationale="Safety first; extra staff for a week" release_hold=yes'
        )
        assert "Form submitted." in decided
        updated = decided[decided.index("message updated in #exec-decisions") :]
        assert "Decided · ESC-1" in updated and "Decision needed" not in updated.split("┌─")[0]
        assert "security hold on *INI-1* was released by this decision" in updated
        for owner in ("@dave", "@bob"):
            notes = "".join(blocks_to(decided, f"DM with {owner}"))
            assert "Decision on ESC-1" in notes or "released the security hold" in notes, owner
        assert "@erin released the security hold on INI-1" in "".join(
            blocks_to(decided, "DM with @dave")
        )
        run.type(":as @bob")
        assert "Security hold" not in run.type("/accord initiative show INI-1")

        # A touchpoint: bob is told he was added; a day later the agenda is in the channel.
        run.type(":as @dave")
        created = run.type(
            '/accord touchpoint new Daily OT cut-over every:"FREQ=DAILY" at:09:00 lead:1h '
            "with:@dave,@bob"
        )
        assert "Every day at 09:00 America/New_York" in created
        [added] = blocks_to(created, "DM with @bob")
        assert "@dave added you to the touchpoint TP-1 “Daily OT cut-over”" in added
        later = run.type(":clock +1d")
        assert "The shell's clock is now" in later
        agendas = [m for m in blocks_to(later, "#cio-ciso-coordination") if "Agenda · TP-1" in m]
        assert agendas and "Posted late" not in agendas[0]
        agenda = message_number(later, "#cio-ciso-coordination")

        # A reply in the agenda's thread: the good lines are recorded, the bad one is named.
        run.type(":as @bob")
        replied = run.type(
            f":reply {agenda} decision: Cut over on Saturday night\\n"
            "action: Patch the jump host @dave due:2027-01-15\\naction: Someone should check"
        )
        [thread] = blocks_to(replied, r"#cio-ciso-coordination \(thread\)")
        assert "Decision recorded for TP-1: Cut over on Saturday night" in thread
        assert "*A-1* for TP-1: Patch the jump host — @dave" in thread
        assert "Line 3: An action item needs what is to be done and an @owner" in thread
        [given] = blocks_to(replied, "DM with @dave")
        assert "@bob gave you the action item A-1 from TP-1" in given

        # The digest preview, only for the person who asked.
        preview = run.type("/accord digest preview")
        assert "reply (only visible to you)" in preview and "Accord digest — preview" in preview
        assert "message in #leadership-digest" not in preview
    finally:
        run.close()


def test_submit_names_a_field_the_form_does_not_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = Session(tmp_path / "form.db")
    try:
        assert "form opened" in run.type("/accord initiative")
        refused = run.type(':submit title="Made in a form" owner=@alice')
        assert "this form has no owner; its fields are title," in refused
        assert "cio_owner" in refused and "The form is still open." in refused
        assert "Form submitted." in run.type(':submit title="Made in a form" cio_owner=@alice')
        assert "Made in a form" in run.type("/accord initiative list")
    finally:
        run.close()
