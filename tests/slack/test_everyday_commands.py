"""The commands people reach for first: who is on each side, help, hints and plain wording."""

from __future__ import annotations

import re

from tests.fakes.block_kit import block_text_length
from tests.harness import (
    ADMIN,
    ADMIN_2,
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    CISO_FROM_GROUP,
    CISO_GROUP,
    EXEC,
    EXECUTIVE_CHANNEL,
    OUTSIDER,
    RunningAccord,
    reply_text,
)


def test_roles_list_shows_who_is_on_each_side_and_why(accord: RunningAccord) -> None:
    assert "Role change #1 waits for a second admin" in accord.command_text(
        f"roles add cio <@{OUTSIDER}>", user=ADMIN
    )
    waiting = accord.command_text("roles list", user=CISO)
    assert f"#1: give the CIO side to <@{OUTSIDER}> — proposed by <@{ADMIN}>" in waiting
    assert "is in effect" in accord.command_text("roles confirm 1", user=ADMIN_2)
    text = accord.command_text("roles list", user=CISO)
    assert text == accord.command_text("roles", user=CISO)  # the hints' `/accord roles`
    cio = text[text.index("*CIO side* (3)") : text.index("*CISO side*")]
    assert f"<@{CIO}>, <@{CIO_2}> — from the settings" in cio
    assert f"<@{OUTSIDER}> — added by <@{ADMIN}> on 2026-11-25" in cio
    ciso = text[text.index("*CISO side* (3)") : text.index("*Executive*")]
    assert f"<@{CISO}>, <@{CISO_2}> — from the settings" in ciso
    assert f"user group `{CISO_GROUP}`: <@{CISO_FROM_GROUP}>" in ciso
    assert f"*Executive* (1)\n• <@{EXEC}> — from the settings" in text
    assert f"*Admin* (2)\n• <@{ADMIN}>, <@{ADMIN_2}> — from the settings" in text
    assert "*Waiting for a second admin*\n• _nothing_" in text


def test_whoami_shows_another_persons_side(accord: RunningAccord) -> None:
    other = accord.command_text(f"whoami <@{CISO_FROM_GROUP}|carol>", user=CIO)
    assert f"<@{CISO_FROM_GROUP}>: *CISO side*" in other and "They can:" in other
    assert "place a security hold" in other
    nobody = accord.command_text(f"whoami <@{OUTSIDER}>", user=CIO)
    assert "*no side yet*" in nobody and "add them to the CIO or CISO side" in nobody
    mine = accord.command_text("whoami", user=CIO)
    assert f"<@{CIO}>: *CIO side*" in mine and "You can:" in mine
    assert "is not a person" in accord.command_text("whoami bob", user=CIO)


def test_hints_quote_the_id_that_was_typed(accord: RunningAccord) -> None:
    accord.command("initiative new Roll out MFA")
    accord.command("risk new Old TLS likelihood:1 impact:1 expires:2027-01-31", user=CIO)
    accord.command('disagree INI-1 "not yet"', user=CIO)
    cases = {
        ("initiative hold INI-1", CISO): "`/accord initiative hold INI-1 &lt;reason&gt;`",
        ("initiative release ini-1", CISO): "`/accord initiative release INI-1 &lt;reason&gt;`",
        ("initiative update INI-1", CIO): "`/accord initiative update INI-1 status:",
        ("risk reject RSK-1", CISO): "`/accord risk reject RSK-1 &lt;reason&gt;`",
        ("risk revoke RSK-1", CISO): "`/accord risk revoke RSK-1 &lt;reason&gt;`",
        ("disagree position DIS-1", CISO): "`/accord disagree position DIS-1 &lt;position&gt;`",
    }
    for (command, user), expected in cases.items():
        text = accord.command_text(command, user=user)
        assert expected in text, (command, text)
        quoted = set(re.findall(r"\b(?:INI|RSK|DIS)-\d+\b", text))
        assert quoted <= {"INI-1", "RSK-1", "DIS-1"}, (command, text)


def test_the_audit_of_a_record_that_does_not_exist_says_so(accord: RunningAccord) -> None:
    accord.command("initiative new Roll out MFA")
    missing = accord.command_text("audit INI-9")
    assert "There is no INI-9" in missing and "Nothing recorded yet" not in missing
    assert "There is no RSK-4" in accord.command_text("audit RSK-4")
    assert "created by" in accord.command_text("audit INI-1")


def test_help_is_a_short_index_and_each_noun_has_its_own_page(accord_sqlite: RunningAccord) -> None:
    from bot.slack.commands import NOUNS
    from bot.slack.text import escape

    index = accord_sqlite.command("help").json()
    text = reply_text(index)
    assert len(index["blocks"]) <= 4 and block_text_length(index["blocks"]) < 2000
    assert "`/accord help risk`" in text and "/accord initiative new Roll out" not in text
    for noun in NOUNS:
        assert f"`/accord {noun.name}`" in text or noun.name == "help"
    risk = accord_sqlite.command_text("help risk")
    risk_noun = next(noun for noun in NOUNS if noun.name == "risk")
    for verb in risk_noun.verbs:
        assert f"e.g. `{escape(verb.example)}`" in risk, verb.example
    assert "/accord initiative new" not in risk
    assert "is not an Accord command" in accord_sqlite.command_text("help nonsense")


def test_days_and_states_read_as_words(accord: RunningAccord) -> None:
    accord.command("risk new Old TLS likelihood:1 impact:1 expires:2026-11-26", user=CIO)
    accord.command("risk new Legacy VPN likelihood:1 impact:1 expires:2026-12-05", user=CIO)
    listing = accord.command_text("risk list all")
    assert "expires 2026-11-26 (in 1 day)" in listing
    assert "expires 2026-12-05 (in 10 days)" in listing
    card = accord.command("risk show RSK-1").json()
    assert "2026-11-26 (in 1 day)" in reply_text(card)
    assert "pending_approval" not in card["text"] and "pending approval" in card["text"]
    accord.clock.advance(days=3)
    assert "2026-11-26 (2 days ago)" in accord.command_text("risk show RSK-1")
    assert "days)" not in accord.command_text("risk list all").replace("(in 7 days)", "")


def test_an_escalation_without_a_date_says_so_in_words(accord: RunningAccord) -> None:
    accord.command("initiative new Deploy the gateway")
    accord.command_text("disagree INI-1 we must go live on the 1st")
    accord.command_text("disagree position DIS-1 the CVE is exploitable", user=CISO)
    assert "as *ESC-1*" in accord.command_text("escalate DIS-1", user=CISO)
    accord.fake.wait_idle()
    briefs = [
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if call.body.get("channel") == EXECUTIVE_CHANNEL and not call.body.get("thread_ts")
    ]
    assert len(briefs) == 1
    brief = reply_text(briefs[0])
    assert "no decision date set" in brief and "none set" not in brief


def test_an_impossible_form_date_is_marked_on_its_field(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command("initiative")
    modal = accord.fake.wait_for("views.open")[0].body["view"]
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Made in a form"}},
        "due": {"value": {"type": "datepicker", "selected_date": "2026-02-30"}},
    }
    reply = accord.slack.view_submission(
        "initiative.create",
        values,
        user_id=CIO,
        private_metadata=modal["private_metadata"],
        blocks=modal["blocks"],  # so the check knows which blocks an error may name
    )
    assert reply.status == 200
    answer = reply.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["due"]
    assert "is not a valid due date" in answer["errors"]["due"]
    assert "All initiatives (0)" in accord.command_text("initiative list all")


def test_quotes_inside_a_title_are_kept(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    assert 'Rotate the "edge" keys' in accord.command_text('initiative new Rotate the "edge" keys')
    whole = accord.command_text('initiative new "Roll out MFA" #iam')
    assert "*INI-2*" in whole and "Roll out MFA" in whole and '"Roll out MFA"' not in whole
    held = accord.command_text('initiative hold INI-1 the "legacy" VPN is still up', user=CISO)
    assert 'the "legacy" VPN is still up' in held


def test_the_audit_trail_reads_as_names_and_words(accord: RunningAccord) -> None:
    accord.command(f"initiative new Roll out MFA cio:<@{CIO}|ann> #iam")
    accord.command(f"initiative update INI-1 owner-cio:<@{CIO_2}|cy> status:active")
    accord.command("initiative hold INI-1 legacy VPN still reachable", user=CISO)
    trail = accord.command_text("audit INI-1")
    assert f"cio owner: <@{CIO}> → <@{CIO_2}>" in trail
    assert "status: proposed → active" in trail
    assert "on hold: no → yes" in trail
    assert "tags: — → #iam" in trail
    for raw in ("True", "False", "['iam']", "None", "cio_owner"):
        assert raw not in trail, raw
