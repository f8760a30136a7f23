"""Disagreements and escalation threads, through the signed-HTTP path and the fake Slack."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlmodel import func, select

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.disagreements import Disagreement, DisagreementState
from bot.domain.escalations import Escalation, EscalationState, list_pending_escalations
from bot.domain.initiatives import Initiative
from bot.scheduler import disagreement_jobs
from bot.slack.notifier import SlackNotifier
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    CIO,
    CISO,
    COORDINATION,
    EXEC,
    EXECUTIVE_CHANNEL,
    OUTSIDER,
    FakeClock,
    RunningAccord,
    reply_text,
    running_accord,
)


def count(accord: RunningAccord, model: type, *where: Any) -> int:
    with session_scope(accord.services.engine) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int(session.exec(query).one())


def exec_posts(accord: RunningAccord) -> list[dict[str, Any]]:
    return [
        c.body
        for c in accord.fake.calls("chat.postMessage")
        if c.body.get("channel") == EXECUTIVE_CHANNEL and c.ok
    ]


def roots(accord: RunningAccord) -> list[dict[str, Any]]:
    return [b for b in exec_posts(accord) if not b.get("thread_ts")]


def replies(accord: RunningAccord) -> list[dict[str, Any]]:
    return [b for b in exec_posts(accord) if b.get("thread_ts")]


def dms_to(accord: RunningAccord, user_id: str) -> list[dict[str, Any]]:
    return [
        c.body for c in accord.fake.calls("chat.postMessage") if c.body.get("channel") == user_id
    ]


def text_of(body: dict[str, Any]) -> str:
    return reply_text(body)


def wait_calls(
    accord: RunningAccord,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    count: int = 1,
    method: str = "chat.postMessage",
) -> list[dict[str, Any]]:
    """Posts and DMs go out after the ack: wait (without sleeping) for `count` matching calls."""
    seen = 1
    while True:
        calls = accord.fake.wait_for(method, count=seen)
        matching = [c.body for c in calls if c.ok and predicate(c.body)]
        if len(matching) >= count:
            return matching
        seen = len(calls) + 1


def containing(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: text in json.dumps(body)


def escalated_dispute(accord: RunningAccord, *, by: str = "2026-12-05") -> dict[str, Any]:
    """INI-1 on security hold, DIS-1 with both positions and options, escalated as ESC-1."""
    accord.command("initiative new Deploy the new payment gateway")
    accord.command("initiative hold INI-1 unpatched CVE-2026-1234 on the gateway", user=CISO)
    created = accord.command_text(
        "disagree INI-1 we must go live on the 1st; revenue depends on it"
    )
    assert "Recorded *DIS-1*" in created and "CISO side was asked" in created
    wait_calls(accord, lambda b: b["channel"] == CISO and "disagreement.position.ciso" in str(b))
    accord.command_text("disagree position DIS-1 the CVE is remotely exploitable", user=CISO)
    accord.command_text(
        'disagree update DIS-1 business:"EUR 2M a month" '
        'options:"Go live now | Delay two weeks | Go live behind a WAF"'
    )
    accord.command_text('disagree update DIS-1 security:"card data exposure"', user=CISO)
    reply = accord.command_text(f"escalate DIS-1 by:{by} to:<@{EXEC}|erin>", user=CISO)
    assert "as *ESC-1*" in reply
    return roots(accord)[0]


def test_escalation_is_one_root_message_and_every_update_a_reply(accord: RunningAccord) -> None:
    root = escalated_dispute(accord)
    assert len(roots(accord)) == 1
    brief = text_of(root)
    for expected in (
        "Decision needed",
        "ESC-1",
        "we must go live on the 1st",
        "remotely exploitable",
        "EUR 2M a month",
        "card data exposure",
        "Delay two weeks",
        "2026-12-05",
        "INI-1 is on security hold",
        "unpatched CVE-2026-1234",
    ):
        assert expected in brief, expected
    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, 1)
        assert escalation is not None
        root_ts = escalation.thread_ts
        assert escalation.channel_id == EXECUTIVE_CHANNEL and root_ts
    # A new position on the escalated disagreement is a reply in the thread, not a new message.
    accord.command_text("disagree position DIS-1 a WAF rule does not cover this CVE", user=CISO)
    accord.command_text('disagree update DIS-1 security:"card data of 3M customers"', user=CISO)
    wait_calls(accord, containing("card data of 3M customers"))
    accord.fake.wait_idle()
    assert len(roots(accord)) == 1
    assert [r["thread_ts"] for r in replies(accord)] == [root_ts, root_ts]
    assert "a WAF rule does not cover this CVE" in text_of(replies(accord)[0])

    events = count(accord, AuditEvent, AuditEvent.record_ref == "ESC-1")
    assert events == 1  # escalation.created


def _decision_button(root: dict[str, Any], index: int) -> tuple[str, str]:
    for block in root["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == f"escalation.option.{index}":
                return element["action_id"], element["value"]
    raise AssertionError("no decision button")


def test_decision_records_once_even_when_clicked_twice_or_retried(accord: RunningAccord) -> None:
    root = escalated_dispute(accord)
    action_id, value = _decision_button(root, 2)
    accord.slack.block_action(
        action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL, action_ts="1.1"
    )
    accord.slack.block_action(
        action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL, action_ts="1.1"
    )
    accord.slack.block_action(
        action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL, action_ts="1.2"
    )
    opened = accord.fake.wait_for("views.open", count=2)
    accord.fake.wait_idle()
    assert len(accord.fake.calls("views.open")) == 2  # Slack's retry (same action_ts) is a no-op
    modal = opened[0].body["view"]
    assert "Go live behind a WAF" in text_of(modal)
    assert "Release the hold on INI-1" in json.dumps(modal["blocks"])
    hold_box = next(b for b in modal["blocks"] if b.get("block_id") == "release_hold")
    assert [o["value"] for o in hold_box["element"]["options"]] == ["yes"]  # as in the shell
    values = {
        "rationale": {"value": {"type": "plain_text_input", "value": "WAF plus virtual patch."}},
        "release_hold": {"value": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
    }
    first = accord.slack.view_submission(
        "escalation.decide",
        values,
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V1",
    )
    assert first.status == 200 and first.json() == {}
    retried = accord.slack.view_submission(
        "escalation.decide",
        values,
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V1",
        retry_num=1,
    )
    assert retried.status == 200 and retried.json() == {}
    second_modal = opened[1].body["view"]
    other = accord.slack.view_submission(
        "escalation.decide",
        values,
        user_id=EXEC,
        private_metadata=second_modal["private_metadata"],
        view_id="V2",
    )
    assert other.json()["response_action"] == "errors"
    assert "already decided" in json.dumps(other.json())

    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, 1)
        disagreement = session.get(Disagreement, 1)
        initiative = session.get(Initiative, 1)
        assert escalation is not None and disagreement is not None and initiative is not None
        assert escalation.state == EscalationState.DECIDED
        assert escalation.decision == "Go live behind a WAF"
        assert escalation.decided_by == EXEC and escalation.rationale == "WAF plus virtual patch."
        assert disagreement.state == DisagreementState.DECIDED
        assert disagreement.outcome and "Go live behind a WAF" in disagreement.outcome
        assert initiative.on_hold is False
        root_ts = escalation.thread_ts
    assert count(accord, AuditEvent, AuditEvent.action == "escalation.decided") == 1
    assert count(accord, AuditEvent, AuditEvent.action == "initiative.hold_released") == 1
    decisions = [r for r in replies(accord) if "Decision on ESC-1" in text_of(r)]
    assert len(decisions) == 1 and decisions[0]["thread_ts"] == root_ts
    assert len(roots(accord)) == 1
    for side_person in (CIO, CISO):
        assert any("Decision on ESC-1" in text_of(dm) for dm in dms_to(accord, side_person))
    updated = accord.fake.wait_for("chat.update")[0].body
    assert updated["ts"] == root_ts and "escalation.option" not in json.dumps(updated["blocks"])
    # the hold's own thread in the coordination channel hears of the release, and by what
    coordination = accord.fake.messages_in(COORDINATION)
    [hold_root] = [m for m in coordination if "security hold* on *INI-1*" in reply_text(m)]
    [released] = [m for m in coordination if m.get("thread_ts") == hold_root["ts"]]
    assert "hold on *INI-1* by the decision of ESC-1: Executive decision" in reply_text(released)


def test_only_executives_can_decide(accord: RunningAccord) -> None:
    root = escalated_dispute(accord)
    action_id, value = _decision_button(root, 0)
    for person in (CIO, CISO, OUTSIDER):
        accord.slack.block_action(action_id, value, user_id=person, channel_id=EXECUTIVE_CHANNEL)
    refusals = accord.fake.wait_for("response_url", count=3)
    for refusal in refusals:
        assert refusal.body["response_type"] == "ephemeral"
        assert "Only configured executives can decide" in text_of(refusal.body)
    accord.fake.assert_no_call("views.open")
    # A forged submission by a non-executive changes nothing either.
    forged = accord.slack.view_submission(
        "escalation.decide",
        {},
        user_id=CIO,
        private_metadata=json.dumps({"id": 1, "o": 0}),
    )
    assert forged.json()["response_action"] == "errors"
    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, 1)
        assert escalation is not None and escalation.state == EscalationState.PENDING
    assert count(accord, AuditEvent, AuditEvent.record_ref == "ESC-1") == 1


def test_updates_land_in_the_original_thread_after_a_restart(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer
) -> None:
    clock = FakeClock()
    with running_accord(migrated_sqlite_url, fake_slack, clock=clock) as first:
        escalated_dispute(first)
        root_ts = roots(first)[0]
    with running_accord(migrated_sqlite_url, fake_slack, clock=clock) as second:
        second.command_text("disagree position DIS-1 new facts after the restart", user=CISO)
        wait_calls(second, containing("new facts after the restart"))
        posts = replies(second)
        assert (
            posts and posts[-1]["thread_ts"] and "new facts after the restart" in text_of(posts[-1])
        )
        with session_scope(second.services.engine) as session:
            escalation = session.get(Escalation, 1)
            assert escalation is not None and posts[-1]["thread_ts"] == escalation.thread_ts
        assert len(roots(second)) == 1
        assert root_ts["channel"] == EXECUTIVE_CHANNEL


def test_bad_input_gets_a_helpful_reply_and_changes_nothing(accord: RunningAccord) -> None:
    accord.command_text('disagree "Patch window for the ERP" the window must be Sunday')
    accord.command_text("disagree settle DIS-1 Sunday 02:00-04:00")
    # The CISO side confirms by button: DIS-1 is settled.
    request = wait_calls(
        accord, lambda b: b["channel"] == CISO and "Confirm settlement" in json.dumps(b)
    )[-1]
    value = [
        e["value"]
        for b in request["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "disagreement.settle"
    ][0]
    accord.slack.block_action("disagreement.settle", value, user_id=CISO)
    accord.fake.wait_for("response_url")
    accord.command_text('disagree "Logging retention" keep 90 days')
    before = (count(accord, Escalation), count(accord, AuditEvent))
    cases = {
        "escalate DIS-1": "DIS-1 is settled",
        "escalate DIS-99": "There is no DIS-99",
        "escalate DIS-2 by:2026-11-01": "is not in the future",
        "escalate DIS-2 by:tomorrow": "is not a valid decision date",
        f"escalate DIS-2 to:<@{CIO}|ann>": "not a configured executive",
        "escalate INI-2": "is not a valid id",
        "escalate": "Which disagreement",
        "disagree list of grievances": "`list` takes",
        "disagree because I say so": "quoted subject",
        "disagree INI-42 nope": "There is no INI-42",
        "disagree show DIS-7": "There is no DIS-7",
        'disagree update DIS-2 options:"a|b|c|d|e|f"': "at most 5 options",
    }
    for command, expected in cases.items():
        reply = accord.command(command, user=CISO)
        payload = reply.json()
        assert payload.get("response_type") == "ephemeral", command
        assert expected in reply_text(payload), (command, reply_text(payload))
    assert (count(accord, Escalation), count(accord, AuditEvent)) == before
    assert roots(accord) == []
    with session_scope(accord.services.engine) as session:
        settled = session.get(Disagreement, 1)
        assert settled is not None and settled.state == DisagreementState.SETTLED
        assert settled.outcome == "Sunday 02:00-04:00"


def test_bot_not_in_executive_channel_is_explained_and_nothing_is_done(
    accord: RunningAccord,
) -> None:
    accord.command_text('disagree "EDR on build agents" agents are too slow with EDR')
    accord.fake.set_not_member(EXECUTIVE_CHANNEL)
    text = accord.command_text("escalate DIS-1", user=CISO)
    assert "is not a member of channel" in text and "/invite @Accord" in text
    assert count(accord, Escalation) == 0
    with session_scope(accord.services.engine) as session:
        d = session.get(Disagreement, 1)
        assert d is not None and d.state == DisagreementState.OPEN
    assert count(accord, AuditEvent, AuditEvent.action == "disagreement.escalated") == 0
    accord.fake.set_member(EXECUTIVE_CHANNEL)
    # (PostgreSQL's sequence may skip the number the rolled-back attempt reserved.)
    assert "Escalated *DIS-1* as *ESC-" in accord.command_text("escalate DIS-1", user=CISO)
    assert count(accord, Escalation) == 1 and len(roots(accord)) == 1


def _notifier(accord: RunningAccord) -> SlackNotifier:
    return SlackNotifier(build_web_client(accord.services.settings))


def test_overdue_escalation_is_reannounced_once_a_day_in_its_thread(accord: RunningAccord) -> None:
    escalated_dispute(accord, by="2026-11-27")
    notifier = _notifier(accord)
    accord.clock.advance(days=3)
    today = accord.clock.now().date()
    with session_scope(accord.services.engine) as session:
        pending = list_pending_escalations(session, today=today)
        assert [e.ref for e in pending] == ["ESC-1"] and pending[0].is_overdue(today)
    disagreement_jobs.deadlines(accord.services, notifier, accord.clock.now())
    accord.deliver()
    disagreement_jobs.deadlines(accord.services, notifier, accord.clock.now())
    accord.deliver()
    overdue = [r for r in replies(accord) if "ESC-1 is overdue" in text_of(r)]
    assert len(overdue) == 1
    assert "overdue" in accord.command_text("disagree show DIS-1")
    assert "overdue" in accord.command_text("disagree list")
    accord.clock.advance(days=1)
    disagreement_jobs.deadlines(accord.services, notifier, accord.clock.now())
    accord.deliver()
    assert len([r for r in replies(accord) if "ESC-1 is overdue" in text_of(r)]) == 2


def test_time_box_proposes_then_escalates_unless_snoozed(accord: RunningAccord) -> None:
    accord.command_text('disagree "MFA for contractors" contractors need a grace period')
    accord.command_text('disagree "USB ports on kiosks" kiosks need USB scanners')
    notifier = _notifier(accord)
    accord.clock.advance(days=15)
    disagreement_jobs.timebox(accord.services, notifier, accord.clock.now())
    accord.deliver()
    disagreement_jobs.timebox(accord.services, notifier, accord.clock.now())
    accord.deliver()
    proposals = [dm for dm in dms_to(accord, CIO) if "Escalate now" in json.dumps(dm)]
    assert len(proposals) == 2  # one per disagreement, not doubled by the second run
    # The CISO side snoozes DIS-2 with a reason.
    accord.slack.block_action("disagreement.snooze", "2", user_id=CISO)
    modal = accord.fake.wait_for("views.open")[0].body["view"]
    reply = accord.slack.view_submission(
        "disagreement.snooze",
        {"reason": {"value": {"type": "plain_text_input", "value": "vendor fix next week"}}},
        user_id=CISO,
        private_metadata=modal["private_metadata"],
    )
    assert reply.json() == {}
    accord.clock.advance(days=4)
    disagreement_jobs.timebox(accord.services, notifier, accord.clock.now())
    accord.deliver()
    disagreement_jobs.timebox(accord.services, notifier, accord.clock.now())
    accord.deliver()
    assert len(roots(accord)) == 1 and "Accord (time box)" in text_of(roots(accord)[0])
    with session_scope(accord.services.engine) as session:
        first, second = session.get(Disagreement, 1), session.get(Disagreement, 2)
        assert first is not None and first.state == DisagreementState.ESCALATED
        assert second is not None and second.state == DisagreementState.OPEN
        assert second.snooze_reason == "vendor fix next week"
    assert count(accord, AuditEvent, AuditEvent.action == "disagreement.snoozed") == 1


def test_more_information_and_defer_are_recorded_in_the_thread(accord: RunningAccord) -> None:
    escalated_dispute(accord, by="2026-11-27")
    accord.slack.block_action(
        "escalation.more_info", "1", user_id=EXEC, channel_id=EXECUTIVE_CHANNEL
    )
    modal = accord.fake.wait_for("views.open")[0].body["view"]
    accord.slack.view_submission(
        "escalation.more_info",
        {"rationale": {"value": {"type": "plain_text_input", "value": "What does a delay cost?"}}},
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V1",
    )
    accord.slack.block_action("escalation.defer", "1", user_id=EXEC, channel_id=EXECUTIVE_CHANNEL)
    modal = accord.fake.wait_for("views.open", count=2)[1].body["view"]
    past = accord.slack.view_submission(
        "escalation.defer",
        {
            "date": {"value": {"type": "datepicker", "selected_date": "2026-11-20"}},
            "rationale": {"value": {"type": "plain_text_input", "value": "board meeting"}},
        },
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V2",
    )
    assert past.json()["errors"]["date"].startswith("Defer to a date after today")
    accord.slack.view_submission(
        "escalation.defer",
        {
            "date": {"value": {"type": "datepicker", "selected_date": "2026-12-10"}},
            "rationale": {"value": {"type": "plain_text_input", "value": "board meeting"}},
        },
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V2",
        hash="h2",
    )
    texts = [text_of(r) for r in replies(accord)]
    assert any("needs more information" in t and "What does a delay cost?" in t for t in texts)
    assert any("deferred ESC-1 to *2026-12-10*" in t for t in texts)
    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, 1)
        assert escalation is not None and escalation.state == EscalationState.DEFERRED
        assert str(escalation.decide_by) == "2026-12-10"
    assert count(accord, AuditEvent, AuditEvent.action == "escalation.deferred") == 1


# --- the second round: options that change, transactions, refreshes, paging, withdrawal ---------


def _root_updates(accord: RunningAccord, root_ts: str) -> list[dict[str, Any]]:
    return [
        c.body for c in accord.fake.calls("chat.update") if c.body.get("ts") == root_ts and c.ok
    ]


def _escalation(accord: RunningAccord, number: int = 1) -> Escalation:
    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, number)
        assert escalation is not None
        return escalation


def test_after_escalation_neither_side_changes_the_options_the_executive_sees(
    accord: RunningAccord,
) -> None:
    root = escalated_dispute(accord)
    action_id, value = _decision_button(root, 1)  # "Delay two weeks"
    accord.slack.block_action(action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL)
    modal = accord.fake.wait_for("views.open")[0].body["view"]
    assert "Delay two weeks" in text_of(modal)
    updates = len(accord.fake.calls("chat.update"))
    # The CIO side tries to replace the options while the executive's form is open.
    refused = accord.command_text('disagree update DIS-1 options:"Go live now | Cancel the launch"')
    assert "options executives choose from change only with both sides" in refused
    assert len(accord.fake.calls("chat.update")) == updates
    accord.slack.view_submission(
        "escalation.decide",
        {"rationale": {"value": {"type": "plain_text_input", "value": "two weeks it is"}}},
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
        view_id="V1",
    )
    assert _escalation(accord).decision == "Delay two weeks"


def test_the_brief_leaves_after_the_escalation_commits_and_its_ts_is_stored(
    accord: RunningAccord,
) -> None:
    """While Slack is posting the brief, the escalation is committed (another connection sees
    it pending and the disagreement escalated): the post never runs inside a transaction, and
    it carries its outbox id so a retry after a crash finds it instead of posting twice."""
    accord.command_text('disagree "EDR on build agents" agents are too slow with EDR')
    seen: list[tuple[str, str]] = []
    metadata: list[Any] = []

    def post(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("channel") == EXECUTIVE_CHANNEL and not body.get("thread_ts"):
            with session_scope(accord.services.engine) as session:
                rows = session.exec(select(Escalation)).all()
                d = session.get(Disagreement, 1)
                assert d is not None
                seen.extend((row.state.value, d.state.value) for row in rows)
            metadata.append(body.get("metadata"))
        return {"ok": True, "channel": body["channel"], "ts": "1800000000.000100"}

    accord.fake.set_response("chat.postMessage", post)
    assert "as *ESC-1*" in accord.command_text("escalate DIS-1", user=CISO)
    accord.fake.clear_response("chat.postMessage")
    assert seen == [("pending", "escalated")]
    assert metadata[0]["event_type"] == "accord_outbox"
    escalation = _escalation(accord)
    assert escalation.state == EscalationState.PENDING
    assert escalation.thread_ts == "1800000000.000100"


def test_a_reservation_left_by_a_crash_is_cleaned_and_can_be_escalated_again(
    accord: RunningAccord,
) -> None:
    from bot.domain import escalations as esc

    accord.command_text('disagree "EDR on build agents" agents are too slow with EDR')
    # A process died after reserving ESC-1 and before recording its root message.
    with session_scope(accord.services.engine) as session:
        esc.reserve_escalation(
            session,
            actor=None,
            request=esc.EscalationRequest(number=1),
            executives=frozenset({EXEC}),
            now=accord.clock.now(),
        )
    busy = accord.command("escalate DIS-1", user=CISO).json()
    assert "being escalated right now as ESC-1" in reply_text(busy)
    accord.clock.advance(minutes=11)
    disagreement_jobs.deadlines(accord.services, _notifier(accord), accord.clock.now())
    accord.deliver()
    assert count(accord, Escalation) == 0
    assert count(accord, AuditEvent, AuditEvent.action == "escalation.abandoned") == 1
    with session_scope(accord.services.engine) as session:
        d = session.get(Disagreement, 1)
        assert d is not None and d.state == DisagreementState.OPEN
    assert "Escalated *DIS-1* as *ESC-2*" in accord.command_text("escalate DIS-1", user=CISO)
    assert len(roots(accord)) == 1


def test_a_dm_slack_refuses_for_good_is_reported_in_the_coordination_channel(
    accord: RunningAccord,
) -> None:
    accord.fake.error_next("chat.postMessage", "user_not_found")
    reply = accord.command_text('disagree "Patch window for the ERP" Sunday nights only')
    assert "Recorded *DIS-1*" in reply  # the ack does not wait for the DMs
    report = wait_calls(accord, containing("could not deliver"))[0]
    assert report["channel"] == COORDINATION
    assert "a note about DIS-1" in text_of(report) and "user_not_found" in text_of(report)
    assert count(accord, Disagreement) == 1


def test_the_deadlines_job_shows_overdue_on_the_root_brief(accord: RunningAccord) -> None:
    escalated_dispute(accord, by="2026-11-27")
    root_ts = _escalation(accord).thread_ts
    accord.clock.advance(days=3)
    disagreement_jobs.deadlines(accord.services, _notifier(accord), accord.clock.now())
    accord.deliver()
    updates = _root_updates(accord, root_ts)
    assert len(updates) == 1 and "OVERDUE" in text_of(updates[0])
    assert "escalation.option" in json.dumps(updates[0]["blocks"])  # still decidable


def test_a_deferral_updates_the_date_on_the_root_brief(accord: RunningAccord) -> None:
    escalated_dispute(accord, by="2026-11-27")
    root_ts = _escalation(accord).thread_ts
    accord.slack.block_action("escalation.defer", "1", user_id=EXEC, channel_id=EXECUTIVE_CHANNEL)
    modal = accord.fake.wait_for("views.open")[0].body["view"]
    accord.slack.view_submission(
        "escalation.defer",
        {
            "date": {"value": {"type": "datepicker", "selected_date": "2026-12-10"}},
            "rationale": {"value": {"type": "plain_text_input", "value": "board meeting"}},
        },
        user_id=EXEC,
        private_metadata=modal["private_metadata"],
    )
    updates = _root_updates(accord, root_ts)
    assert updates and "decide by 2026-12-10" in text_of(updates[-1])


def test_withdrawing_an_escalated_disagreement_refuses_the_executives_buttons(
    accord: RunningAccord,
) -> None:
    root = escalated_dispute(accord)
    root_ts = _escalation(accord).thread_ts
    reply = accord.command_text("disagree withdraw DIS-1 the vendor shipped a patch")
    assert "ESC-1 is withdrawn" in reply
    wait_calls(accord, containing("withdrew *DIS-1*"))
    note = [r for r in replies(accord) if "withdrew *DIS-1*" in text_of(r)]
    assert len(note) == 1 and note[0]["thread_ts"] == root_ts
    refreshed = wait_calls(accord, containing("was withdrawn"), method="chat.update")[-1]
    assert refreshed["ts"] == root_ts and "escalation.option" not in json.dumps(refreshed)
    action_id, value = _decision_button(root, 0)
    accord.slack.block_action(action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL)
    refusal = wait_calls(accord, containing("was withdrawn"), method="response_url")[0]
    assert "nothing to decide" in text_of(refusal)
    accord.fake.assert_no_call("views.open")
    escalation = _escalation(accord)
    assert escalation.state == EscalationState.WITHDRAWN
    with session_scope(accord.services.engine) as session:
        d = session.get(Disagreement, 1)
        assert d is not None and d.state == DisagreementState.WITHDRAWN
    assert count(accord, AuditEvent, AuditEvent.action == "escalation.withdrawn") == 1


def test_the_list_counts_everything_and_pages(accord: RunningAccord) -> None:
    from bot.domain.disagreements import DisagreementDraft, create_disagreement

    with session_scope(accord.services.engine) as session:
        actor = accord.services.directory.actor(session, CIO)
        for n in range(45):
            create_disagreement(
                session,
                actor=actor,
                draft=DisagreementDraft(position="no", subject=f"Topic {n + 1}"),
                now=accord.clock.now(),
            )
    first = accord.command_text("disagree list")
    assert "Open disagreements (45)" in first and "Showing 1–20 of 45" in first
    assert "Topic 45" in first and "Topic 25" not in first
    reply = accord.command("disagree list").json()
    nav = [e for b in reply["blocks"] for e in b.get("elements", []) if e.get("type") == "button"]
    assert [e["text"]["text"] for e in nav] == ["Next ▶"]
    accord.slack.block_action(nav[0]["action_id"], nav[0]["value"], user_id=CIO)
    second = accord.fake.wait_for("response_url")[0].body
    assert "Showing 21–40 of 45" in text_of(second) and "Topic 25" in text_of(second)
    # Page 2 is a middle page: Next on it goes on to page 3 (Slack refused it before).
    middle = [
        e for b in second["blocks"] for e in b.get("elements", []) if e.get("type") == "button"
    ]
    assert [(e["text"]["text"], e["action_id"]) for e in middle] == [
        ("◀ Previous", "disagreement.page.previous"),
        ("Next ▶", "disagreement.page.next"),
    ]
    accord.slack.block_action(middle[1]["action_id"], middle[1]["value"], user_id=CIO)
    assert "Showing 41–45 of 45" in text_of(accord.fake.wait_for("response_url", count=2)[1].body)
    second_of_all = accord.command_text("disagree list all page:2")
    assert "Showing 21–40 of 45" in second_of_all and "Topic 25" in second_of_all
    third = accord.command_text("disagree list open page:3")
    assert "Showing 41–45 of 45" in third and "*DIS-1* Topic 1 ·" in third
    assert "is not a page number" in accord.command_text("disagree list page:zero")


def test_the_time_box_also_counts_touchpoints_held(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer
) -> None:
    from datetime import time, timedelta

    from bot.domain.touchpoints import OccurrenceStatus, TouchpointOccurrence, TouchpointSeries

    with running_accord(
        migrated_sqlite_url, fake_slack, accord_disagreement_timebox_touchpoints=2
    ) as accord:
        accord.command_text('disagree "MFA for contractors" contractors need a grace period')
        now = accord.clock.now()
        with session_scope(accord.services.engine) as session:
            series = TouchpointSeries(
                name="Weekly",
                participants=[CIO, CISO],
                channel_id="C0COORD",
                rrule="FREQ=WEEKLY",
                first_date=now.date(),
                local_time=time(9),
                timezone="UTC",
                organiser_id=CIO,
                created_at=now,
                updated_by=CIO,
                updated_at=now,
            )
            session.add(series)
            session.flush()
            for days, status in ((1, OccurrenceStatus.POSTED), (2, OccurrenceStatus.SKIPPED)):
                session.add(
                    TouchpointOccurrence(
                        series_id=series.id,  # type: ignore[arg-type]
                        starts_at=now + timedelta(days=days),
                        status=status,
                        claimed_at=now,
                    )
                )
        notifier = _notifier(accord)
        accord.clock.advance(days=3)
        disagreement_jobs.timebox(accord.services, notifier, accord.clock.now())
        accord.deliver()
        assert not [dm for dm in dms_to(accord, CIO) if "Escalate now" in json.dumps(dm)]
        with session_scope(accord.services.engine) as session:
            session.add(
                TouchpointOccurrence(
                    series_id=1,
                    starts_at=now + timedelta(days=3, hours=-1),
                    status=OccurrenceStatus.POSTED_LATE,
                    claimed_at=now,
                )
            )
        disagreement_jobs.timebox(accord.services, notifier, accord.clock.now())
        accord.deliver()
        proposals = [dm for dm in dms_to(accord, CIO) if "Escalate now" in json.dumps(dm)]
        assert len(proposals) == 1 and "2+ touchpoints" in text_of(proposals[0])


def _decide(accord: RunningAccord, root: dict[str, Any], index: int, *, release: bool) -> None:
    action_id, value = _decision_button(root, index)
    accord.slack.block_action(
        action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL, action_ts="7.1"
    )
    modal = accord.fake.wait_for("views.open")[-1].body["view"]
    values: dict[str, Any] = {
        "rationale": {"value": {"type": "plain_text_input", "value": "Two weeks buys a patch."}}
    }
    if release:
        values["release_hold"] = {
            "value": {"type": "checkboxes", "selected_options": [{"value": "release"}]}
        }
    submitted = accord.slack.view_submission(
        "escalation.decide", values, user_id=EXEC, private_metadata=modal["private_metadata"]
    )
    assert submitted.status == 200 and submitted.json() == {}, submitted.body
    accord.wait_idle()


def test_the_decided_brief_says_decided_and_keeps_a_hold_that_stays(accord: RunningAccord) -> None:
    root = escalated_dispute(accord)
    _decide(accord, root, 1, release=False)
    brief = text_of(_root_updates(accord, _escalation(accord).thread_ts or "")[-1])
    assert "Decision needed" not in brief
    assert "Decided · ESC-1" in brief and "Delay two weeks" in brief
    assert "INI-1 is on security hold" in brief and "unpatched CVE-2026-1234" in brief
    assert "It stays on: the decision did not release it" in brief
    assert "/accord initiative release INI-1" in brief
    assert "The decision can release the hold" not in brief


def test_the_decided_brief_says_the_hold_was_released(accord: RunningAccord) -> None:
    root = escalated_dispute(accord)
    _decide(accord, root, 2, release=True)
    brief = text_of(_root_updates(accord, _escalation(accord).thread_ts or "")[-1])
    assert "Decided · ESC-1" in brief and "Decision needed" not in brief
    assert "security hold on *INI-1* was released by this decision" in brief
    assert "is on security hold" not in brief


def test_executives_find_and_act_on_escalations_from_a_command(accord: RunningAccord) -> None:
    accord.command_text('disagree "Patch window for the ERP" the window must be Sunday')
    accord.command_text("disagree position DIS-1 Sunday misses the vendor's support", user=CISO)
    accord.command_text('disagree "Log retention" keep 90 days')
    accord.command_text("disagree position DIS-2 two years for audit", user=CISO)
    accord.command_text("escalate DIS-1 by:2026-11-27", user=CISO)
    accord.command_text("escalate DIS-2 by:2026-12-20", user=CISO)
    accord.wait_idle()
    accord.clock.advance(days=3)  # ESC-1 is now overdue

    listed = accord.command("escalate list", user=EXEC).json()
    text = reply_text(listed)
    assert text.index("ESC-1") < text.index("ESC-2") and "OVERDUE" in text
    assert "Patch window for the ERP" in text and "brief" in text
    assert f"brief in <#{EXECUTIVE_CHANNEL}>" in json.dumps(listed)

    shown = accord.command("escalate show ESC-2", user=EXEC).json()
    assert "Log retention" in reply_text(shown)
    assert "escalation.option.0" in json.dumps(shown)  # the executive gets the decision buttons
    for reader in (CIO, CISO):
        as_side = accord.command("escalate show ESC-2", user=reader).json()
        assert "Log retention" in reply_text(as_side)
        assert not [b for b in as_side.get("blocks", []) if b["type"] == "actions"]
    assert "no ESC-9" in accord.command_text("escalate show ESC-9", user=EXEC)


def test_a_decision_needs_a_rationale(accord: RunningAccord) -> None:
    root = escalated_dispute(accord)
    action_id, value = _decision_button(root, 1)
    accord.slack.block_action(action_id, value, user_id=EXEC, channel_id=EXECUTIVE_CHANNEL)
    modal = accord.fake.wait_for("views.open")[-1].body["view"]
    [field] = [b for b in modal["blocks"] if b.get("block_id") == "rationale"]
    assert not field.get("optional")  # Slack itself asks for it
    for typed in ("", "   "):
        blank = accord.slack.view_submission(
            "escalation.decide",
            {"rationale": {"value": {"type": "plain_text_input", "value": typed}}},
            user_id=EXEC,
            private_metadata=modal["private_metadata"],
        )
        assert blank.json()["response_action"] == "errors"
        assert "rationale cannot be empty" in blank.json()["errors"]["rationale"]
    with session_scope(accord.services.engine) as session:
        escalation = session.get(Escalation, 1)
        assert escalation is not None and escalation.state != EscalationState.DECIDED
    assert count(accord, AuditEvent, AuditEvent.action == "escalation.decided") == 0
    _decide(accord, root, 1, release=False)
    with session_scope(accord.services.engine) as session:
        decided = session.get(Escalation, 1)
        assert decided is not None and decided.rationale == "Two weeks buys a patch."
