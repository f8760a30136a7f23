"""The gate in Slack: a hold is announced with what it blocks, and its thread gathers each
blocked deployment (once), the overrides and the release; the digest counts them."""

from __future__ import annotations

import re
from typing import Any

from bot.db import session_scope
from bot.domain.gate.coverage import COVERS_MAX, SERVICE_MAX
from bot.domain.initiatives import InitiativeCoverage
from tests.fakes.block_kit import MESSAGE_TEXT_LIMIT, block_text_length
from tests.fakes.github_api import FakeGitHubServer
from tests.gate.helpers import call, new_token
from tests.gate.test_github_gate import deliver, fake_github, gh  # noqa: F401  (fixtures)
from tests.harness import (
    CIO,
    CISO,
    CISO_2,
    CISO_FROM_GROUP,
    COORDINATION,
    EXEC,
    EXECUTIVE_CHANNEL,
    RunningAccord,
    reply_text,
)

PIPELINE = "https://gitlab.example.com/acme/payments/-/pipelines/42"


def announcement(accord: RunningAccord, ref: str = "INI-1") -> dict[str, Any]:
    accord.wait_idle()
    (found,) = [
        message
        for message in accord.fake.messages_in(COORDINATION)
        if "thread_ts" not in message and f"security hold* on *{ref}*" in reply_text(message)
    ]
    return found


def thread(accord: RunningAccord, root: dict[str, Any]) -> list[str]:
    accord.wait_idle()
    return [
        reply_text(message)
        for message in accord.fake.messages_in(COORDINATION)
        if message.get("thread_ts") == root["ts"]
    ]


def check(accord: RunningAccord, token: str, **attempt: str) -> bool:
    answer = call(accord.root_url, "POST", "/api/v1/gate/checks", token=token, payload=attempt)
    assert answer.status == 200, answer.body
    return bool(answer.json()["allowed"])


def test_a_hold_announces_what_it_blocks_and_its_thread_tells_each_blocked_deployment_once(
    accord: RunningAccord,
) -> None:
    token = new_token(accord, "gitlab")
    accord.command_text("initiative new Patch covers:payments-api@*,ledger@production", user=CISO)
    accord.command_text("initiative hold INI-1 unpatched CVE <!channel> & more", user=CISO)
    root = announcement(accord)
    text = reply_text(root)
    assert "Deployments blocked:* `ledger@production`, `payments-api@*`" in text
    assert "unpatched CVE @channel &amp; more" in text  # escaped once
    assert thread(accord, root) == []

    attempt = {"service": "payments-api", "environment": "production", "version": "v1.4.2"}
    posts = len(accord.fake.calls("chat.postMessage"))
    assert not check(accord, token, **attempt, pipeline_url=PIPELINE)
    # the deliverer is woken by the API's commit (its idle tick is 5 s): nobody drains here
    accord.fake.wait_for("chat.postMessage", posts + 1, timeout=3)
    assert not check(accord, token, **attempt, pipeline_url=PIPELINE)  # the pipeline asks again
    [blocked] = thread(accord, root)
    assert "Deployment of `payments-api@production` *blocked* by the hold on *INI-1*" in blocked
    assert "token `gitlab`" in blocked and "`v1.4.2`" in blocked
    assert "2026-11-25 10:00 UTC" in blocked and f"<{PIPELINE}|pipeline run>" in blocked

    assert not check(accord, token, service="ledger", environment="production", version="v2")
    assert check(accord, token, service="ledger", environment="staging")  # not covered
    assert len(thread(accord, root)) == 2

    refused = accord.command_text("initiative update INI-1 covers:ledger@*", user=CIO)
    assert "Only the CISO side (or an executive on neither side) can take systems out of" in refused
    accord.command_text("initiative update INI-1 covers:ledger@*", user=CISO)
    assert "its hold now blocks: `ledger@*`" in thread(accord, root)[-1]
    assert check(accord, token, service="payments-api", environment="production")
    assert len(thread(accord, root)) == 3  # allowed checks are not posted


def test_an_override_is_told_in_the_thread_the_executive_channel_and_to_the_ciso_side(
    accord: RunningAccord,
) -> None:
    accord.command_text("initiative new Patch covers:payments-api@production", user=CISO)
    accord.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    root = announcement(accord)
    accord.fake.clear()
    accord.command_text(
        "gate override INI-1 payments-api@production 2h hotfix <@U0OUT1> now", user=EXEC
    )
    [in_thread] = thread(accord, root)
    assert "let `payments-api@production` deploy through the security hold on *INI-1*" in in_thread
    assert "until 2026-11-25 12:00 UTC" in in_thread
    assert "hotfix @U0OUT1 now" in in_thread and "<@U0OUT1>" not in in_thread  # no mention
    executive = [reply_text(c.body) for c in accord.posts_in(EXECUTIVE_CHANNEL)]
    assert len(executive) == 1 and "*Break glass:*" in executive[0]
    for member in (CISO, CISO_2, CISO_FROM_GROUP):  # a user group's members too
        [dm] = accord.fake.messages_in(member)
        assert "*Break glass:*" in reply_text(dm)

    accord.command_text("initiative release INI-1 patched and verified", user=CISO)
    released = thread(accord, root)[-1]
    assert "released the security hold on *INI-1*: patched and verified" in released


def test_an_initiative_covering_nothing_says_so(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command_text("initiative new Review the VPN", user=CISO)
    accord.command_text("initiative hold INI-1 legacy VPN still reachable", user=CISO)
    assert "_no systems covered yet_" in reply_text(announcement(accord))


def test_the_digest_counts_blocked_deployments_and_overrides(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    token = new_token(accord)
    accord.command_text("initiative new Patch covers:payments-api@*", user=CISO)
    accord.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    assert not check(accord, token, service="payments-api", environment="production")
    assert not check(accord, token, service="payments-api", environment="staging")
    accord.command_text("gate override INI-1 payments-api@production 1h hotfix", user=EXEC)
    before = len(accord.fake.calls("response_url"))
    accord.command("digest preview")
    _, follow = (c.body for c in accord.fake.wait_for("response_url", before + 2)[before:])
    text = reply_text(follow)
    assert "Deployment gate since the last digest" in text
    assert "deployments blocked: 2" in text and "overrides granted: 1" in text


def test_a_github_rejection_is_posted_once_however_often_github_redelivers_it(
    gh: RunningAccord,  # noqa: F811
    fake_github: FakeGitHubServer,  # noqa: F811
) -> None:
    gh.command_text("initiative new Patch covers:github:acme/payments@*", user=CISO)
    gh.command_text("initiative hold INI-1 unpatched CVE", user=CISO)
    root = announcement(gh)
    first = deliver(gh, fake_github, run_id=7)
    again = deliver(gh, fake_github, run_id=7)  # GitHub redelivers the same event
    assert first.json() == again.json() == {"state": "sent", "decision": "rejected"}
    [blocked] = thread(gh, root)
    assert "`github:acme/payments@production` *blocked* by the hold on *INI-1*" in blocked
    assert "GitHub `acme/payments` (started by `octocat`)" in blocked
    assert "`8f2e1c0ffee`" in blocked and "*Ref:* `main`" in blocked

    waiting = deliver(gh, fake_github, run_id=8, environment="staging")  # a "wait" environment
    assert waiting.json() == {"state": "waiting", "decision": None}
    assert len(thread(gh, root)) == 2


def test_the_announcement_of_a_wide_long_named_initiative_stays_within_slack_limits(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    title = "R&D keys " + "&" * 130
    accord.command_text(f"initiative new {title}", user=CISO)
    with session_scope(accord.services.engine) as session:  # 50 systems, the longest names
        for n in range(COVERS_MAX):
            service = f"{n:02d}" + "s" * (SERVICE_MAX - 2)
            session.add(InitiativeCoverage(initiative_id=1, service=service, environment="*"))  # type: ignore[call-arg]
    accord.command_text("initiative hold INI-1 " + "reason & <b> " * 30, user=CISO)
    root = announcement(accord)
    assert 0 < block_text_length(root["blocks"]) < MESSAGE_TEXT_LIMIT
    text = reply_text(root)
    assert "R&amp;D keys &amp;" in text and "`00sss" in text
    assert re.search(r"and \d+ more \(`/accord initiative show`\)", text)
