"""Break glass: an executive's override lets exactly one service@environment through a hold,
until it expires and not a minute more."""

from __future__ import annotations

from sqlmodel import select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from tests.gate.helpers import call, new_token
from tests.harness import CISO, EXEC, RunningAccord


def allowed(accord: RunningAccord, token: str, service: str, environment: str) -> bool:
    answer = call(
        accord.root_url,
        "POST",
        "/api/v1/gate/checks",
        token=token,
        payload={"service": service, "environment": environment},
    )
    assert answer.status == 200, answer.body
    return bool(answer.json()["allowed"])


def test_an_override_lets_exactly_that_target_through_until_it_expires(
    accord: RunningAccord,
) -> None:
    token = new_token(accord)
    accord.command_text("initiative new Patch covers:payments-api@*,ledger@production", user=CISO)
    accord.command_text("initiative hold INI-1 unpatched CVE", user=CISO)

    refused = accord.command_text(
        "gate override INI-1 payments-api@production 2h outage fix", user=CISO
    )
    assert "Only configured executives who are on neither side can" in refused
    granted = accord.command_text(
        "gate override INI-1 payments-api@production 2h hotfix for the outage", user=EXEC
    )
    assert "`payments-api@production` may deploy through the hold on *INI-1*" in granted
    assert "until 2026-11-25 12:00 UTC" in granted

    assert allowed(accord, token, "payments-api", "production")
    assert not allowed(accord, token, "payments-api", "staging")  # only that environment
    assert not allowed(accord, token, "ledger", "production")  # only that service
    accord.clock.advance(hours=1, minutes=59)
    assert allowed(accord, token, "payments-api", "production")
    accord.clock.advance(minutes=1)
    assert not allowed(accord, token, "payments-api", "production")  # not a minute more

    with session_scope(accord.services.engine) as session:
        granted_event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "gate.override_granted")
        ).one()
    assert granted_event.record_ref == "INI-1" and granted_event.actor_id == EXEC
    assert granted_event.note == "hotfix for the outage"


def test_an_override_must_name_a_held_covered_target_and_a_short_time(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.command_text("initiative new Patch covers:payments-api@production", user=CISO)
    assert "is not on security hold" in accord.command_text(
        "gate override INI-1 payments-api@production 2h why", user=EXEC
    )
    accord.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    assert "does not cover `billing@production`" in accord.command_text(
        "gate override INI-1 billing@production 2h why", user=EXEC
    )
    assert "not `*`" in accord.command_text("gate override INI-1 payments-api@* 2h why", user=EXEC)
    assert "at most 72 hours" in accord.command_text(
        "gate override INI-1 payments-api@production 4d why", user=EXEC
    )
    assert "is not a duration" in accord.command_text(
        "gate override INI-1 payments-api@production soon why", user=EXEC
    )


def test_an_override_ends_with_the_hold_it_was_granted_against(accord: RunningAccord) -> None:
    """Released and placed again within the override's window, the new hold stops the
    target again: the old exception was for the old hold."""
    token = new_token(accord)
    accord.command_text("initiative new Patch covers:payments-api@production", user=CISO)
    accord.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    accord.command_text("gate override INI-1 payments-api@production 72h hotfix", user=EXEC)
    assert allowed(accord, token, "payments-api", "production")
    accord.clock.advance(minutes=10)
    accord.command_text("initiative release INI-1 patched", user=CISO)
    accord.clock.advance(minutes=10)
    accord.command_text("initiative hold INI-1 a second CVE", user=CISO)
    assert not allowed(accord, token, "payments-api", "production")
