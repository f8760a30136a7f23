"""Risks and disagreements on the touchpoint agenda and in the leadership digest, end to end:
records are made through the real commands, buttons and jobs; the agenda comes from the clock
job and the digest from `/accord digest preview` (or a post against the fake OpenAI server)."""

from __future__ import annotations

import html
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.bootstrap import build_web_client
from bot.export.review import md, review_markdown
from bot.scheduler import risk_jobs
from bot.scheduler.registry import job_by_id
from bot.slack.digest_delivery import make_digest, post_digest
from bot.slack.notifier import SlackNotifier
from tests.fakes.openai_api import FakeOpenAIServer
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    CIO,
    CISO,
    CISO_2,
    COORDINATION,
    EXEC,
    EXECUTIVE_CHANNEL,
    FakeClock,
    RunningAccord,
    reply_text,
    running_accord,
)


def notifier(accord: RunningAccord) -> SlackNotifier:
    return SlackNotifier(build_web_client(accord.services.settings))


def ok(accord: RunningAccord, text: str, *, user: str = CIO) -> str:
    result = accord.command_text(text, user=user)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


# -- records, made the way people make them ---------------------------------------------------


def request_risk(accord: RunningAccord, number: int, text: str) -> None:
    """The CISO side requests `RSK-<number>`; it waits for both sides' approval."""
    assert f"RSK-{number}" in ok(accord, f"risk new {text}", user=CISO)


def accept_risk(accord: RunningAccord, number: int, text: str) -> None:
    """Requested by the CISO, approved by another CISO-side member and by the CIO."""
    request_risk(accord, number, text)
    ok(accord, f"risk approve RSK-{number}", user=CISO_2)
    ok(accord, f"risk approve RSK-{number}", user=CIO)


def dispute(accord: RunningAccord, number: int, subject: str, cio: str, ciso: str) -> None:
    """`DIS-<number>`, raised by the CIO side; the CISO side states its own position."""
    assert f"DIS-{number}" in ok(accord, f'disagree "{subject}" {cio}', user=CIO)
    ok(accord, f"disagree position DIS-{number} {ciso}", user=CISO)


def escalate(accord: RunningAccord, number: int, by: str) -> str:
    reply = ok(accord, f"escalate DIS-{number} by:{by} to:<@{EXEC}|erin>", user=CISO)
    return reply.split("as *")[1].split("*")[0]  # the escalation's ref, e.g. ESC-2


def decide(accord: RunningAccord, escalation_ref: str) -> None:
    """The executive picks the first option in the escalation thread and confirms the modal."""
    root = next(
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if call.body.get("channel") == EXECUTIVE_CHANNEL
        and not call.body.get("thread_ts")
        and escalation_ref in reply_text(call.body)
    )
    action_id, value = next(
        (element["action_id"], element["value"])
        for block in root["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == "escalation.option.0"
    )
    opened = len(accord.fake.calls("views.open"))
    accord.slack.block_action(action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL)
    modal = accord.fake.wait_for("views.open", count=opened + 1)[opened].body["view"]
    values = {"rationale": {"value": {"type": "plain_text_input", "value": "Go with the CIO."}}}
    answer = accord.slack.view_submission(
        "escalation.decide", values, user_id=EXEC, private_metadata=modal["private_metadata"]
    )
    assert answer.status == 200 and answer.json() == {}, answer.json()


def _confirm_requests(accord: RunningAccord) -> list[dict[str, Any]]:
    return [
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if call.body.get("channel") == CISO and "Confirm settlement" in json.dumps(call.body)
    ]


def settle(accord: RunningAccord, number: int) -> None:
    """The CIO side proposes an outcome; the CISO side confirms it from its direct message."""
    asked_before = len(_confirm_requests(accord))
    ok(accord, f"disagree settle DIS-{number} patch on Sunday night", user=CIO)
    # The DM goes out after the ack: wait for it rather than race it.
    for seen in itertools.count(len(accord.fake.calls("chat.postMessage"))):
        accord.fake.wait_for("chat.postMessage", count=seen)
        if len(_confirm_requests(accord)) > asked_before:
            break
    request = _confirm_requests(accord)[-1]
    value = next(
        element["value"]
        for block in request["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == "disagreement.settle"
    )
    before = len(accord.fake.calls("response_url"))
    accord.slack.block_action("disagreement.settle", value, user_id=CISO)
    accord.fake.wait_for("response_url", count=before + 1)


# -- the agenda ---------------------------------------------------------------------------------


def run_touchpoint_clock(accord: RunningAccord) -> None:
    job_by_id("touchpoints.post_agendas").run(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()


def line_with(text: str, ref: str) -> str:
    lines = [line for line in text.splitlines() if f"*{ref}*" in line or f"{ref} " in line]
    assert len(lines) == 1, (ref, lines)
    return lines[0]


def test_agenda_lists_risks_to_decide_and_disagreements_to_resolve(accord: RunningAccord) -> None:
    # Wednesday 2026-11-25. The touchpoint meets on Mondays from 2026-12-07 at 09:00 UTC; its
    # first agenda is posted 24 h before, and the meeting after it is on 2026-12-14.
    request_risk(accord, 1, "Pending VPN exception likelihood:2 impact:2 expires:2027-03-01")
    accept_risk(accord, 2, "Expiring TLS exception likelihood:3 impact:3 expires:2026-12-10")
    accept_risk(accord, 3, "Long-lived FTP exception likelihood:1 impact:2 expires:2027-04-01")
    request_risk(accord, 4, "Revoked exception likelihood:1 impact:1 expires:2027-03-01")
    ok(accord, "risk revoke RSK-4 the system was decommissioned", user=CIO)
    accept_risk(accord, 5, "Expired exception likelihood:1 impact:1 expires:2026-11-30")
    request_risk(accord, 6, "Rejected exception likelihood:1 impact:1 expires:2027-03-01")
    ok(accord, "risk reject RSK-6 fix it instead", user=CIO)

    dispute(accord, 1, "Log retention", "keep 30 days; storage is costly", "keep 1 year for IR")
    dispute(accord, 2, "ERP go-live", "go live on the 1st", "wait for the pen test")
    overdue = escalate(accord, 2, by="2026-12-03")
    dispute(accord, 3, "Contractor laptops", "allow personal laptops", "managed devices only")
    on_time = escalate(accord, 3, by="2026-12-20")
    dispute(accord, 4, "Patch window", "Saturday", "Sunday")
    settle(accord, 4)
    dispute(accord, 5, "Old VPN", "keep it a month", "switch it off now")
    ok(accord, "disagree withdraw DIS-5 the vendor patched it", user=CIO)
    dispute(accord, 6, "Cloud region", "use the cheaper region", "stay in the EU")
    decided = escalate(accord, 6, by="2026-12-20")
    decide(accord, decided)

    ok(
        accord,
        f"touchpoint new Weekly sync every:weekly at:09:00 tz:UTC with:<@{CIO}|ann>,<@{CISO}|bo> "
        f"channel:<#{COORDINATION}|coordination> from:2026-12-07",
    )
    accord.clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    risk_jobs.expire(accord.services, notifier(accord), accord.clock.now())  # RSK-5 expires
    accord.deliver()
    accord.clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
    run_touchpoint_clock(accord)

    [agenda] = [
        call.body
        for call in accord.fake.calls("chat.postMessage")
        if "Agenda" in str(call.body.get("text", ""))
    ]
    assert agenda["channel"] == COORDINATION
    text = reply_text(agenda)
    print(text)
    assert "Risk acceptances to approve or renew" in text
    assert "Disagreements and escalations" in text

    pending = line_with(text, "RSK-1")
    assert "Pending VPN exception" in pending and "pending" in pending
    assert f"<@{CISO}>" in pending  # the requester owns it
    expiring = line_with(text, "RSK-2")
    assert "expiring" in expiring and "expires 2026-12-10" in expiring

    late = line_with(text, overdue)
    assert "awaiting decision" in late and "overdue" in late and "decide by 2026-12-03" in late
    assert "ERP go-live" in late and "DIS-2" in late and f"<@{EXEC}>" in late
    waiting = line_with(text, on_time)
    assert "awaiting decision" in waiting and "overdue" not in waiting and "DIS-3" in waiting
    still_open = line_with(text, "DIS-1")
    assert "Log retention" in still_open and f"<@{CIO}>" in still_open
    assert f"<@{CISO}>" in still_open
    # an escalated disagreement is on the agenda once: as its escalation
    assert text.count("DIS-2") == 1 and text.count("DIS-3") == 1

    for absent in ("RSK-3", "RSK-4", "RSK-5", "RSK-6", "DIS-4", "DIS-5", "DIS-6", decided):
        assert absent not in text, absent
    for absent in ("Long-lived FTP", "Revoked exception", "Expired exception", "Rejected"):
        assert absent not in text, absent
    for absent in ("Patch window", "Old VPN", "Cloud region"):
        assert absent not in text, absent


# -- the digest ---------------------------------------------------------------------------------


def count_group(body: dict[str, Any], title: str) -> dict[str, str]:
    """The "label: n" lines of one count group in the digest, by label (as Slack shows it)."""
    for block in body["blocks"]:
        for field in block.get("fields", []):
            lines = html.unescape(field["text"]).splitlines()
            if lines[0] == f"*{title}*":
                return dict(line.split(": ", 1) for line in lines[1:])
    raise AssertionError(f"no count group {title!r}")


def disagreement_blocks(body: dict[str, Any]) -> str:
    """The text of the digest from its "Open disagreements" section on."""
    texts = [json.dumps(block) for block in body["blocks"]]
    start = next(i for i, text in enumerate(texts) if "*Open disagreements*" in text)
    return reply_text({"blocks": body["blocks"][start:]})


def seed_for_digest(accord: RunningAccord) -> None:
    """Risk acceptances requested 200, 100 and 0 days before the digest; disagreements with
    escalations awaiting a decision (one overdue) and one decided long ago."""
    # T0 = 2026-11-25
    accept_risk(accord, 1, "Legacy FTP likelihood:1 impact:2 expires:2027-11-01")
    accept_risk(accord, 2, "Old Java runtime likelihood:2 impact:2 expires:2026-12-20")
    accept_risk(accord, 3, "Shared admin account likelihood:2 impact:2 expires:2026-12-20")
    # T0 + 100 days = 2027-03-05: RSK-2 and RSK-3 have expired; RSK-3 is renewed.
    accord.clock.advance(days=100)
    risk_jobs.expire(accord.services, notifier(accord), accord.clock.now())
    accord.deliver()
    assert "round 2" in ok(accord, "risk renew RSK-3 expires:2027-09-01", user=CISO)
    request_risk(accord, 4, "Unsupported firewall likelihood:3 impact:3 expires:2027-08-01")
    dispute(accord, 1, "Cloud region", "use the cheaper US region", "stay in the EU region")
    ok(accord, 'disagree update DIS-1 options:"US region | EU region"', user=CIO)
    overdue = escalate(accord, 1, by="2027-03-10")
    assert overdue == "ESC-1"
    dispute(accord, 2, "Old VPN", "keep it one more month", "switch it off now")
    decide(accord, escalate(accord, 2, by="2027-03-20"))
    # T0 + 200 days = 2027-06-13
    accord.clock.advance(days=100)
    accept_risk(accord, 5, "Exposed RDP likelihood:5 impact:5 expires:2027-08-01")
    request_risk(accord, 6, "Weak ciphers likelihood:3 impact:4 expires:2027-08-01")
    request_risk(accord, 7, "Revoked one likelihood:1 impact:1 expires:2027-08-01")
    ok(accord, "risk revoke RSK-7 no longer needed", user=CIO)
    request_risk(accord, 8, "Rejected one likelihood:1 impact:1 expires:2027-08-01")
    ok(accord, "risk reject RSK-8 fix it instead", user=CIO)
    dispute(accord, 3, "ERP go-live", "go live on the 1st", "wait for the pen test")
    assert escalate(accord, 3, by="2027-06-20") == "ESC-3"
    dispute(accord, 4, "Log retention", "keep 30 days", "keep one year for forensics")


def test_digest_preview_counts_risks_and_escalations_and_summarises_disagreements(
    accord: RunningAccord,
) -> None:
    seed_for_digest(accord)
    before = len(accord.fake.calls("response_url"))
    accord.command("digest preview")
    body = accord.fake.wait_for("response_url", before + 2)[-1].body  # after "Building…"
    assert "Accord digest — preview" in reply_text(body)

    # Open = draft, pending or accepted: RSK-1 (low), RSK-3 (low, renewal pending), RSK-4
    # (medium), RSK-5 (critical), RSK-6 (high); revoked, rejected and expired are not open.
    assert count_group(body, "Risk acceptances by band") == {
        "low": "2",
        "medium": "1",
        "high": "1",
        "critical": "1",
    }
    assert count_group(body, "Acceptance debt") == {
        "open < 90 days": "2",  # RSK-5, RSK-6
        "open 90–180 days": "1",  # RSK-4 (exactly 100 days)
        "open > 180 days": "2",  # RSK-1, RSK-3
        "expired, not renewed": "1",  # RSK-2 (RSK-3 was renewed)
    }
    assert count_group(body, "Waiting for a decision") == {"pending approvals": "3"}
    assert count_group(body, "Escalations") == {"awaiting decision": "2", "overdue": "1"}

    section = disagreement_blocks(body)
    print(reply_text(body))
    assert "3 open disagreements, 2 escalated, 1 past the decision deadline" in section
    for ref, cio, ciso in (
        ("DIS-1", "use the cheaper US region", "stay in the EU region"),
        ("DIS-3", "go live on the 1st", "wait for the pen test"),
        ("DIS-4", "keep 30 days", "keep one year for forensics"),
    ):
        # one block per disagreement; each side in its own words, quoted from the record
        [block] = [
            b for b in body["blocks"] if b.get("text", {}).get("text", "").startswith(f"*{ref}*")
        ]
        assert [field["text"] for field in block["fields"]] == [
            f"• *CIO side:* “{cio}”",
            f"• *CISO side:* “{ciso}”",
        ], ref
    assert "escalated ESC-1" in section and "deadline 2027-03-10 — 95d overdue" in section
    assert "escalated ESC-3" in section and "deadline 2027-06-20 (in 7d)" in section
    assert "Options on the table: US region; EU region" in section
    # escalated first, by deadline; the one still between the sides last
    assert section.index("*DIS-1*") < section.index("*DIS-3*") < section.index("*DIS-4*")
    assert "DIS-2" not in section and "Old VPN" not in section  # decided

    # The review pack (what `accord export review --format md` writes) has the same sections
    # and the same numbers as the Slack digest.
    pack = review_markdown(make_digest(accord.services, accord.clock.now()))
    for title in (
        "Open initiatives by health",
        "Initiatives by status",
        "Initiatives needing attention",
        "Risk acceptances by band",
        "Acceptance debt",
        "Waiting for a decision",
        "Escalations",
    ):
        group = pack[pack.index(f"### {title}\n") :].split("\n\n")[1]
        assert group.splitlines() == [
            f"- {md(label)}: {number}" for label, number in count_group(body, title).items()
        ], title
    assert pack.index("## Counts and trends") < pack.index("## What changed")
    assert pack.index("## What changed") < pack.index("## Open disagreements")
    assert "3 open disagreements, 2 escalated, 1 past the decision deadline" in pack
    assert pack.index("### DIS-1") < pack.index("### DIS-3") < pack.index("### DIS-4")
    assert "**CISO side:** wait for the pen test" in pack
    assert "escalated ESC-1 · deadline" not in pack  # facts keep Slack's order: deadline first
    assert "deadline 2027-03-10 — 95d overdue · escalated ESC-1" in pack


# -- the digest with an LLM summary ----------------------------------------------------------


@pytest.fixture
def ai() -> Any:
    with FakeOpenAIServer() as server:
        yield server


def test_real_disagreements_are_summarised_by_the_llm_and_the_answer_is_accepted(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer, clock: FakeClock, ai: FakeOpenAIServer
) -> None:
    with running_accord(
        migrated_sqlite_url,
        fake_slack,
        clock=clock,
        openai_api_key="sk-test",
        openai_base_url=ai.base_url,
    ) as accord:
        dispute(accord, 1, "ERP go-live", "go live on the 1st", "wait for the pen test")
        escalate(accord, 1, by="2026-12-05")
        dispute(accord, 2, "Contractor laptops", "allow personal laptops", "managed only")
        dispute(accord, 3, "Old VPN", "keep it one more month", "switch it off now")
        ok(accord, "disagree withdraw DIS-3 the vendor patched it", user=CIO)
        ai.reply_json(
            {
                "items": [
                    {
                        "ref": "DIS-1",
                        "overview": "LLM-SUMMARY DIS-1: executives decide the ERP go-live (ESC-1).",
                        "question": "LLM: go live on the 1st or after the pen test?",
                    },
                    {
                        "ref": "DIS-2",
                        "overview": "LLM-SUMMARY DIS-2: may contractors use personal laptops?",
                        "question": "LLM: personal laptops or managed devices only?",
                    },
                ]
            }
        )
        posted = post_digest(accord.services, accord.clock.now(), key="test:llm", kind="manual")
        assert posted is not None
        accord.deliver()
        body = accord.fake.calls("chat.postMessage")[-1].body
        text = disagreement_blocks(body)
        assert "LLM (gpt-4o-mini), checked against the records" in reply_text(body)
        assert "LLM-SUMMARY DIS-1" in text and "LLM-SUMMARY DIS-2" in text
        assert "LLM: personal laptops or managed devices only?" in text
        # the sides' positions are theirs, from the records
        assert "• *CISO side:* “wait for the pen test”" in text
        assert "• *CIO side:* “allow personal laptops”" in text
        assert "escalated ESC-1" in text and "DIS-3" not in text
        [request] = ai.requests()
        records = request["messages"][1]["content"].split("<records>")[1].split("</records>")[0]
        sent = {record["ref"]: record for record in json.loads(records)}
        assert set(sent) == {"DIS-1", "DIS-2"}
        assert sent["DIS-1"]["escalation_ref"] == "ESC-1"
        assert sent["DIS-1"]["deadline"] == "2026-12-05"
        assert sent["DIS-2"]["cio_position"] == "allow personal laptops"
