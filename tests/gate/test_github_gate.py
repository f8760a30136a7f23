"""GitHub custom deployment protection rules through real HTTP: a signed webhook in, the App's
review out to the fake GitHub; the clock's job retries and approves released waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.gate.models import GithubReview, ReviewState
from bot.scheduler.registry import job_by_id
from tests.fakes.github_api import (
    APP_ID,
    REVIEW,
    TOKENS,
    FakeGitHubServer,
    app_private_key,
    signed_webhook,
)
from tests.fakes.slack_api import TEAM_DOMAIN, FakeSlackServer
from tests.gate.helpers import Answer, call
from tests.harness import CISO, COORDINATION, FakeClock, RunningAccord, running_accord

WEBHOOK_SECRET = "github-webhook-secret-for-tests"


@pytest.fixture
def fake_github() -> Iterator[FakeGitHubServer]:
    with FakeGitHubServer() as server:
        yield server


def github_accord(
    migrated_database_url: str, slack: FakeSlackServer, github: FakeGitHubServer, clock: FakeClock
):  # type: ignore[no-untyped-def]
    return running_accord(
        migrated_database_url,
        slack,
        clock=clock,
        github_app_id=APP_ID,
        github_app_private_key=app_private_key(),
        github_webhook_secret=WEBHOOK_SECRET,
        github_api_base_url=github.base_url,
        accord_github_wait_environments="staging,acme/ledger@production",
    )


@pytest.fixture
def gh(
    migrated_database_url: str,
    fake_slack: FakeSlackServer,
    fake_github: FakeGitHubServer,
    clock: FakeClock,
) -> Iterator[RunningAccord]:
    with github_accord(migrated_database_url, fake_slack, fake_github, clock) as running:
        yield running


@pytest.fixture
def gh_sqlite(
    migrated_sqlite_url: str,
    fake_slack: FakeSlackServer,
    fake_github: FakeGitHubServer,
    clock: FakeClock,
) -> Iterator[RunningAccord]:
    with github_accord(migrated_sqlite_url, fake_slack, fake_github, clock) as running:
        yield running


def deliver(
    accord: RunningAccord,
    github: FakeGitHubServer,
    *,
    run_id: int = 1,
    environment: str = "production",
    repository: str = "acme/payments",
    secret: str = WEBHOOK_SECRET,
) -> Answer:
    body, headers = signed_webhook(
        secret,
        callback_url=github.callback_url(repository, run_id),
        repository=repository,
        environment=environment,
    )
    return call(accord.root_url, "POST", "/github/webhook", raw=body, headers=headers)


def run_clock_job(accord: RunningAccord) -> None:
    job_by_id("gate.github_reviews").run(accord.services, None, accord.clock.now())  # type: ignore[arg-type]


def hold_payments(accord: RunningAccord, cover: str = "github:acme/payments@production") -> None:
    accord.command_text(f"initiative new Patch the edge covers:{cover}", user=CISO)
    accord.command_text("initiative hold INI-1 unpatched CVE-2026-1234 on the edge", user=CISO)


def test_a_held_environment_is_rejected_naming_the_hold_and_a_free_one_approved(
    gh: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    hold_payments(gh)
    held = deliver(gh, fake_github, run_id=1)
    assert held.status == 200 and held.json() == {"state": "sent", "decision": "rejected"}
    [rejection] = fake_github.reviews()
    assert rejection["state"] == "rejected"
    assert rejection["environment_name"] == "production"
    assert "INI-1 (Patch the edge): unpatched CVE-2026-1234 on the edge" in rejection["comment"]
    assert f"placed by Slack user {CISO}" in rejection["comment"]
    # the link is the permalink of the hold's announcement in the coordination channel
    assert f"https://{TEAM_DOMAIN}.slack.com/archives/{COORDINATION}/p" in rejection["comment"]
    assert fake_github.calls(REVIEW)[0].path.endswith("/actions/runs/1/deployment_protection_rule")
    assert fake_github.calls(REVIEW)[0].authorization.startswith("Bearer ghs_fake")

    free = deliver(gh, fake_github, run_id=2, environment="qa")
    assert free.json() == {"state": "sent", "decision": "approved"}
    assert [review["state"] for review in fake_github.reviews()] == ["rejected", "approved"]
    with session_scope(gh.services.engine) as session:
        actions = [
            (event.action, event.actor_id)
            for event in session.exec(select(AuditEvent).order_by(AuditEvent.id))  # type: ignore[arg-type]
            if event.record_ref.startswith("GATE-")
        ]
    assert actions == [
        ("gate.blocked", "github:acme/payments"),
        ("gate.allowed", "github:acme/payments"),
    ]


def test_a_bad_signature_gets_401_and_no_callback(
    gh_sqlite: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    assert deliver(gh_sqlite, fake_github, secret="not-the-secret").status == 401
    body, headers = signed_webhook(WEBHOOK_SECRET, callback_url=fake_github.callback_url())
    unsigned = call(
        gh_sqlite.root_url,
        "POST",
        "/github/webhook",
        raw=body,
        headers={k: v for k, v in headers.items() if k != "X-Hub-Signature-256"},
    )
    assert unsigned.status == 401
    tampered = call(
        gh_sqlite.root_url,
        "POST",
        "/github/webhook",
        raw=body.replace(b"production", b"productioN"),
        headers=headers,
    )
    assert tampered.status == 401
    assert fake_github.calls() == []
    with session_scope(gh_sqlite.services.engine) as session:
        assert session.exec(select(GithubReview)).first() is None


def test_in_wait_mode_the_release_approves_the_waiting_deployment_exactly_once(
    gh: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    hold_payments(gh, cover="github:acme/payments@*")
    waiting = deliver(gh, fake_github, environment="staging")
    assert waiting.json() == {"state": "waiting", "decision": None}
    run_clock_job(gh)
    assert fake_github.calls(REVIEW) == []  # still held: nothing is sent

    gh.command_text("initiative release INI-1 patched and verified", user=CISO)
    run_clock_job(gh)
    run_clock_job(gh)
    assert deliver(gh, fake_github, environment="staging").json()["state"] == "sent"  # redelivery
    run_clock_job(gh)
    [approval] = fake_github.reviews()
    assert approval["state"] == "approved" and approval["environment_name"] == "staging"
    assert len(fake_github.calls(REVIEW)) == 1


def test_a_failed_callback_is_kept_and_retried_by_the_clock(
    gh_sqlite: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    accord = gh_sqlite
    fake_github.fail_next(REVIEW, status=502)
    first = deliver(accord, fake_github)
    assert first.status == 200 and first.json() == {"state": "pending", "decision": "approved"}
    assert fake_github.reviews() == []

    run_clock_job(accord)  # not due yet: the first retry waits 30 seconds
    assert len(fake_github.calls(REVIEW)) == 1
    fake_github.fail_next(REVIEW, status=429, retry_after=120)
    accord.clock.advance(seconds=31)
    run_clock_job(accord)
    accord.clock.advance(seconds=61)
    run_clock_job(accord)  # Retry-After (120 s) not over yet
    assert len(fake_github.calls(REVIEW)) == 2
    fake_github.fail_next(TOKENS, status=503)  # the cached token is still used: no effect
    accord.clock.advance(seconds=60)
    run_clock_job(accord)
    run_clock_job(accord)
    assert [review["state"] for review in fake_github.reviews()] == ["approved"]
    with session_scope(accord.services.engine) as session:
        review = session.exec(select(GithubReview)).one()
        assert review.state == ReviewState.SENT and review.attempts == 3


def test_a_callback_off_the_github_api_is_never_called(
    gh_sqlite: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    body, headers = signed_webhook(
        WEBHOOK_SECRET,
        callback_url="https://attacker.example/repos/acme/payments/actions/runs/1/x",
    )
    answer = call(gh_sqlite.root_url, "POST", "/github/webhook", raw=body, headers=headers)
    assert answer.status == 200 and answer.json()["state"] == "failed"
    assert fake_github.calls(REVIEW) == []


def test_two_clocks_at_once_send_a_review_once(
    gh: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    import threading

    fake_github.fail_next(REVIEW, status=500)
    assert deliver(gh, fake_github).json()["state"] == "pending"
    gh.clock.advance(minutes=5)
    start = threading.Barrier(2)

    def clock() -> None:
        start.wait()
        run_clock_job(gh)

    threads = [threading.Thread(target=clock) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert [review["state"] for review in fake_github.reviews()] == ["approved"]
    assert len(fake_github.calls(REVIEW)) == 2  # the failed first try and one resend


def _signed(body: bytes, event: str = "deployment_protection_rule") -> dict[str, str]:
    import hashlib
    import hmac

    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


def test_signed_but_odd_events_get_clear_answers_not_500(
    gh_sqlite: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    root = gh_sqlite.root_url
    ping = call(root, "POST", "/github/webhook", raw=b"{}", headers=_signed(b"{}", "ping"))
    assert ping.status == 200
    other = call(root, "POST", "/github/webhook", raw=b"{}", headers=_signed(b"{}", "push"))
    assert other.status == 202
    for body in (
        b"[1]",
        b"{not json",
        b'{"action":"requested"}',
        b'{"action":"requested",'
        b'"environment":"prod","repository":{"full_name":"a/b"},'
        b'"deployment_callback_url":"x","installation":{"id":"9"}}',
    ):
        answer = call(root, "POST", "/github/webhook", raw=body, headers=_signed(body))
        assert answer.status == 400, body
        assert set(answer.json()) == {"error"}
    assert fake_github.calls() == []


def test_an_environment_name_with_spaces_is_held_by_a_star_cover(
    gh_sqlite: RunningAccord, fake_github: FakeGitHubServer
) -> None:
    hold_payments(gh_sqlite, cover="github:acme/payments@*")
    answer = deliver(gh_sqlite, fake_github, environment="Production EU")
    assert answer.json() == {"state": "sent", "decision": "rejected"}
    assert fake_github.reviews()[0]["environment_name"] == "Production EU"
