"""Initiatives through the signed-HTTP path, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.initiatives import Initiative
from tests.harness import (
    CIO,
    CIO_2,
    CISO,
    CISO_FROM_GROUP,
    EXEC,
    OUTSIDER,
    RunningAccord,
    mrkdwn_texts,
    reply_text,
)


def count(accord: RunningAccord, model: type) -> int:
    with session_scope(accord.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_new_initiative_is_acknowledged_fast_and_named(accord: RunningAccord) -> None:
    reply = accord.command(
        f"initiative new Roll out phishing-resistant MFA cio:<@{CIO}|ann> ciso:<@{CISO}|bo> "
        "due:2026-12-31 #iam #zero-trust"
    )
    assert reply.status == 200
    assert reply.elapsed < 1.5
    payload = reply.json()
    assert payload["response_type"] == "ephemeral"
    text = reply_text(payload)
    assert "INI-1" in text
    assert "Roll out phishing-resistant MFA" in text
    assert f"<@{CIO}>" in text and f"<@{CISO}>" in text
    assert "`#iam`" in text and "2026-12-31" in text
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None
        assert initiative.tags == ["iam", "zero-trust"]
        assert initiative.created_by == CIO


def test_list_show_update_hold_release_round_trip(accord: RunningAccord) -> None:
    accord.command("initiative new Segment the OT network due:2027-01-15 #network")
    accord.command("initiative new Retire TLS 1.0")

    listing = accord.command_text("initiative list")
    assert "INI-1" in listing and "INI-2" in listing and "Open initiatives (2)" in listing

    shown = accord.command_text("initiative show ini-2")
    assert "Retire TLS 1.0" in shown

    updated = accord.command_text(
        f"initiative update INI-2 status:active health:red due:2027-02-01 owner-ciso:<@{CISO}|b>"
    )
    assert "Updated *INI-2*" in updated and "red" in updated and f"<@{CISO}>" in updated

    held = accord.command_text("initiative hold INI-1 Unpatched firewall firmware", user=CISO)
    assert "on security hold" in held and "Unpatched firewall firmware" in held
    assert "INI-1" in accord.command_text("initiative list hold")

    refused = accord.command_text("initiative release INI-1 we need it", user=CIO)
    assert "Only the CISO side" in refused

    released = accord.command_text("initiative release INI-1 firmware patched", user=CISO)
    assert "released" in released

    trail = accord.command_text("audit INI-1")
    assert "hold placed by" in trail and "hold released by" in trail
    assert "firmware patched" in trail


def test_group_member_and_executive_rights(accord: RunningAccord) -> None:
    accord.command("initiative new Harden build servers")
    held = accord.command_text("initiative hold INI-1 supply-chain finding", user=CISO_FROM_GROUP)
    assert "on security hold" in held
    assert accord.fake.calls("usergroups.users.list")
    released = accord.command_text("initiative release INI-1 decided by COO", user=EXEC)
    assert "released" in released


def test_outsider_cannot_create(accord: RunningAccord) -> None:
    text = accord.command_text("initiative new Sneaky", user=OUTSIDER)
    assert "Only members of the CIO or CISO side" in text
    assert count(accord, Initiative) == 0


def test_bad_input_gets_a_helpful_reply_and_changes_nothing(accord: RunningAccord) -> None:
    accord.command("initiative new Baseline")
    events_before = count(accord, AuditEvent)
    cases = {
        "initiative show INI-99": "There is no INI-99",
        "initiative update INI-1 due:2026-13-45": "is not a valid due date",
        "initiative update INI-1 status:paused": "is not a valid status",
        "initiative new   due:2027-01-01": "The title cannot be empty",
        "initiative update RSK-1 status:active": "is not a valid id",
        "initiative frobnicate": "is not something `/accord initiative` can do",
        "initiative update INI-1 cheerful": "did not understand",
        "initiative hold INI-1": "Say why",
        "nonsense": "is not an Accord command",
        "initiative new " + "x" * 200: "the limit is 150",
        f"initiative new Swapped owners cio:<@{CISO}|b>": "must be on the CIO side",
        f"initiative update INI-1 owner-ciso:<@{CIO}|a>": "must be on the CISO side",
        "initiative new Bad owner cio:alice": "needs a @mention",
    }
    for command, expected in cases.items():
        reply = accord.command(command, user=CISO)
        assert reply.status == 200
        payload = reply.json()
        assert payload.get("response_type") == "ephemeral", command
        text = reply_text(payload)
        assert expected in text, (command, text)
        assert "Traceback" not in text
    assert count(accord, Initiative) == 1
    assert count(accord, AuditEvent) == events_before


def test_user_text_is_escaped_so_nobody_is_pinged(accord: RunningAccord) -> None:
    # With should_escape, Slack sends a typed "<!channel>" as entities and "@channel" as markup.
    reply = accord.command("initiative new Fix &lt;!channel&gt; now <!here> &amp; <@U0EVIL|boss>")
    parsed_by_slack = "\n".join(mrkdwn_texts(reply.json()))
    for markup in ("<!channel>", "<!here>", "<@U0EVIL"):
        assert markup not in parsed_by_slack
    text = reply_text(reply.json())
    assert "Fix &lt;!channel&gt; now @here &amp; @boss" in text
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None
        assert initiative.title == "Fix <!channel> now @here & @boss"


def test_three_hundred_initiatives_paginate_within_block_kit_limits(accord: RunningAccord) -> None:
    from datetime import UTC, datetime

    from bot.domain.initiatives import InitiativeDraft, create_initiative
    from bot.domain.roles import Actor, Role

    actor = Actor(user_id=CIO, roles=frozenset({Role.CIO}))
    with session_scope(accord.services.engine) as session:
        for number in range(300):
            create_initiative(
                session,
                actor=actor,
                draft=InitiativeDraft(title=f"Initiative {number} " + "&" * 120, cio_owner_id=CIO),
                now=datetime(2026, 11, 25, tzinfo=UTC),
            )
    first = accord.command("initiative list all").json()
    assert len(first["blocks"]) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in first["blocks"])
    assert "Showing 1–20 of 300" in reply_text(first)
    next_button = [
        element
        for block in first["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "initiative.page.next"
    ][0]
    reply = accord.slack.block_action(next_button["action_id"], next_button["value"], user_id=CIO)
    assert reply.status == 200
    page_two = accord.fake.wait_for("response_url")[0].body
    assert page_two["replace_original"] is True
    assert "Showing 21–40 of 300" in reply_text(page_two)
    # A middle page: Previous and Next side by side, each with its own action id.
    middle = {
        element["text"]["text"]: element
        for block in page_two["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }
    assert [b["action_id"] for b in middle.values()] == [
        "initiative.page.previous",
        "initiative.page.next",
    ]
    accord.slack.block_action(middle["Next ▶"]["action_id"], middle["Next ▶"]["value"], user_id=CIO)
    page_three = accord.fake.wait_for("response_url", count=2)[1].body
    assert "Showing 41–60 of 300" in reply_text(page_three)
    last = json.dumps({"f": "all", "t": None, "p": 15})
    accord.slack.block_action("initiative.page.previous", last, user_id=CIO)
    last_page = accord.fake.wait_for("response_url", count=3)[2].body
    assert "Showing 281–300 of 300" in reply_text(last_page)

    accord.slack.event({"type": "app_home_opened", "user": CIO, "tab": "home"})
    home = accord.fake.wait_for("views.publish")[0].body["view"]
    assert len(home["blocks"]) <= 100
    assert "Your initiatives (300)" in reply_text(home)
    assert "and 290 more" in reply_text(home)


def test_a_typed_date_is_checked_in_the_persons_time_zone(accord: RunningAccord) -> None:
    """22:12 in New York on 1 December is 03:12 UTC on the 2nd: `due:2026-12-01` is today for
    the New Yorker and yesterday for someone in Berlin."""
    accord.fake.add_user(CIO, name="ann", tz="America/New_York")
    accord.fake.add_user(CIO_2, name="dave", tz="Europe/Berlin")
    accord.clock.set(datetime(2026, 12, 2, 3, 12, tzinfo=UTC))
    today_in_new_york = accord.command_text("initiative new NY work due:2026-12-01")
    assert "Created *INI-1*" in today_in_new_york and "in the past" not in today_in_new_york
    past_in_berlin = accord.command_text("initiative new Berlin work due:2026-12-01", user=CIO_2)
    assert "Created *INI-2*" in past_in_berlin
    assert "The due date 2026-12-01 is in the past" in past_in_berlin
    assert "Created *INI-3*" in accord.command_text("initiative new Later due:2026-12-09")
    updated = accord.command_text("initiative update INI-3 due:2026-12-01")
    assert "Updated" in updated and "in the past" not in updated
    late = accord.command_text("initiative update INI-3 due:2026-11-30")
    assert "Updated" in late and "The due date 2026-11-30 is in the past" in late


def test_imported_work_keeps_a_past_due_date_with_a_warning(accord: RunningAccord) -> None:
    """Work brought in late is recorded as it is: overdue, and the person is told so once."""
    created = accord.command_text("initiative new Migrate the SIEM due:2026-10-01 #imported")
    assert "Created *INI-1*" in created
    assert "The due date 2026-10-01 is in the past, so *INI-1* shows as overdue" in created
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None and str(initiative.due_date) == "2026-10-01"
    assert "overdue" in accord.command_text("initiative show INI-1")
    # an update that does not touch the date does not warn again
    quiet = accord.command_text("initiative update INI-1 health:amber")
    assert "Updated *INI-1*" in quiet and "in the past" not in quiet
    # the form keeps it too, with the same warning
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Retire the old proxy"}},
        "due": {"value": {"type": "datepicker", "selected_date": "2026-09-15"}},
    }
    reply = accord.slack.view_submission(
        "initiative.create", values, user_id=CIO, private_metadata='{"channel": "C0COORD"}'
    )
    assert reply.status == 200 and reply.json() == {}
    told = accord.fake.wait_for("chat.postEphemeral")[-1].body
    assert "The due date 2026-09-15 is in the past, so *INI-2* shows as overdue" in reply_text(told)


def test_description_and_tags_can_be_edited_by_command_and_form(accord: RunningAccord) -> None:
    accord.command("initiative new Segment the OT network #network")
    text = accord.command_text(
        'initiative update INI-1 description:"Split plant and office VLANs" tags:ot,Zero-Trust'
    )
    assert "Updated" in text and "Split plant and office VLANs" in text
    assert "INI-1" in accord.command_text("initiative list #zero-trust")
    assert "INI-1" not in accord.command_text("initiative list #network")
    trail = accord.command_text("initiative audit INI-1")
    assert "Split plant and office VLANs" in trail

    def field(value: str) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    reply = accord.slack.view_submission(
        "initiative.edit",
        {
            "title": field("Segment the OT network"),
            "description": field(""),
            "tags": field("#plant, network"),
        },
        user_id=CIO,
        private_metadata='{"id": 1, "channel": "C0COORD"}',
    )
    assert reply.status == 200
    accord.wait_idle()
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None
        assert initiative.tags == ["network", "plant"] and initiative.description == ""
    assert "Updated" in accord.command_text("initiative update INI-1 tags:none")
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None and initiative.tags == []


def test_a_card_offers_only_the_buttons_its_reader_may_use(accord: RunningAccord) -> None:
    accord.command("initiative new Segment the OT network")

    def buttons(user: str) -> set[str]:
        payload = accord.command("initiative show INI-1", user=user).json()
        return {
            element["action_id"]
            for block in payload["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
        }

    assert buttons(CIO) == {"initiative.edit", "initiative.audit"}  # only the CISO side holds
    assert buttons(CISO) == {"initiative.edit", "initiative.hold", "initiative.audit"}
    assert buttons(OUTSIDER) == {"initiative.audit"}
    accord.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    assert buttons(CISO) == {"initiative.edit", "initiative.release", "initiative.audit"}
    assert buttons(EXEC) == {"initiative.edit", "initiative.release", "initiative.audit"}
