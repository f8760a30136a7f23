"""Nothing lost, nothing doubled, with real processes and a faulty Slack (issue 9).

Real `accord serve` and `accord clock` processes on PostgreSQL send through the outbox to the
in-test fake Slack, which fails or stalls on purpose:

* an outage (HTTP 500, then 429 with Retry-After) longer than any client retry, while a risk is
  requested, approved and expires and an escalation is decided: once Slack is back, every
  message arrives exactly once, in order per channel and thread, with nobody doing anything;
* `kill -9` of `serve` while Slack handles the escalation brief's post (Slack has posted it,
  the process never hears back): another process takes the row over when its lease ends, finds
  the brief in the channel's history by its metadata and posts no second brief;
* the same for the clock and a touchpoint agenda.

Assertions count only calls Slack answered `ok`: failed attempts are the outage itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.fakes.slack_api import FakeSlackServer, RecordedCall
from tests.fakes.slack_requests import SignedSlackClient
from tests.harness import (
    CIO,
    CISO,
    COORDINATION,
    EXEC,
    EXECUTIVE_CHANNEL,
    reply_text,
)
from tests.integration.processes import AccordCluster, ProcessFailed

pytestmark = pytest.mark.postgres

#: The command's own answer comes back in the HTTP reply (not "working on it" and a
#: response_url post, which an outage would swallow): the test reads the outcome from it.
ACK_BUDGET = "25"
#: A deliverer killed mid-send leaves its row to another process after this (60 s in
#: production; see ACCORD_OUTBOX_LEASE_SECONDS).
LEASE = "3"


# -- helpers --------------------------------------------------------------------------------


def ok(client: SignedSlackClient, text: str, *, user: str) -> str:
    """Run a command; it must be answered, without a crash, and its text is returned."""
    reply = client.command(text, user_id=user)
    assert reply.status == 200, f"{text!r}: {reply.status} {reply.body}"
    answer = reply_text(reply.json())
    assert "Something went wrong" not in answer, f"{text!r}: {answer}"
    return answer


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str, cluster: AccordCluster
) -> Any:
    """Poll `condition` until it returns something truthy (the processes work on their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise ProcessFailed(f"{what} within {timeout:.0f}s\n{cluster.report()}")


class Database:
    """Reads the shared database the way an operator would, with plain SQL."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def rows(self, query: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(query), params))

    def outbox(self) -> list[sa.Row[Any]]:
        return self.rows(
            "SELECT id, kind, lane, channel, state, subject, thread_of, target_of, attempts, "
            "result_ts, payload FROM outbox_message ORDER BY id"
        )

    def undelivered(self) -> list[sa.Row[Any]]:
        return [row for row in self.outbox() if row.state != "sent"]


@pytest.fixture
def database(cluster: AccordCluster) -> Iterator[Database]:
    db = Database(cluster.database_url)
    yield db
    db.engine.dispose()


def ok_posts(fake: FakeSlackServer, channel: str) -> list[dict[str, Any]]:
    """Bodies of the posts Slack accepted in `channel`, in arrival order."""
    return [
        call.body
        for call in fake.calls("chat.postMessage")
        if call.ok and call.body.get("channel") == channel
    ]


def roots(fake: FakeSlackServer, channel: str) -> list[dict[str, Any]]:
    """Top-level messages in the channel as Slack keeps them (replies excluded)."""
    return [m for m in fake.messages_in(channel) if not m.get("thread_ts")]


def outbox_id(call: RecordedCall) -> int | None:
    metadata = call.body.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    payload = metadata.get("event_payload") or {}
    value = payload.get("id")
    return int(value) if value is not None else None


def dispute_ready_to_escalate(client: SignedSlackClient) -> None:
    """INI-1 on security hold and DIS-1 about it with both positions and three options."""
    ok(client, "initiative new Deploy the new payment gateway", user=CIO)
    ok(client, "initiative hold INI-1 unpatched CVE-2026-1234 on the gateway", user=CISO)
    created = ok(
        client, "disagree INI-1 we must go live on the 1st; revenue depends on it", user=CIO
    )
    assert "Recorded *DIS-1*" in created, created
    ok(client, "disagree position DIS-1 the CVE is remotely exploitable", user=CISO)
    ok(
        client,
        'disagree update DIS-1 business:"EUR 2M a month" security:"card data exposure" '
        'options:"Go live now | Delay two weeks | Go live behind a WAF"',
        user=CIO,
    )


def escalate(client: SignedSlackClient) -> None:
    decide_by = (date.today() + timedelta(days=10)).isoformat()
    answer = ok(client, f"escalate DIS-1 by:{decide_by} to:<@{EXEC}|erin>", user=CISO)
    assert "as *ESC-1*" in answer, answer


def is_brief(body: dict[str, Any]) -> bool:
    return body.get("channel") == EXECUTIVE_CHANNEL and not body.get("thread_ts")


# -- kill -9 mid-post --------------------------------------------------------------------------


def test_serve_killed_while_slack_posts_the_brief_leaves_one_brief_and_threads_under_it(
    cluster: AccordCluster, fake_slack: FakeSlackServer, database: Database
) -> None:
    env = {"ACCORD_ACK_BUDGET_SECONDS": ACK_BUDGET, "ACCORD_OUTBOX_LEASE_SECONDS": LEASE}
    first = cluster.serve("serve-1", **env)
    client = first.slack_client(fake_slack)
    dispute_ready_to_escalate(client)

    # Slack posts the brief, but its answer never reaches serve-1: the process dies first.
    answer_held = fake_slack.hold_answer("chat.postMessage", matching=is_brief)
    escalate(client)
    wait_until(
        lambda: [c for c in fake_slack.calls("chat.postMessage") if is_brief(c.body)],
        timeout=15,
        what="serve-1 did not post the brief",
        cluster=cluster,
    )
    first.kill()
    answer_held.set()
    posted = roots(fake_slack, EXECUTIVE_CHANNEL)
    assert len(posted) == 1, posted
    brief_ts = posted[0]["ts"]
    (row,) = [r for r in database.outbox() if r.subject == "escalation:1:brief"]
    assert row.state == "sending" and row.result_ts is None  # nobody knows it was posted

    # Another replica takes the row over once the lease is over; meanwhile a new position
    # is stated, which goes into the brief's thread and refreshes the brief.
    second = cluster.serve("serve-2", **env)
    ok(
        second.slack_client(fake_slack),
        "disagree position DIS-1 a WAF rule does not cover this CVE",
        user=CISO,
    )
    wait_until(
        lambda: not database.undelivered(),
        timeout=20,
        what="the brief, its thread note and its refresh were not all delivered",
        cluster=cluster,
    )

    assert len(roots(fake_slack, EXECUTIVE_CHANNEL)) == 1, roots(fake_slack, EXECUTIVE_CHANNEL)
    assert len([b for b in ok_posts(fake_slack, EXECUTIVE_CHANNEL) if is_brief(b)]) == 1
    (escalation,) = database.rows("SELECT channel_id, thread_ts FROM escalation WHERE id = 1")
    assert (escalation.channel_id, escalation.thread_ts) == (EXECUTIVE_CHANNEL, brief_ts)
    replies = [b for b in ok_posts(fake_slack, EXECUTIVE_CHANNEL) if b.get("thread_ts")]
    assert [r["thread_ts"] for r in replies] == [brief_ts], replies
    assert "a WAF rule does not cover this CVE" in reply_text(replies[0])
    updates = [c.body for c in fake_slack.calls("chat.update") if c.ok]
    assert [(u["channel"], u["ts"]) for u in updates] == [(EXECUTIVE_CHANNEL, brief_ts)]
    assert "a WAF rule does not cover this CVE" in reply_text(updates[0])
    (row,) = [r for r in database.outbox() if r.subject == "escalation:1:brief"]
    assert (row.state, row.result_ts, row.attempts) == ("sent", brief_ts, 2)
    assert "was already posted" in second.log(), second.tail()


def test_clock_killed_while_slack_posts_an_agenda_leaves_one_agenda_and_the_meeting_posted(
    cluster: AccordCluster, fake_slack: FakeSlackServer, database: Database
) -> None:
    env = {
        "ACCORD_ACK_BUDGET_SECONDS": ACK_BUDGET,
        "ACCORD_OUTBOX_LEASE_SECONDS": LEASE,
        "ACCORD_TOUCHPOINT_POLL_SECONDS": "1",
    }
    web = cluster.serve("serve", **env)
    # A weekly meeting two hours from now: its agenda (24 h lead) is due at once.
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    created = ok(
        web.slack_client(fake_slack),
        f"touchpoint new Weekly sync every:weekly at:{start:%H:%M} tz:UTC "
        f"with:<@{CIO}|ann>,<@{CISO}|bo> channel:<#{COORDINATION}|coordination> "
        f"from:{start:%Y-%m-%d}",
        user=CIO,
    )
    assert "TP-1" in created, created
    web.terminate()  # only the clock is left to post (and to recover) the agenda

    def is_agenda(body: dict[str, Any]) -> bool:
        return body.get("channel") == COORDINATION and "Weekly sync" in json.dumps(body)

    answer_held = fake_slack.hold_answer("chat.postMessage", matching=is_agenda)
    clock = cluster.clock("clock", **env)
    wait_until(
        lambda: [c for c in fake_slack.calls("chat.postMessage") if is_agenda(c.body)],
        timeout=20,
        what="the clock did not post the agenda",
        cluster=cluster,
    )
    clock.kill()
    answer_held.set()
    (occurrence,) = database.rows("SELECT status, message_ts FROM touchpoint_occurrence")
    assert occurrence.status == "claimed" and occurrence.message_ts is None

    clock.start()
    wait_until(
        lambda: database.rows(
            "SELECT 1 FROM touchpoint_occurrence WHERE status = 'posted' AND message_ts <> ''"
        ),
        timeout=20,
        what="the restarted clock did not finish the agenda",
        cluster=cluster,
    )

    agendas = [m for m in roots(fake_slack, COORDINATION) if "Weekly sync" in json.dumps(m)]
    assert len(agendas) == 1, agendas
    assert len([b for b in ok_posts(fake_slack, COORDINATION) if is_agenda(b)]) == 1
    (occurrence,) = database.rows("SELECT status, message_ts FROM touchpoint_occurrence")
    assert (occurrence.status, occurrence.message_ts) == ("posted", agendas[0]["ts"])
    assert "was already posted" in clock.log(), clock.tail()
    assert not database.undelivered()
