"""Slack must hear back within 3 s even when Slack itself is slow to take our posts."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.risks import RiskAcceptance
from tests.harness import CIO, CIO_2, CISO, RunningAccord, mrkdwn_texts, reply_text


def risks(accord: RunningAccord) -> int:
    with session_scope(accord.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(RiskAcceptance)).one())


def test_slow_post_during_a_command_is_answered_in_time_then_completed(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.fake.fail_next("chat.postMessage", status=429, retry_after=3)
    reply = accord.command(
        "risk new Legacy VPN without MFA likelihood:2 impact:2 expires:2027-01-15", user=CISO
    )
    assert reply.status == 200
    assert reply.elapsed < 2.6
    # The record is committed and answered at once; the approval request (the slow post)
    # follows after the ack and is retried until Slack takes it.
    assert "Requested *RSK-1*" in reply_text(reply.json())
    assert risks(accord) == 1
    posts = accord.fake.wait_for("chat.postMessage", count=2, timeout=15)
    assert posts[-1].ok and "RSK-1" in posts[-1].body["text"]


def test_slow_post_during_a_form_closes_the_form_in_time_and_confirms_later(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    values: dict[str, Any] = {
        "title": {"value": {"type": "plain_text_input", "value": "Shared admin account"}},
        "likelihood": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
        "impact": {"value": {"type": "static_select", "selected_option": {"value": "3"}}},
        "expires": {"value": {"type": "datepicker", "selected_date": "2027-01-15"}},
    }
    accord.fake.fail_next("chat.postMessage", status=429, retry_after=3)
    reply = accord.slack.view_submission(
        "risk.create", values, user_id=CIO, private_metadata='{"channel": "C0COORD"}'
    )
    assert reply.status == 200
    assert reply.elapsed < 2.6
    assert reply.json() == {}
    confirmation = accord.fake.wait_for("chat.postEphemeral", timeout=15)[0].body
    assert "RSK-1" in reply_text(confirmation)
    assert risks(accord) == 1


def test_a_person_named_in_an_error_is_a_mention_not_escaped_markup(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.command("risk new Old TLS likelihood:2 impact:2 expires:2027-01-15", user=CISO)
    accord.command("risk approve RSK-1", user=CIO)
    second = accord.command("risk approve RSK-1", user=CIO_2).json()
    parsed = "\n".join(mrkdwn_texts(second))
    assert "already approved" in parsed
    assert f"<@{CIO}>" in parsed
    assert "&lt;@" not in parsed
