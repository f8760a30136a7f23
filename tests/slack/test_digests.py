"""The leadership digest: on demand over signed HTTP, on schedule exactly once per slot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.digest import DigestRun, claim_run
from bot.slack.digest_delivery import scheduled_digest
from bot.slack.notifier import SlackNotifier
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    CIO,
    CISO,
    COORDINATION,
    DIGEST_CHANNEL,
    OUTSIDER,
    FakeClock,
    RunningAccord,
    mrkdwn_texts,
    reply_text,
    running_accord,
)

#: The next Monday-08:00 slot after the harness's start (Wednesday 2026-11-25 10:00 UTC).
SLOT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def runs(accord: RunningAccord) -> list[DigestRun]:
    with session_scope(accord.services.engine) as session:
        return list(session.exec(select(DigestRun).order_by(col(DigestRun.id))))


def notifier(accord: RunningAccord) -> SlackNotifier:
    return SlackNotifier(build_web_client(accord.services.settings))


def seed(accord: RunningAccord) -> None:
    accord.command("initiative new Roll out MFA due:2026-12-31 #iam")
    accord.command("initiative new Segment the OT network")
    accord.command("initiative update INI-2 status:active health:red")
    accord.command("initiative hold INI-1 unpatched VPN appliance", user=CISO)
    # the hold's announcement in the coordination channel is not what these tests look at
    accord.posts_in(COORDINATION)
    accord.wait_idle()
    accord.fake.clear()


def answers(accord: RunningAccord) -> list[tuple[str, str]]:
    """What reached Slack through response_url and chat.postMessage, in arrival order."""
    return [
        (call.method, reply_text(call.body))
        for call in accord.fake.calls()
        if call.method in ("response_url", "chat.postMessage")
    ]


def test_preview_is_ephemeral_and_posts_nothing_to_the_channel(accord: RunningAccord) -> None:
    seed(accord)
    before = len(accord.fake.calls("response_url"))
    reply = accord.command("digest preview")
    assert reply.status == 200
    assert reply.elapsed < 1.5  # Slack's limit is 3 s; the digest is built after the ack
    assert reply.json() == {}  # both messages go through response_url, so their order holds
    building, follow = (c.body for c in accord.fake.wait_for("response_url", before + 2)[before:])
    assert "Building a preview" in reply_text(building)
    assert building["response_type"] == follow["response_type"] == "ephemeral"
    text = reply_text(follow)
    assert "Accord digest — preview" in text
    assert "Open initiatives by health" in text and "red: 1" in text
    assert "on security hold: 1" in text
    assert "initiative hold placed" in text
    assert "deterministic summary" in text
    accord.fake.wait_idle()
    accord.fake.assert_no_call("chat.postMessage")
    assert runs(accord) == []
    # bare `/accord digest` is the preview too
    accord.command("digest")
    accord.fake.wait_for("response_url", before + 4)
    accord.fake.assert_no_call("chat.postMessage")


def test_digest_now_posts_once_to_the_digest_channel(accord: RunningAccord) -> None:
    seed(accord)
    before = len(answers(accord))
    reply = accord.command("digest now", user=CIO)
    assert reply.status == 200 and reply.elapsed < 1.5 and reply.json() == {}
    posted = accord.fake.wait_for("chat.postMessage")[0]
    assert posted.body["channel"] == DIGEST_CHANNEL
    text = reply_text(posted.body)
    assert "Accord digest ·" in text and "first digest, no trends yet" in text
    accord.fake.wait_for("response_url", 2)
    accord.fake.wait_idle()
    # the notice first; then the digest in the channel (from the outbox) and the confirmation
    order = answers(accord)[before:]
    assert sorted(method for method, _ in order) == [
        "chat.postMessage",
        "response_url",
        "response_url",
    ]
    assert order[0][0] == "response_url" and "Building the digest" in order[0][1]
    assert any("The digest is on its way" in text for _, text in order[1:])
    [run] = runs(accord)
    assert run.state == "posted" and run.kind == "manual" and run.requested_by == CIO
    assert run.snapshot is not None and run.snapshot["initiatives_health"]["red"] == 1


def test_digest_now_refusals_are_plain_and_post_nothing(accord: RunningAccord) -> None:
    refused = accord.command_text("digest now", user=OUTSIDER)
    assert "Only members of the CIO or CISO side can send the digest now" in refused
    wrong = accord.command_text("digest tomorrow")
    assert "is not something `/accord digest` can do" in wrong
    accord.fake.set_not_member(DIGEST_CHANNEL)
    answer = accord.command_text("digest now", user=CISO)
    assert "not a member of channel" in answer and "/invite @Accord" in answer
    accord.fake.wait_idle()
    assert [c for c in accord.fake.calls("chat.postMessage") if c.ok] == []
    assert runs(accord) == []  # nothing was built or queued


def test_digest_now_without_a_channel_explains(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> None:
    with running_accord(
        migrated_sqlite_url, fake_slack, clock=clock, accord_digest_channel=None
    ) as acc:
        text = acc.command_text("digest now")
        assert "No digest channel is configured" in text and "ACCORD_DIGEST_CHANNEL" in text
        assert runs(acc) == []


def test_scheduled_digest_posts_exactly_once_per_slot_with_trends(accord: RunningAccord) -> None:
    seed(accord)
    accord.clock.set(SLOT + timedelta(seconds=30))
    first = scheduled_digest(accord.services, accord.clock.now())
    assert first is not None
    # a second clock, a restart, a later run in the same slot: nothing more is posted
    assert scheduled_digest(accord.services, accord.clock.now()) is None
    accord.clock.advance(hours=20)  # the hourly retry job, still within the slot's grace
    assert scheduled_digest(accord.services, accord.clock.now()) is None
    assert len(posted_ok(accord)) == 1

    accord.command("initiative update INI-1 health:red")
    accord.clock.set(SLOT + timedelta(days=7, seconds=30))  # next Monday's slot
    second = scheduled_digest(accord.services, accord.clock.now())
    assert second is not None
    accord.deliver()
    posts = accord.fake.calls("chat.postMessage")
    assert len(posts) == 2
    text = reply_text(posts[1].body)
    assert "red: 2 (▲1)" in text and "green: 0 (▼1)" in text
    assert "Roll out MFA — updated (health)" in text
    keys = [run.slot_key for run in runs(accord)]
    assert keys == ["scheduled:2026-11-30T08:00Z", "scheduled:2026-12-07T08:00Z"]


def test_digest_jobs_are_registered_with_the_configured_cron(accord: RunningAccord) -> None:
    from bot.scheduler.registry import job_by_id

    job = job_by_id("digests.weekly")
    trigger = job.trigger(accord.services.settings)
    fire = trigger.get_next_fire_time(None, accord.clock.now())
    assert fire == SLOT
    retry = job_by_id("digests.retry").trigger(accord.services.settings)
    assert getattr(retry, "interval", None) == timedelta(hours=1)
    accord.clock.set(SLOT + timedelta(minutes=5))
    job.run(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()
    job.run(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()
    assert len(posted_ok(accord)) == 1


def posted_ok(accord: RunningAccord) -> list[dict[str, object]]:
    accord.deliver()
    return [call.body for call in accord.fake.calls("chat.postMessage") if call.ok]


def test_a_digest_during_a_slack_outage_arrives_once_when_slack_is_back(
    accord: RunningAccord,
) -> None:
    from bot.scheduler.registry import job_by_id

    weekly, retry = job_by_id("digests.weekly"), job_by_id("digests.retry")
    seed(accord)
    accord.clock.set(SLOT + timedelta(seconds=30))
    accord.fake.fail_next("chat.postMessage", status=500, times=3)  # Slack has an outage
    weekly.run(accord.services, notifier(accord), accord.clock.now())  # does not raise
    accord.deliver()
    assert posted_ok(accord) == []
    [run] = runs(accord)
    assert run.state == "posted" and run.attempts == 1  # built once, queued in the outbox

    for _ in range(4):  # Slack recovers; the outbox retries with backoff, no new digest
        accord.clock.advance(minutes=2)
        retry.run(accord.services, notifier(accord), accord.clock.now())
        accord.deliver()
        weekly.run(accord.services, notifier(accord), accord.clock.now())
        accord.deliver()
        accord.deliver()  # what the deliverer thread does every few seconds
    [posted] = posted_ok(accord)
    assert "Accord digest ·" in reply_text(posted)
    [run] = runs(accord)
    assert run.ts is not None and run.channel == DIGEST_CHANNEL


def test_a_digest_slack_refuses_for_the_whole_window_is_reported(accord: RunningAccord) -> None:
    from bot.scheduler.registry import job_by_id

    retry = job_by_id("digests.retry")
    accord.clock.set(SLOT + timedelta(seconds=30))
    accord.fake.error_next("chat.postMessage", "fatal_error", times=None)
    retry.run(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()
    for _ in range(30):
        accord.clock.advance(hours=1)
        posted_ok(accord)
    accord.fake.clear_errors()
    accord.clock.advance(hours=1)
    retry.run(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()
    posts = posted_ok(accord)
    assert len(posts) == 1  # only the notice: the digest itself was not posted late
    assert posts[0]["channel"] == COORDINATION
    assert "could not deliver the leadership digest" in reply_text(posts[0])


def test_a_missed_slot_is_posted_late_within_the_grace_period(accord: RunningAccord) -> None:
    """The clock was down at 08:00 (beyond APScheduler's misfire grace); the hourly job posts."""
    from bot.scheduler.registry import job_by_id

    accord.clock.set(SLOT + timedelta(hours=9))
    job_by_id("digests.retry").run(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()
    assert len(posted_ok(accord)) == 1
    assert [(r.slot_key, r.state) for r in runs(accord)] == [
        ("scheduled:2026-11-30T08:00Z", "posted")
    ]


def test_two_clocks_retrying_a_failed_slot_post_it_once(accord: RunningAccord) -> None:
    from bot.scheduler.registry import job_by_id

    retry = job_by_id("digests.retry")
    accord.clock.set(SLOT + timedelta(seconds=30))
    start = threading.Barrier(4)

    def clock_process() -> None:
        start.wait()
        retry.run(accord.services, notifier(accord), accord.clock.now())
        accord.deliver()

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(clock_process) for _ in range(4)]:
            future.result()
    assert len(posted_ok(accord)) == 1
    [run] = runs(accord)
    assert run.state == "posted" and run.attempts == 1
    # the claim itself: a posted slot cannot be claimed again, even by a retry
    assert (
        claim_run(
            accord.services.engine,
            key=run.slot_key,
            kind="scheduled",
            now=accord.clock.now(),
            retry=True,
        )
        is None
    )


def test_digest_text_cannot_ping(accord: RunningAccord) -> None:
    accord.command("initiative new Fix &lt;!channel&gt; now <!here>")
    accord.clock.set(SLOT + timedelta(minutes=1))
    scheduled_digest(accord.services, accord.clock.now())
    body = posted_ok(accord)[0]
    for text in mrkdwn_texts(body):
        assert "<!channel>" not in text and "<!here>" not in text


def test_a_second_digest_within_the_hour_asks_for_again(accord: RunningAccord) -> None:
    seed(accord)
    accord.command("digest now", user=CIO)
    accord.fake.wait_for("chat.postMessage")
    accord.fake.wait_for("response_url", 2)
    accord.wait_idle()
    accord.clock.advance(minutes=20)
    refused = accord.command_text("digest now", user=CISO)
    assert "A digest was already posted 20 min ago by" in refused
    assert "nothing was posted" in refused and "/accord digest now again" in refused
    accord.wait_idle()
    assert len(runs(accord)) == 1
    accord.command("digest now again", user=CISO)
    accord.fake.wait_for("chat.postMessage", 2)
    accord.wait_idle()
    assert len(runs(accord)) == 2
    # An hour after the last one, `digest now` posts without asking.
    accord.clock.advance(minutes=61)
    accord.command("digest now", user=CIO)
    accord.fake.wait_for("chat.postMessage", 3)
    accord.wait_idle()
    assert len(runs(accord)) == 3
