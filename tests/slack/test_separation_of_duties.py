"""The ways round separation of duties that issue 10 found, tried again through signed HTTP:
each is refused privately and changes nothing, and the legitimate path still works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.risks import RiskAcceptance, RiskState
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    ADMIN,
    ADMIN_2,
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    COORDINATION,
    EXEC,
    EXECUTIVE_CHANNEL,
    OUTSIDER,
    FakeClock,
    RunningAccord,
    reply_text,
    running_accord,
)

NEW = "risk new 3 hosts without MFA likelihood:3 impact:3 expires:2027-01-31"
SWAP = "U0SWAP1"
EXEC_2 = "U0EXEC2"


def state(accord: RunningAccord, number: int = 1) -> RiskState:
    with session_scope(accord.services.engine) as session:
        risk = session.get(RiskAcceptance, number)
        assert risk is not None
        return risk.state


def events(accord: RunningAccord, action: str | None = None) -> int:
    with session_scope(accord.services.engine) as session:
        query = select(func.count()).select_from(AuditEvent)
        if action:
            query = query.where(AuditEvent.action == action)
        return int(session.exec(query).one())


def grant(accord: RunningAccord, verb: str, role: str, user: str) -> None:
    """A side change by ADMIN, confirmed by the second admin (the two-person rule)."""
    proposed = accord.command_text(f"roles {verb} {role} <@{user}|x>", user=ADMIN)
    number = proposed.split("Role change #", 1)[1].split(" ", 1)[0]
    assert "is in effect" in accord.command_text(f"roles confirm {number}", user=ADMIN_2)


def refused(accord: RunningAccord, text: str, user: str) -> str:
    before = events(accord)
    reply = accord.command(text, user=user)
    payload = reply.json()
    assert payload.get("response_type") == "ephemeral", payload
    answer = reply_text(payload)
    assert ":warning:" in answer, answer
    assert events(accord) == before, f"{text!r} by {user} changed something"
    return answer


def test_an_admin_swapping_one_person_between_sides_gets_no_double_approval(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    grant(accord, "add", "cio", SWAP)
    accord.command_text(NEW, user=CISO)
    assert "waits for the other side" in accord.command_text("risk approve RSK-1", user=SWAP)
    grant(accord, "remove", "cio", SWAP)
    grant(accord, "add", "ciso", SWAP)
    answer = refused(accord, "risk approve RSK-1", user=SWAP)
    assert "already decided this round of RSK-1 for the CIO side" in answer
    assert state(accord) == RiskState.PENDING
    assert "it is accepted" in accord.command_text("risk approve RSK-1", user=CISO_2)


def test_an_admin_cannot_grant_themselves_a_role_nor_confirm_their_own_change(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    for role in ("ciso", "cio", "executive", "admin"):
        answer = refused(accord, f"roles add {role} <@{ADMIN}|me>", user=ADMIN)
        assert "Nobody grants or removes a role of their own" in answer
    proposed = accord.command_text(f"roles add ciso <@{OUTSIDER}|o>", user=ADMIN)
    assert "Role change #1 waits for a second admin" in proposed
    announced = accord.posts_in(COORDINATION)[-1].body
    assert "Role change waiting for a second admin" in reply_text(announced)
    confirm = next(
        e
        for b in announced["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "roles.confirm"
    )
    assert "second admin" in refused(accord, "roles confirm 1", user=ADMIN)
    before = len(accord.fake.calls("response_url"))
    accord.slack.block_action("roles.confirm", confirm["value"], user_id=ADMIN)
    own_click = accord.fake.wait_for("response_url", count=before + 1)[before].body
    assert "second admin" in reply_text(own_click)
    assert "no side yet" in accord.command_text("whoami", user=OUTSIDER)
    accord.slack.block_action("roles.confirm", confirm["value"], user_id=ADMIN_2)
    accord.wait_idle()
    assert "CISO side" in accord.command_text("whoami", user=OUTSIDER)
    done = accord.posts_in(COORDINATION, count=2)[-1].body
    assert "confirmed by <@U0ADMIN2>" in reply_text(done)
    updated = accord.fake.wait_for("chat.update")[-1].body  # the button is gone
    assert "confirmed by <@U0ADMIN2>" in reply_text(updated)
    assert "roles.confirm" not in json.dumps(updated)


def test_a_granted_side_is_named_in_the_trail_of_the_record_it_is_used_on(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    grant(accord, "add", "ciso", OUTSIDER)
    accord.command_text("initiative new Payment gateway", user=CIO)
    accord.command_text("initiative hold INI-1 unpatched CVE", user=OUTSIDER)
    accord.command_text("initiative release INI-1 patched", user=OUTSIDER)
    trail = accord.command_text("audit INI-1", user=CISO)
    assert trail.count("role change #1: CISO side given to U0OUT1 by U0ADMIN") == 2
    assert "confirmed by U0ADMIN2" in trail


def test_the_requester_does_not_approve_a_later_round(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command_text(NEW, user=CIO)
    accord.command_text("risk approve RSK-1", user=CIO_2)
    accord.command_text("risk approve RSK-1", user=CISO)
    assert state(accord) == RiskState.ACCEPTED
    accord.command_text("risk renew RSK-1 expires:2027-02-20", user=ADMIN)
    answer = refused(accord, "risk approve RSK-1", user=CIO)
    assert "You requested a round of RSK-1" in answer


def test_renaming_an_accepted_risk_sends_it_back_to_both_sides(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.command_text(NEW, user=CIO)
    accord.command_text("risk approve RSK-1", user=CIO_2)
    accord.command_text("risk approve RSK-1", user=CISO)
    renamed = accord.command_text(
        'risk update RSK-1 title:"All remote access without MFA"', user=CIO
    )
    assert "material change" in renamed
    assert state(accord) == RiskState.PENDING


def _escalated(accord: RunningAccord, to: str = "") -> None:
    accord.command_text('disagree "Gateway go-live" we ship on the 1st', user=CIO)
    accord.command_text("disagree position DIS-1 not before the CVE is patched", user=CISO)
    accord.command_text(
        'disagree update DIS-1 business:"EUR 2M a month" options:"Ship now | Delay two weeks"',
        user=CIO,
    )
    accord.command_text('disagree update DIS-1 security:"card data exposure"', user=CISO)
    assert "as *ESC-1*" in accord.command_text(f"escalate DIS-1 {to}".strip(), user=CISO)


def test_after_escalation_the_other_side_rewrites_neither_impact_nor_options(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    _escalated(accord)
    cases = {
        ('disagree update DIS-1 security:"negligible"', CIO): "Only the CISO side",
        ('disagree update DIS-1 business:"none"', CISO): "Only the CIO side",
        ('disagree update DIS-1 options:"Ship now | Ship today"', CIO): "only with both sides",
        ('disagree update DIS-1 options:"Delay a month"', CISO): "only with both sides",
    }
    for (text, user), expected in cases.items():
        assert expected in refused(accord, text, user=user)
    shown = accord.command_text("disagree show DIS-1", user=CISO)
    assert "card data exposure" in shown and "Delay two weeks" in shown


@pytest.fixture
def two_executives(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[RunningAccord]:
    """EXEC and EXEC_2 decide; CIO_2 is an executive who is also on the CIO side."""
    with running_accord(
        migrated_sqlite_url, fake_slack, clock=clock, accord_executives=f"{EXEC},{EXEC_2},{CIO_2}"
    ) as running:
        yield running


def _option_click(accord: RunningAccord, user: str) -> dict[str, Any] | None:
    """Click the brief's first option as `user`: the form they got, or None and the refusal."""
    accord.wait_idle()
    brief = accord.posts_in(EXECUTIVE_CHANNEL)[0].body
    option = next(
        e
        for b in brief["blocks"]
        for e in b.get("elements", [])
        if str(e.get("action_id", "")).startswith("escalation.option.")
    )
    forms = len(accord.fake.calls("views.open"))
    answers = len(accord.fake.calls("response_url"))
    accord.slack.block_action(
        option["action_id"], option["value"], user_id=user, channel_id=EXECUTIVE_CHANNEL
    )
    accord.wait_idle()
    if len(accord.fake.calls("views.open")) > forms:
        return None
    return dict(accord.fake.wait_for("response_url", count=answers + 1)[answers].body)


def test_a_side_member_or_the_wrong_executive_cannot_decide(
    two_executives: RunningAccord,
) -> None:
    accord = two_executives
    _escalated(accord, to=f"to:<@{EXEC}|erin> delegate:<@{EXEC_2}|dan>")
    on_a_side = _option_click(accord, CIO_2)
    assert on_a_side is not None and "a party to ESC-1" in reply_text(on_a_side)
    assert _option_click(accord, EXEC_2) is None  # the stated delegate may
    assert _option_click(accord, EXEC) is None


def test_only_the_addressed_executive_decides(two_executives: RunningAccord) -> None:
    accord = two_executives
    _escalated(accord, to=f"to:<@{EXEC}|erin>")
    wrong = _option_click(accord, EXEC_2)
    assert wrong is not None and "addressed to <@U0EXEC1>" in reply_text(wrong)
    assert wrong.get("response_type") == "ephemeral"
    assert events(accord, "escalation.decided") == 0


def test_an_outsider_cannot_export_read_or_preview_and_exports_are_audited(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.command_text(NEW, user=CIO)
    for text in ("risk export csv", "risk list all", "audit RSK-1", "digest preview"):
        assert "Only the CIO and CISO sides" in refused(accord, text, user=OUTSIDER)
    accord.wait_idle()
    assert accord.fake.calls("files.completeUploadExternal") == []
    assert "on its way to your DM" in accord.command_text("risk export csv", user=CISO)
    latest = accord.command_text("audit", user=ADMIN)
    assert "*REGISTER* exported by <@U0CISO1>" in latest
    assert events(accord, "register.exported") == 1


def test_an_escalation_cannot_be_addressed_to_an_executive_on_a_side(
    two_executives: RunningAccord,
) -> None:
    accord = two_executives
    accord.command_text('disagree "Gateway go-live" we ship on the 1st', user=CIO)
    for to in (f"to:<@{CIO_2}|x>", f"to:<@{EXEC}|erin> delegate:<@{CIO_2}|x>"):
        answer = refused(accord, f"escalate DIS-1 {to}", user=CISO)
        assert "is on the CIO or CISO side" in answer


def test_home_lists_an_escalation_only_for_whoever_may_decide_it(
    two_executives: RunningAccord,
) -> None:
    from tests.slack.test_home_needs_you import needs_you

    accord = two_executives
    _escalated(accord, to=f"to:<@{EXEC}|erin>")
    assert "ESC-1" in reply_text(needs_you(accord, EXEC))
    for cannot in (EXEC_2, CIO_2):
        assert "ESC-1" not in reply_text(needs_you(accord, cannot))
    brief = reply_text(accord.posts_in(EXECUTIVE_CHANNEL)[0].body)
    assert "Only <@U0EXEC1> decides; nobody on the CIO or CISO side." in brief


def test_every_run_time_role_change_is_announced(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    granted = accord.command_text(f"roles add executive <@{OUTSIDER}|o>", user=ADMIN)
    assert "now has the Executive role" in granted  # not a side: no second admin needed
    notice = reply_text(accord.posts_in(COORDINATION)[-1].body)
    assert f"<@{OUTSIDER}> now has the Executive role. (by <@{ADMIN}>)" in notice
