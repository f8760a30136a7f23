"""The outbox and its deliverer on their own (no bolt app): order, retries, crashes, give-up.

The deliverer talks to the loopback fake Slack over HTTP with a real WebClient; time is a
FakeClock, so backoff and the delivery window are crossed by moving it, never by sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.bootstrap import build_delivery_client, build_services
from bot.db import session_scope
from bot.domain.outbox import OutboxMessage, OutboxState
from bot.domain.roles import GroupMembers
from bot.services import Services
from bot.slack import send
from bot.slack.blocks.errors import notice
from bot.slack.deliver import Deliverer
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import CIO, COORDINATION, FakeClock, reply_text
from tests.harness import test_settings as settings_for


class _NoGroups(GroupMembers):
    def members(self, group_id: str) -> list[str]:
        return []


@pytest.fixture
def services(
    migrated_database_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[Services]:
    settings = settings_for(migrated_database_url, fake_slack)
    built = build_services(settings, groups=_NoGroups(), clock=clock)
    yield built
    built.engine.dispose()


def deliverer(services: Services) -> Deliverer:
    return Deliverer(services, build_delivery_client(services.settings))


def ok_posts(fake: FakeSlackServer) -> list[dict[str, object]]:
    return [c.body for c in fake.calls("chat.postMessage") if c.ok]


def rows(services: Services) -> list[OutboxMessage]:
    with session_scope(services.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


def test_a_thread_reply_and_an_update_wait_for_their_root_through_an_outage(
    services: Services, fake_slack: FakeSlackServer, clock: FakeClock
) -> None:
    with session_scope(services.engine) as session:
        root = send.post(
            session, services, channel=COORDINATION, message=notice("root"), summary="root"
        )
        send.reply(
            session,
            services,
            parent=root,
            channel=COORDINATION,
            thread_ts=None,
            message=notice("reply"),
            summary="reply",
        )
        send.update(session, services, target=root, message=notice("root, updated"), summary="u")
    fake_slack.fail_next("chat.postMessage", status=500, times=2)
    out = deliverer(services)
    out.drain()
    assert ok_posts(fake_slack) == [] and fake_slack.calls("chat.update") == []
    for _ in range(5):  # Slack is back; backoff is crossed by moving the clock
        clock.advance(seconds=30)
        out.drain()
    posted = [c for c in fake_slack.calls() if c.ok and c.method.startswith("chat.")]
    assert [(c.method, reply_text(c.body)) for c in posted] == [
        ("chat.postMessage", "root\nroot"),
        ("chat.postMessage", "reply\nreply"),
        ("chat.update", "root, updated\nroot, updated"),
    ]
    root_ts = posted[0].response["ts"]
    assert posted[1].body["thread_ts"] == root_ts and posted[2].body["ts"] == root_ts
    assert [r.state for r in rows(services)] == [OutboxState.SENT] * 3


def test_retry_after_is_honoured(
    services: Services, fake_slack: FakeSlackServer, clock: FakeClock
) -> None:
    with session_scope(services.engine) as session:
        send.post(session, services, channel=COORDINATION, message=notice("hi"), summary="hi")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=30)
    out = deliverer(services)
    out.drain()
    clock.advance(seconds=20)
    out.drain()
    assert ok_posts(fake_slack) == []  # Slack asked for 30 s
    clock.advance(seconds=15)
    out.drain()
    assert len(ok_posts(fake_slack)) == 1


def test_a_post_whose_outcome_was_lost_is_found_in_the_history_not_posted_twice(
    services: Services, fake_slack: FakeSlackServer, clock: FakeClock
) -> None:
    with session_scope(services.engine) as session:
        row = send.post(
            session, services, channel=COORDINATION, message=notice("brief"), summary="brief"
        )
        row_id = row.id
    out = deliverer(services)
    out.drain()
    [first] = fake_slack.calls("chat.postMessage")
    # As if the process died after Slack answered and before the row was marked: the row is
    # back to "being sent" by a deliverer whose lease has run out.
    with session_scope(services.engine) as session:
        lost = session.get(OutboxMessage, row_id)
        assert lost is not None
        lost.state, lost.result_ts, lost.lease_until = OutboxState.SENDING, None, clock.now()
    clock.advance(seconds=61)
    out.drain()
    assert len(fake_slack.calls("chat.postMessage")) == 1  # looked up, not posted again
    [again] = rows(services)
    assert again.state == OutboxState.SENT and again.result_ts == first.response["ts"]


def test_a_message_slack_keeps_refusing_is_given_up_after_the_window_and_reported(
    services: Services, fake_slack: FakeSlackServer, clock: FakeClock
) -> None:
    with session_scope(services.engine) as session:
        send.post(
            session,
            services,
            channel=COORDINATION,
            message=notice("approval request"),
            summary="the approval request of RSK-7",
            notify=CIO,
        )
    fake_slack.error_next("chat.postMessage", "fatal_error", times=None)
    out = deliverer(services)
    for _ in range(30):
        out.drain()
        clock.advance(hours=1)
    fake_slack.clear_errors()
    out.drain()
    posts = ok_posts(fake_slack)
    assert len(posts) == 1 and posts[0]["channel"] == CIO  # only the notice, by DM
    told = reply_text(posts[0])
    assert "could not deliver the approval request of RSK-7" in told
    assert [r.state for r in rows(services)] == [OutboxState.FAILED, OutboxState.SENT]


def test_a_refusal_no_retry_can_fix_is_reported_at_once(
    services: Services, fake_slack: FakeSlackServer
) -> None:
    fake_slack.set_not_member(COORDINATION)
    with session_scope(services.engine) as session:
        send.post(
            session,
            services,
            channel=COORDINATION,
            message=notice("agenda"),
            summary="the agenda of TP-1",
            notify=CIO,
        )
    deliverer(services).drain()
    [told] = ok_posts(fake_slack)
    assert told["channel"] == CIO and "/invite @Accord" in reply_text(told)


def test_two_deliverers_at_once_send_each_message_once(
    services: Services, fake_slack: FakeSlackServer
) -> None:
    with session_scope(services.engine) as session:
        for n in range(12):
            channel = f"C0LANE{n % 4}"
            send.post(session, services, channel=channel, message=notice(f"m{n}"), summary="m")
    start = threading.Barrier(2)

    def run(out: Deliverer) -> None:
        start.wait()
        out.drain()

    workers = [threading.Thread(target=run, args=(deliverer(services),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    texts = sorted(str(body["text"]) for body in ok_posts(fake_slack))
    assert texts == sorted(f"m{n}" for n in range(12))
    per_lane = {}
    for body in ok_posts(fake_slack):
        per_lane.setdefault(body["channel"], []).append(int(str(body["text"])[1:]))
    assert all(sent == sorted(sent) for sent in per_lane.values())  # order kept per channel


def test_rows_commit_with_their_change_or_not_at_all(services: Services) -> None:
    def failing_change() -> None:
        with session_scope(services.engine) as session:
            send.post(session, services, channel=COORDINATION, message=notice("x"), summary="x")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert rows(services) == []
