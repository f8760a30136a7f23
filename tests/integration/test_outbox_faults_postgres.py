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
    CIO_2,
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
            "SELECT id, kind, lane, channel, user_id, state, subject, thread_of, target_of, "
            "attempts, result_ts, payload FROM outbox_message ORDER BY id"
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


def assert_each_post_once(fake: FakeSlackServer, database: Database) -> None:
    """Every post in the outbox reached Slack exactly once (by the outbox id in its metadata)."""
    posted = [outbox_id(c) for c in fake.calls("chat.postMessage") if c.ok]
    times = {int(row.id): posted.count(int(row.id)) for row in database.outbox()}
    kinds = {int(row.id): row.kind for row in database.outbox()}
    assert {i: n for i, n in times.items() if kinds[i] == "post" and n != 1} == {}


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
        'disagree update DIS-1 business:"EUR 2M a month" '
        'options:"Go live now | Delay two weeks | Go live behind a WAF"',
        user=CIO,
    )
    ok(client, 'disagree update DIS-1 security:"card data exposure"', user=CISO)


def escalate(client: SignedSlackClient) -> None:
    decide_by = (date.today() + timedelta(days=10)).isoformat()
    answer = ok(client, f"escalate DIS-1 by:{decide_by} to:<@{EXEC}|erin>", user=CISO)
    assert "as *ESC-1*" in answer, answer


def is_brief(body: dict[str, Any]) -> bool:
    return body.get("channel") == EXECUTIVE_CHANNEL and not body.get("thread_ts")


def at(moment: datetime) -> str:
    return moment.strftime("@%Y-%m-%d %H:%M:%S")


def decision_button(brief: dict[str, Any], index: int) -> tuple[str, str]:
    for block in brief.get("blocks") or []:
        for element in block.get("elements", []):
            if element.get("action_id") == f"escalation.option.{index}":
                return str(element["action_id"]), str(element["value"])
    raise AssertionError(f"no decision button {index} on the brief: {brief}")


def text_of(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- a Slack outage ----------------------------------------------------------------------------

#: Each phase outlasts what any client retries on its own (slack_sdk: two 5xx retries within
#: ~2 s; three 429 retries of Retry-After each), so only the outbox can get these through.
OUTAGE_SECONDS = 12.0
RETRY_AFTER = 3
#: What Accord posts with; Slack's rate limits are per method, so a 429 storm on posting leaves
#: views.open (the executive's decision form) answering.
POSTING = (
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "conversations.history",
    "conversations.replies",
    "conversations.open",
)


class Delivered:
    """Every call Slack accepted from the outbox, matched to the row it delivered: posts by
    the outbox id in their metadata, updates by target and content, private notes (a form's
    confirmation, e.g. "Recorded for ESC-1") by channel, person and content."""

    def __init__(self, fake: FakeSlackServer, rows: list[sa.Row[Any]]) -> None:
        self.rows = {int(row.id): row for row in rows}
        self.calls = [
            c
            for c in fake.calls()
            if c.ok
            and (
                c.method in ("chat.update", "chat.postEphemeral")
                or (c.method == "chat.postMessage" and outbox_id(c) is not None)
            )
        ]
        self.row_of: list[int | None] = []
        for call in self.calls:
            self.row_of.append(self._match(call))

    def _match(self, call: RecordedCall) -> int | None:
        if call.method == "chat.postMessage":
            return outbox_id(call)
        taken = set(self.row_of)
        if call.method == "chat.postEphemeral":
            for row in self.rows.values():
                if (
                    row.kind == "ephemeral"
                    and row.id not in taken
                    and row.channel == call.body.get("channel")
                    and row.user_id == call.body.get("user")
                    and row.payload.get("text") == call.body.get("text")
                ):
                    return int(row.id)
            return None
        for row in self.rows.values():
            target = self.rows.get(int(row.target_of)) if row.target_of else None
            if (
                row.kind == "update"
                and row.id not in taken
                and target is not None
                and target.result_ts == call.body.get("ts")
                and row.payload.get("text") == call.body.get("text")
            ):
                return int(row.id)
        return None

    def times(self, row_id: int) -> int:
        return self.row_of.count(row_id)

    def position(self, row_id: int) -> int:
        return self.row_of.index(row_id)

    def bodies(self, predicate: Callable[[sa.Row[Any]], bool]) -> list[dict[str, Any]]:
        return [
            call.body
            for call, row_id in zip(self.calls, self.row_of, strict=True)
            if row_id is not None and predicate(self.rows[row_id])
        ]


def test_messages_caused_during_an_outage_arrive_once_in_order_when_slack_recovers(
    cluster: AccordCluster, fake_slack: FakeSlackServer, database: Database
) -> None:
    expires = date.today() + timedelta(days=1)
    # The clock runs at the expiry instant (libfaketime), a day ahead of serve. A lease shorter
    # than that skew would let the clock take a row serve is still sending, which no real
    # deployment (clocks in step) does; and the delivery window must outlast the skew.
    env = {
        "ACCORD_ACK_BUDGET_SECONDS": ACK_BUDGET,
        "ACCORD_OUTBOX_LEASE_SECONDS": str(3 * 24 * 3600),
        "ACCORD_OUTBOX_WINDOW_HOURS": "96",
    }
    planned = datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
    clock = cluster.clock("clock", faketime=at(planned), start=False, TZ="UTC", **env)
    clock.launch()  # boots while serve does; plans risks.expire for an hour later
    web = cluster.serve("serve", **env)
    client = web.slack_client(fake_slack)
    clock.wait_ready()
    clock.terminate()
    dispute_ready_to_escalate(client)
    wait_until(lambda: not database.undelivered(), timeout=20, what="set-up", cluster=cluster)
    before = {int(row.id) for row in database.outbox()}

    # Phase 1: every call answers HTTP 500. A risk is requested and approved by both sides,
    # and the dispute is escalated.
    fake_slack.fail_all(status=500)
    outage, mark = time.monotonic(), len(fake_slack.calls())
    answer = ok(
        client,
        f"risk new Legacy VPN likelihood:2 impact:2 expires:{expires.isoformat()}",
        user=CIO_2,
    )
    assert "Requested *RSK-1*" in answer, answer
    assert "approved" in ok(client, "risk approve RSK-1", user=CIO).lower()
    assert "accepted" in ok(client, "risk approve RSK-1", user=CISO).lower()
    escalate(client)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage)))
    assert not [c for c in fake_slack.calls()[mark:] if c.ok and c.method in POSTING]
    fake_slack.end_outage()
    wait_until(
        lambda: not database.undelivered(),
        timeout=30,
        what="the first phase's messages did not arrive after Slack recovered",
        cluster=cluster,
    )
    (brief_row,) = [r for r in database.outbox() if r.subject == "escalation:1:brief"]

    # Phase 2: posting answers 429 with Retry-After. The executive decides from the brief
    # (views.open still answers) and the clock, at the expiry instant, expires the risk.
    fake_slack.fail_all(status=429, retry_after=RETRY_AFTER, methods=list(POSTING))
    outage = time.monotonic()
    brief = roots(fake_slack, EXECUTIVE_CHANNEL)[0]
    action_id, value = decision_button(brief, 2)
    clicked = client.block_action(
        action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL, message_ts=brief["ts"]
    )
    assert clicked.status == 200, clicked.body
    modal = fake_slack.wait_for("views.open", timeout=15)[-1].body["view"]
    rationale = {"value": {"type": "plain_text_input", "value": "WAF plus virtual patch."}}
    decided = client.view_submission(
        "escalation.decide",
        {"rationale": rationale},
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V1",
    )
    assert decided.status == 200 and decided.json() == {}, decided.body
    clock.start(FAKETIME=at(planned + timedelta(hours=1, seconds=2)))  # overdue: runs at once
    wait_until(
        lambda: database.rows("SELECT 1 FROM risk_acceptance WHERE id = 1 AND state = 'expired'"),
        timeout=20,
        what="the clock did not expire RSK-1",
        cluster=cluster,
    )
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage)))
    fake_slack.end_outage()

    # Slack is back; nobody does anything. Everything arrives.
    wait_until(
        lambda: not database.undelivered(),
        timeout=60,
        what=f"still undelivered: {database.undelivered()}",
        cluster=cluster,
    )
    rows = database.outbox()
    caused = [row for row in rows if int(row.id) not in before]
    assert {row.state for row in rows} == {"sent"}
    failed = [c for c in fake_slack.calls() if c.method in POSTING and not c.ok]
    assert {c.status for c in failed} >= {500, 429}, "the outage did not hit the deliveries"
    got = Delivered(fake_slack, rows)

    # Exactly once: each post the outage held back, and each card or brief update.
    assert [(row.id, got.times(int(row.id))) for row in caused] == [(row.id, 1) for row in caused]
    strays = [
        (call.method, call.body.get("channel"), str(call.body.get("text"))[:80])
        for call, row_id in zip(got.calls, got.row_of, strict=True)
        if row_id is None
    ]
    assert not strays, f"Slack accepted updates the outbox cannot account for: {strays}"

    def one(predicate: Callable[[sa.Row[Any]], bool], what: str) -> sa.Row[Any]:
        found = [row for row in caused if predicate(row)]
        assert len(found) == 1, f"{what}: {found}"
        return found[0]

    request = one(lambda r: r.subject == "risk:1:round:1", "the approval request")
    assert request.channel == COORDINATION and "RSK-1" in text_of(request.payload)
    cards = [r for r in caused if r.kind == "update" and r.target_of == request.id]
    assert len(cards) == 3, cards  # CIO's approval, CISO's approval, the expiry
    assert "Approved by both sides" in text_of(cards[1].payload)
    accepted = one(
        lambda r: r.channel == CIO_2 and "was approved" in text_of(r.payload), "accepted DM"
    )
    assert brief_row.id in {int(r.id) for r in caused}
    note = one(lambda r: r.thread_of == brief_row.id, "the decision's thread note")
    assert "Decision on ESC-1" in text_of(note.payload)
    refresh = one(lambda r: r.target_of == brief_row.id, "the brief refresh")
    sides = [
        r for r in caused if r.channel in (CIO, CISO) and "Decision on ESC-1" in text_of(r.payload)
    ]
    assert sorted(r.channel for r in sides) == [CIO, CISO]
    expiry = one(lambda r: "expired on" in text_of(r.payload), "the expiry announcement")
    assert expiry.channel == COORDINATION and "RSK-1" in text_of(expiry.payload)

    # As Slack shows them: one request, one brief, the note in the brief's thread, updates
    # of the right messages.
    (note_body,) = got.bodies(lambda r: r.id == note.id)
    assert note_body["thread_ts"] == brief_row.result_ts
    assert {b["ts"] for b in got.bodies(lambda r: r.id == refresh.id)} == {brief_row.result_ts}
    assert {b["ts"] for b in got.bodies(lambda r: r.target_of == request.id)} == {request.result_ts}
    risk_posts = [m for m in roots(fake_slack, COORDINATION) if "RSK-1" in text_of(m)]
    assert len(risk_posts) == 2, risk_posts  # the request and the expiry announcement
    assert len(roots(fake_slack, EXECUTIVE_CHANNEL)) == 1
    assert [m for m in fake_slack.messages_in(CIO_2) if "was approved" in text_of(m)]
    assert accepted.result_ts

    # In order: per channel (and so per thread) as they were caused; replies after their
    # root, updates after the post they update.
    for lane in {row.lane for row in rows}:
        sent = [row_id for row_id in got.row_of if row_id and got.rows[row_id].lane == lane]
        assert sent == sorted(sent), f"{lane} out of order: {sent}"
    for row in caused:
        parent = row.thread_of or row.target_of
        if parent:
            assert got.position(int(parent)) < got.position(int(row.id)), row


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
    # The sides' DMs serve-1 had claimed with the brief went out once too, from serve-2.
    assert_each_post_once(fake_slack, database)


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
    assert_each_post_once(fake_slack, database)
