"""Each input the fuzzing turned into "Something went wrong" (or let through unchecked), now an
answer that says what was wrong — through signed HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import text as sql

from bot.db import session_scope
from bot.domain.initiatives import Initiative
from bot.domain.risk_export import ExportFormat, export_risks
from bot.domain.risks import RiskAcceptance
from tests.harness import CIO, CISO, RunningAccord, reply_text
from tests.slack.test_risks import _accept, click, count
from tests.slack.test_transport import initiatives

INTERNAL = "Something went wrong"


def _risk_form(expires: str, likelihood: str = "2") -> dict[str, Any]:
    return {
        "title": {"value": {"type": "plain_text_input", "value": "Shared admin account"}},
        "likelihood": {
            "value": {"type": "static_select", "selected_option": {"value": likelihood}}
        },
        "impact": {"value": {"type": "static_select", "selected_option": {"value": "3"}}},
        "expires": {"value": {"type": "datepicker", "selected_date": expires}},
    }


def test_an_impossible_date_in_a_form_marks_the_field(accord: RunningAccord) -> None:
    reply = accord.slack.view_submission(
        "risk.create", _risk_form("2026-02-30"), user_id=CIO, private_metadata="{}"
    )
    assert reply.json()["response_action"] == "errors"
    assert "`2026-02-30` is not a valid expires date" in reply.json()["errors"]["expires"]
    edit = accord.slack.view_submission(
        "initiative.create",
        {
            "title": {"value": {"type": "plain_text_input", "value": "Leap"}},
            "due": {"value": {"type": "datepicker", "selected_date": "2027-02-29"}},
        },
        user_id=CIO,
        view_id="V0LEAP",
    )
    assert "not a valid due date" in edit.json()["errors"]["due"]
    assert count(accord, RiskAcceptance) == 0
    assert initiatives(accord) == 0


def test_a_superscript_digit_is_not_a_number(accord: RunningAccord) -> None:
    typed = accord.command_text("risk new VPN likelihood:² impact:2 expires:2027-01-31")
    assert "`²` is not a valid likelihood: it is a whole number from 1 to 5" in typed
    chosen = accord.slack.view_submission(
        "risk.create", _risk_form("2027-01-31", likelihood="²"), user_id=CIO
    )
    assert "from 1 to 5" in chosen.json()["errors"]["likelihood"]
    listed = accord.command_text("disagree list page:²")
    assert "is not a page number" in listed
    assert count(accord, RiskAcceptance) == 0


def test_ids_beyond_any_record_are_no_such_record(accord: RunningAccord) -> None:
    for text, answer in (
        ("initiative show INI-99999999999999999999", "There is no INI-99999999999999999999"),
        ("risk show RSK-9223372036854775808", "There is no RSK-9223372036854775808"),
        ("risk approve RSK-2147483648", "There is no RSK-2147483648"),
        ("touchpoint done A-99999999999999999999", "There is no action item A-"),
    ):
        shown = accord.command_text(text)
        assert answer in shown, text
        assert INTERNAL not in shown
    assert "There is no INI-2147483647" in accord.command_text("initiative show INI-2147483647")
    button = click(accord, "risk.show", "9223372036854775808", CIO)
    assert "out of date" in button


def test_nul_and_escape_characters_are_removed_where_text_enters(accord: RunningAccord) -> None:
    made = accord.command_text("initiative new Nul\x00in\x1b[2J a \x85title due:2026-12-31")
    assert "INI-1" in made
    accord.slack.view_submission(
        "risk.create",
        {
            **_risk_form("2027-01-31"),
            "title": {"value": {"type": "plain_text_input", "value": "Esc\x1b]0;owned\x07 title"}},
            "controls": {"value": {"type": "plain_text_input", "value": "line 1\r\nline\t2\x00"}},
        },
        user_id=CIO,
        private_metadata='{"channel": "C0\\u0000COORD"}',
    )
    accord.wait_idle()
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        risk = session.get(RiskAcceptance, 1)
        assert initiative is not None and risk is not None
        assert initiative.title == "Nulin[2J a title"
        assert risk.title == "Esc]0;owned title"
        assert risk.controls == "line 1\nline\t2"  # multi-line text keeps its breaks and tabs


def test_the_snooze_button_obeys_the_commands_bound(accord: RunningAccord) -> None:
    _accept(accord)
    for value in ("1:99999", "1:0", "1:²", "1:-3"):
        answer = click(accord, "risk.snooze", value, CISO)
        assert "is not a valid number of days: it is a whole number from 1 to 30" in answer, value
    assert count(accord, RiskAcceptance, RiskAcceptance.snoozed_until.isnot(None)) == 0  # type: ignore[union-attr]
    typed = accord.command_text("risk snooze RSK-1 99999", user=CISO)
    assert "from 1 to 30" in typed
    assert "snoozed until" in click(accord, "risk.snooze", "1:7", CISO)


def test_exports_carry_no_control_characters_even_from_old_rows(accord: RunningAccord) -> None:
    accord.command("risk new Export me likelihood:2 impact:2 expires:2027-01-31", user=CIO)
    with accord.services.engine.begin() as connection:  # a row stored before input was cleaned
        connection.execute(
            sql("UPDATE risk_acceptance SET title = :t"), {"t": "Old\x1b[31m\x9brow"}
        )
    with session_scope(accord.services.engine) as session:
        as_csv = export_risks(session, ExportFormat.CSV)
        as_json = export_risks(session, ExportFormat.JSON)
    row = next(csv.DictReader(io.StringIO(as_csv)))
    assert row["title"] == "Old[31mrow"
    assert json.loads(as_json)["risks"][0]["title"] == "Old[31mrow"
    for text in (as_csv, as_json):
        assert "\x1b" not in text and "\x9b" not in text
    reply = reply_text(accord.command("risk export csv", user=CIO).json())
    assert "accord-risks-" in reply
    accord.fake.wait_for("files.completeUploadExternal")
    uploaded = next(iter(accord.fake.uploaded_files().values()))
    assert b"\x1b" not in uploaded and "\x9b".encode() not in uploaded
