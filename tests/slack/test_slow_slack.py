"""Slack must hear back within 3 s even when Slack itself is slow to take our posts."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.risks import RiskAcceptance
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    CIO,
    CIO_2,
    CISO,
    RunningAccord,
    mrkdwn_texts,
    reply_text,
    running_accord,
)


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
    accord.clock.advance(seconds=4)  # past Slack's Retry-After: the outbox tries again
    accord.deliver()
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
    assert reply.elapsed < 1.5  # the slow post happens after the form is closed
    assert reply.json() == {}
    # The confirmation is queued with the record; it follows the rate-limited approval request
    # in the channel's lane, so it leaves once Slack's Retry-After has passed.
    accord.wait_idle()
    accord.clock.advance(seconds=4)
    accord.deliver()
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


def test_a_slow_database_still_gets_slack_an_answer_in_time(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer
) -> None:
    """Another writer holds SQLite's lock for 3 s: the command and the form are answered within
    the budget ("working on it" / form closed) and completed once the lock is gone."""
    with running_accord(migrated_sqlite_url, fake_slack, accord_ack_budget_seconds=1.0) as accord:
        accord.command("initiative new Warm-up")  # migrations and caches out of the way
        path = migrated_sqlite_url.removeprefix("sqlite:///")
        blocker = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        release = threading.Timer(3.0, blocker.rollback)
        release.start()
        try:
            reply = accord.command("initiative new Written while locked")
            assert reply.elapsed < 2.0
            assert "Working on it" in reply_text(reply.json())
            values = {
                "title": {"value": {"type": "plain_text_input", "value": "Form while locked"}}
            }
            form = accord.slack.view_submission(
                "initiative.create", values, user_id=CIO, private_metadata='{"channel": "C0COORD"}'
            )
            assert form.elapsed < 2.0
            assert form.json() == {}
            late = accord.fake.wait_for("response_url", timeout=15)[0].body
            assert "Written while locked" in reply_text(late)
            confirmation = accord.fake.wait_for("chat.postEphemeral", timeout=15)[0].body
            assert "Form while locked" in reply_text(confirmation)
        finally:
            release.join()
            blocker.close()
        assert "Written while locked" in accord.command_text("initiative list")
        assert "Form while locked" in accord.command_text("initiative list")


def test_command_text_returns_the_answer_that_followed_working_on_it(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer
) -> None:
    """The harness reads a command that outlived the ack budget (as any may on a loaded
    machine) by its late answer, with the work committed, not by "Working on it…"."""
    with running_accord(migrated_sqlite_url, fake_slack, accord_ack_budget_seconds=0.0) as accord:
        answer = accord.command_text("initiative new Answered late")
        assert "Working on it" not in answer and "Created *INI-1*" in answer, answer
        assert "INI-1 · Answered late" in accord.command_text("initiative show INI-1")
