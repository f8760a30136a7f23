"""`/accord audit verify` over signed HTTP (admins only) and the chain head in the digest."""

from __future__ import annotations

import re

import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import app
from bot.db import session_scope
from bot.domain.audit_chain import chain_head
from tests.harness import ADMIN, CIO, CISO, OUTSIDER, RunningAccord, reply_text


def seed(accord: RunningAccord) -> None:
    accord.command("initiative new Roll out MFA due:2026-12-31 #iam")
    accord.command("initiative update INI-1 health:amber")
    accord.command("initiative hold INI-1 unpatched VPN appliance", user=CISO)


def test_an_admin_verifies_the_chain_and_sees_the_first_changed_event(
    accord: RunningAccord,
) -> None:
    seed(accord)
    reply = accord.command("audit verify", user=ADMIN)
    assert reply.status == 200
    assert reply.json()["response_type"] == "ephemeral"
    assert re.search(r"3 events verified, head #3 [0-9a-f]{64}", reply_text(reply.json()))

    engine = accord.services.engine
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        connection.execute(sa.text("UPDATE audit_event SET actor_id = 'U0CISO1' WHERE seq = 2"))
    text = accord.command_text("audit verify", user=ADMIN)
    assert "audit chain broken: event #2 (initiative.updated on INI-1 by U0CISO1" in text
    assert "was changed" in text
    # the server's CLI names the same event
    result = CliRunner().invoke(
        app, ["audit", "verify", "--database", accord.services.settings.database_url]
    )
    assert result.exit_code == 1 and "event #2 (initiative.updated" in result.output


def test_people_other_than_admins_are_refused_plainly(accord: RunningAccord) -> None:
    seed(accord)
    for person in (OUTSIDER, CIO):
        reply = accord.command("audit verify", user=person)
        assert reply.status == 200
        assert reply.json()["response_type"] == "ephemeral"
        text = reply_text(reply.json())
        assert "Only Accord admins can verify the audit chain." in text
        assert "events verified" not in text


def test_help_lists_verify_and_the_trail_of_a_record_still_works(accord: RunningAccord) -> None:
    seed(accord)
    assert "`/accord audit`" in accord.command_text("help")  # the index names the command
    help_text = accord.command_text("help audit")
    assert "/accord audit verify" in help_text and "/accord audit [INI-n" in help_text
    trail = accord.command_text("audit INI-1")
    assert "Audit trail · INI-1" in trail and "hold placed by" in trail


def test_each_digest_publishes_the_chain_head(accord: RunningAccord) -> None:
    seed(accord)
    before = len(accord.fake.calls("response_url"))
    accord.command("digest preview")
    follow = accord.fake.wait_for("response_url", before + 2)[before + 1].body
    with session_scope(accord.services.engine) as session:
        head = chain_head(session)
    assert head is not None and head.seq == 3
    shown = re.search(r"Audit chain head: #(\d+) ([0-9a-f]{16})…", reply_text(follow))
    assert shown is not None, reply_text(follow)
    assert (int(shown.group(1)), shown.group(2)) == (3, head.hash[:16])
    # what the digest shows is what `accord audit verify --head` checks against
    url = accord.services.settings.database_url
    token = f"{shown.group(1)}:{shown.group(2)}"
    result = CliRunner().invoke(app, ["audit", "verify", "--database", url, "--head", token])
    assert result.exit_code == 0, result.output
