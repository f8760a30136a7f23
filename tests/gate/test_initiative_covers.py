"""What an initiative covers: set in the command, the form and `update`; shown where it is read."""

from __future__ import annotations

import json

from bot.db import session_scope
from bot.domain.initiatives import Initiative
from tests.harness import CISO, RunningAccord


def covers_of(accord: RunningAccord, number: int) -> list[str]:
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, number)
        assert initiative is not None
        return [str(cover) for cover in initiative.covers]


def test_new_and_update_set_what_an_initiative_covers(accord: RunningAccord) -> None:
    created = accord.command_text(
        "initiative new Patch the edge covers:Payments-API@production "
        "covers:github:acme/payments@*,ledger@staging"
    )
    assert "`github:acme/payments@*`" in created and "`payments-api@production`" in created
    assert covers_of(accord, 1) == [
        "github:acme/payments@*",
        "ledger@staging",
        "payments-api@production",
    ]

    updated = accord.command_text("initiative update INI-1 covers:ledger@staging,ledger@prod")
    assert "`ledger@prod`" in updated and "payments-api" not in updated
    assert covers_of(accord, 1) == ["ledger@prod", "ledger@staging"]
    trail = accord.command_text("initiative audit INI-1")
    assert "ledger@prod" in trail

    accord.command_text("initiative update INI-1 covers:none")
    assert covers_of(accord, 1) == []


def test_a_malformed_cover_is_refused_with_the_correct_form(accord_sqlite: RunningAccord) -> None:
    text = accord_sqlite.command_text("initiative new Patch the edge covers:payments-api")
    assert "needs an environment after `@`" in text
    assert "covers:payments-api@production" in text
    text = accord_sqlite.command_text("initiative new Patch covers:pay$ments@prod")
    assert "is not a service name" in text
    with session_scope(accord_sqlite.services.engine) as session:
        assert session.get(Initiative, 1) is None


def test_the_form_sets_covers_and_a_hold_shows_what_it_blocks(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Rotate signing keys"}},
        "covers": {
            "value": {"type": "plain_text_input", "value": "payments-api@production ledger@*"}
        },
    }
    reply = accord.slack.view_submission(
        "initiative.create", values, user_id=CISO, private_metadata="{}"
    )
    assert reply.status == 200 and reply.json() == {}
    assert covers_of(accord, 1) == ["ledger@*", "payments-api@production"]

    bad = accord.slack.view_submission(
        "initiative.create",
        {**values, "covers": {"value": {"type": "plain_text_input", "value": "ledger"}}},
        user_id=CISO,
        private_metadata="{}",
        view_id="V2",
    )
    assert bad.json()["response_action"] == "errors"
    assert "covers" in bad.json()["errors"]

    accord.command("initiative hold INI-1 leaked key", user=CISO)
    accord.slack.event({"type": "app_home_opened", "user": CISO, "tab": "home"})
    home = json.dumps(accord.fake.wait_for("views.publish")[0].body["view"])
    assert "blocks `ledger@*` `payments-api@production`" in home


def test_the_agenda_names_what_a_hold_blocks(accord_sqlite: RunningAccord) -> None:
    from datetime import timedelta

    from bot.domain.agenda import initiatives_needing_attention

    accord_sqlite.command_text("initiative new Patch the edge covers:payments-api@production")
    accord_sqlite.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    now = accord_sqlite.clock.now()
    with session_scope(accord_sqlite.services.engine) as session:
        section = initiatives_needing_attention(
            session, today=now.date(), window_end=now + timedelta(days=7)
        )
    assert [item.text for item in section.items] == [
        "Patch the edge (blocks payments-api@production)"
    ]
