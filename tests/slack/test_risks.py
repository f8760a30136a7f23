"""Risk acceptances through the signed-HTTP path, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import func, select

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.risk_export import ExportFormat, export_risks
from bot.domain.risks import RiskAcceptance, RiskApproval, RiskReminder, RiskState
from bot.scheduler import risk_jobs
from bot.slack.notifier import SlackNotifier
from tests.harness import (
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    COORDINATION,
    OUTSIDER,
    RunningAccord,
    reply_text,
)

NEW = "risk new Legacy VPN without MFA likelihood:3 impact:4 expires:2027-01-31 attack:T1078"


def count(accord: RunningAccord, model: type, *where: Any) -> int:
    with session_scope(accord.services.engine) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int(session.exec(query).one())


def risk(accord: RunningAccord, number: int = 1) -> RiskAcceptance:
    with session_scope(accord.services.engine) as session:
        found = session.get(RiskAcceptance, number)
        assert found is not None
        found.approvals  # noqa: B018  (load the history before the session closes)
        return found


def _button(body: dict[str, Any], action_id: str = "risk.approve") -> str | None:
    for block in body.get("blocks") or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    return None


def approval_requests(accord: RunningAccord, count: int = 1) -> list[dict[str, Any]]:
    """Wait until `count` approval requests were posted (they go out after the ack)."""
    for seen in itertools.count(1):
        calls = accord.fake.wait_for("chat.postMessage", count=seen)
        found = [c.body for c in calls if _button(c.body) is not None]
        if len(found) >= count:
            return found
    raise AssertionError("unreachable")


def approve_button(accord: RunningAccord, count: int = 1) -> str:
    """The value of the Approve button on the newest (count-th) approval request."""
    posted = approval_requests(accord, count)[-1]
    assert posted["channel"] == COORDINATION
    value = _button(posted)
    assert value is not None
    return value


def dms_to(accord: RunningAccord, user: str, containing: str, count: int = 1) -> list[str]:
    """Wait for `count` DMs to `user` whose text contains `containing`."""
    for seen in itertools.count(1):
        calls = accord.fake.wait_for("chat.postMessage", count=seen)
        found = [
            c.body["text"]
            for c in calls
            if c.body["channel"] == user and containing in c.body["text"]
        ]
        if len(found) >= count:
            return found
    raise AssertionError("unreachable")


def click(accord: RunningAccord, action_id: str, value: str, user: str) -> str:
    """Click a button and return the text of the reply the clicker sees."""
    before = len(accord.fake.calls("response_url"))
    reply = accord.slack.block_action(action_id, value, user_id=user)
    assert reply.status == 200
    answer = accord.fake.wait_for("response_url", count=before + 1)[before].body
    return reply_text(answer)


def at_day(accord: RunningAccord, year: int, month: int, day: int) -> datetime:
    accord.clock.set(datetime(year, month, day, 8, tzinfo=UTC))
    return accord.clock.now()


def jobs_notifier(accord: RunningAccord) -> SlackNotifier:
    return SlackNotifier(build_web_client(accord.services.settings))


def test_both_sides_must_approve_and_requester_cannot(accord: RunningAccord) -> None:
    created = accord.command_text(NEW, user=CISO)
    assert "Requested *RSK-1*" in created and "high" in created and "score 12" in created
    request = accord.fake.wait_for("chat.postMessage")[0].body
    assert request["channel"] == COORDINATION
    value = approve_button(accord)

    own = click(accord, "risk.approve", value, CISO)
    assert "You requested RSK-1, so you cannot approve" in own
    assert count(accord, RiskApproval) == 0

    one_side = click(accord, "risk.approve", value, CISO_2)
    assert "waits for the other side" in one_side
    assert risk(accord).state == RiskState.PENDING

    outsider = click(accord, "risk.approve", value, OUTSIDER)
    assert "Only members of the CIO or CISO side" in outsider

    second = click(accord, "risk.approve", value, CIO)
    assert "it is accepted" in second
    accepted = risk(accord)
    assert accepted.state == RiskState.ACCEPTED
    sides = {(a.side, a.approver_id) for a in accepted.approvals}
    assert sides == {("ciso", CISO_2), ("cio", CIO)}
    assert all(a.snapshot["score"] == 12 for a in accepted.approvals)
    trail = accord.command_text("risk audit RSK-1")
    assert "requested by" in trail and "accepted by" in trail


def test_double_clicked_approve_records_one_approval(accord: RunningAccord) -> None:
    accord.command(NEW, user=CISO)
    value = approve_button(accord)
    first = click(accord, "risk.approve", value, CIO)
    again = click(accord, "risk.approve", value, CIO)
    other_cio = click(accord, "risk.approve", value, CIO_2)
    assert "waits for the other side" in first
    assert "already approved for the CIO side" in again
    assert "already approved" in other_cio
    assert count(accord, RiskApproval) == 1

    # Two clicks at the same moment from both CISO-side people: one wins, one is told.
    results: list[int] = []

    def press(user: str) -> None:
        results.append(accord.slack.block_action("risk.approve", value, user_id=user).status)

    threads = [threading.Thread(target=press, args=(u,)) for u in (CISO_2, "U0CISO3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = ""
    for seen in range(5, 9):  # both answers, whatever follow-up notes arrive in between
        answers = accord.fake.wait_for("response_url", count=seen)[3:]
        texts = " ".join(reply_text(a.body) for a in answers)
        if "accepted" in texts and "already approved" in texts:
            break
    assert results == [200, 200]
    assert count(accord, RiskApproval) == 2
    assert "accepted" in texts and "already approved" in texts
    assert "Something went wrong" not in texts
    assert risk(accord).state == RiskState.ACCEPTED


def test_reject_needs_a_reason_and_closes_the_request(accord: RunningAccord) -> None:
    accord.command(NEW, user=CIO)
    value = approve_button(accord)
    accord.slack.block_action("risk.reject", value, user_id=CISO)
    modal = accord.fake.wait_for("views.open")[0].body["view"]
    assert modal["callback_id"] == "risk.reject"
    empty = accord.slack.view_submission(
        "risk.reject",
        {"reason": {"value": {"type": "plain_text_input", "value": ""}}},
        user_id=CISO,
        private_metadata=modal["private_metadata"],
    )
    assert "reason cannot be empty" in json.dumps(empty.json())
    assert risk(accord).state == RiskState.PENDING
    accord.slack.view_submission(
        "risk.reject",
        {"reason": {"value": {"type": "plain_text_input", "value": "No compensating control"}}},
        user_id=CISO,
        private_metadata=modal["private_metadata"],
        hash="h2",
    )
    rejected = risk(accord)
    assert rejected.state == RiskState.REJECTED
    assert rejected.closed_reason == "No compensating control"
    assert "nothing to decide" in accord.command_text("risk approve RSK-1", user=CIO_2)


def test_material_change_sends_it_back_to_both_sides(accord: RunningAccord) -> None:
    accord.command(NEW, user=CISO)
    old_value = approve_button(accord)
    click(accord, "risk.approve", old_value, CISO_2)
    click(accord, "risk.approve", old_value, CIO)
    assert risk(accord).state == RiskState.ACCEPTED

    changed = accord.command_text('risk update RSK-1 controls:"Conditional access"', user=CISO)
    assert "both sides approve again" in changed
    again = risk(accord)
    assert again.state == RiskState.PENDING and again.round == 2
    stale = click(accord, "risk.approve", old_value, CIO_2)
    assert "no longer applies" in stale
    new_value = approve_button(accord, 2)
    assert new_value.endswith(":2")
    click(accord, "risk.approve", new_value, CIO_2)
    click(accord, "risk.approve", new_value, CISO_2)
    final = risk(accord)
    assert final.state == RiskState.ACCEPTED
    assert [a.round for a in final.approvals] == [1, 1, 2, 2]
    assert final.approvals[2].snapshot["controls"] == "Conditional access"


def _accept(accord: RunningAccord, text: str = NEW, nth: int = 1) -> None:
    accord.command(text, user=CISO)
    value = approve_button(accord, nth)
    click(accord, "risk.approve", value, CISO_2)
    click(accord, "risk.approve", value, CIO)
    dms_to(accord, CISO, "was approved", count=nth)  # the requester hears of it


def test_expiry_happens_once_with_one_announcement(accord: RunningAccord) -> None:
    _accept(accord)
    notifier = jobs_notifier(accord)
    risk_jobs.expire(accord.services, notifier, accord.clock.now())
    accord.deliver()
    assert risk(accord).state == RiskState.ACCEPTED

    accord.clock.set(datetime(2027, 1, 31, 0, 30, tzinfo=UTC))
    posts_before = len(accord.fake.calls("chat.postMessage"))
    now = accord.clock.now()
    threads = [
        threading.Thread(target=risk_jobs.expire, args=(accord.services, notifier, now))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    risk_jobs.expire(accord.services, notifier, accord.clock.advance(hours=1))
    accord.deliver()

    assert risk(accord).state == RiskState.EXPIRED
    announcements = accord.fake.calls("chat.postMessage")[posts_before:]
    assert len(announcements) == 1
    assert announcements[0].body["channel"] == COORDINATION
    assert "RSK-1" in announcements[0].body["text"] and "expired" in announcements[0].body["text"]
    assert count(accord, AuditEvent, AuditEvent.action == "risk.expired") == 1
    assert "RSK-1" in accord.command_text("risk list expired")


def test_owner_warned_at_thresholds_once_and_can_snooze(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    _accept(accord)  # expires 2027-01-31; today 2026-11-25 → 67 days
    notifier = jobs_notifier(accord)

    def warnings() -> list[str]:
        return [
            c.body["text"]
            for c in accord.fake.calls("chat.postMessage")
            if c.body["channel"] == CISO and "expires on" in c.body["text"]
        ]

    def run_day(moment: datetime) -> None:
        accord.clock.set(moment)
        risk_jobs.remind(accord.services, notifier, moment)
        accord.deliver()
        risk_jobs.remind(accord.services, notifier, moment)  # a second clock sends nothing more
        accord.deliver()

    run_day(datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert warnings() == []
    run_day(datetime(2027, 1, 1, 8, tzinfo=UTC))  # 30 days left
    run_day(datetime(2027, 1, 2, 8, tzinfo=UTC))
    assert len(warnings()) == 1

    # The owner snoozes the reminder from its button: quiet until the snooze date.
    warning = [c for c in accord.fake.calls("chat.postMessage") if c.body["channel"] == CISO][-1]
    snooze_value = next(
        e["value"]
        for b in warning.body["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "risk.snooze"
    )
    assert "snoozed until 2027-01-09" in click(accord, "risk.snooze", snooze_value, CISO)
    run_day(datetime(2027, 1, 8, 8, tzinfo=UTC))
    assert len(warnings()) == 1
    run_day(datetime(2027, 1, 9, 8, tzinfo=UTC))  # snooze over, and within 30 days
    assert len(warnings()) == 2
    run_day(datetime(2027, 1, 24, 8, tzinfo=UTC))  # 7 days left
    run_day(datetime(2027, 1, 30, 8, tzinfo=UTC))  # 1 day left
    run_day(datetime(2027, 1, 30, 9, tzinfo=UTC))
    assert len(warnings()) == 4
    assert count(accord, RiskReminder, RiskReminder.kind == "expiry") == 4


def test_approvers_are_reminded_once_a_day(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command(NEW, user=CISO)
    click(accord, "risk.approve", approve_button(accord), CISO_2)
    notifier = jobs_notifier(accord)
    moment = accord.clock.advance(days=1)
    risk_jobs.remind(accord.services, notifier, moment)
    accord.deliver()
    risk_jobs.remind(accord.services, notifier, moment)
    accord.deliver()
    dms = [c.body["channel"] for c in accord.fake.calls("chat.postMessage")[1:]]
    assert sorted(dms) == sorted([CIO, CIO_2])  # only the side that has not approved yet


def test_renewal_opens_a_new_round_and_keeps_history(accord: RunningAccord) -> None:
    _accept(accord)
    renewed = accord.command_text("risk renew RSK-1 expires:2027-03-01", user=CISO)
    assert "round 2" in renewed
    # Until both sides approve, the acceptance in force is unchanged.
    pending = risk(accord)
    assert pending.state == RiskState.ACCEPTED
    assert pending.expires_on.isoformat() == "2027-01-31"
    assert "RSK-1" in accord.command_text("risk list accepted")
    assert "RSK-1" in accord.command_text("risk list pending")
    value = approve_button(accord, 2)
    assert value.endswith(":2")
    own = click(accord, "risk.approve", value, CISO)
    assert "You requested round 2 of RSK-1" in own
    click(accord, "risk.approve", value, CIO_2)
    click(accord, "risk.approve", value, CISO_2)
    record = risk(accord)
    assert record.state == RiskState.ACCEPTED
    assert record.expires_on.isoformat() == "2027-03-01"
    assert len(record.approvals) == 4
    assert record.approvals[-1].snapshot["expires_on"] == "2027-03-01"
    assert "renewed by" in accord.command_text("risk audit RSK-1")


def _rows(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content)))


def test_export_round_trips_every_field_and_approval(accord: RunningAccord) -> None:
    accord.command("initiative new Remote access programme", user=CIO)
    _accept(
        accord,
        "risk new Legacy VPN likelihood:5 impact:4 expires:2027-02-01 initiative:INI-1 "
        'attack:T1078,T1110.001 asset:"vpn-01" controls:"Geo-fencing, alerting"',
    )
    accord.command("risk new Old TLS likelihood:1 impact:2 expires:2027-06-01", user=CIO)
    accord.command("risk reject RSK-2 Fix it instead", user=CISO)

    with session_scope(accord.services.engine) as session:
        as_json = json.loads(export_risks(session, ExportFormat.JSON))
        as_csv = _rows(export_risks(session, ExportFormat.CSV))
        risks = {r.ref: r for r in session.exec(select(RiskAcceptance)).all()}
        approvals = list(session.exec(select(RiskApproval)).all())

    records = {r["id"]: r for r in as_json["risks"]}
    assert set(records) == {"RSK-1", "RSK-2"}
    first = records["RSK-1"]
    assert first["band"] == "critical" and first["score"] == 20
    assert first["initiative"] == "INI-1" and first["asset"] == "vpn-01"
    assert first["techniques"] == ["T1078", "T1110.001"]
    assert first["controls"] == "Geo-fencing, alerting"
    for ref, record in records.items():
        model = risks[ref]
        for key, value in model.snapshot().items():
            assert record[key] == value, (ref, key)
        assert record["requested_by"] == model.requested_by
    json_decisions = {
        (ref, a["round"], a["side"], a["approver"], a["decision"])
        for ref, r in records.items()
        for a in r["approvals"]
    }
    csv_decisions = {
        (r["id"], int(r["approval_round"]), r["approval_side"], r["approver"], r["decision"])
        for r in as_csv
        if r["approver"]
    }
    expected = {
        (f"RSK-{a.risk_id}", a.round, str(a.side), a.approver_id, str(a.decision))
        for a in approvals
    }
    assert len(expected) == 3
    assert json_decisions == expected == csv_decisions
    rejected = next(r for r in as_csv if r["id"] == "RSK-2")
    assert rejected["decision_reason"] == "Fix it instead"
    for row in as_csv:
        record = records[row["id"]]
        for column in ("title", "asset", "controls", "state", "expires_on", "band", "initiative"):
            assert row[column] == (record[column] or ""), column
        assert row["techniques"].split(";") == (record["techniques"] or [""])
        if row["approver"]:
            snapshot = json.loads(row["approved_snapshot"])
            assert snapshot["score"] == record["score"]

    # The Slack path uploads the same content as a file in the requester's DM.
    reply = accord.command_text("risk export json", user=CIO)
    assert "accord-risks-" in reply
    accord.fake.wait_for("files.completeUploadExternal")
    uploaded = list(accord.fake.uploaded_files().values())
    assert json.loads(uploaded[0].decode())["risks"] == as_json["risks"]
    complete = accord.fake.calls("files.completeUploadExternal")[0].body
    assert (complete.get("channel_id") or "").startswith("D")


def test_cli_export_writes_csv_and_json(accord_sqlite: RunningAccord, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    _accept(accord_sqlite)
    env = {"DATABASE_URL": accord_sqlite.services.settings.database_url}
    runner = CliRunner()
    out = tmp_path / "risks.json"
    result = runner.invoke(
        app, ["export", "risks", "--format", "json", "--output", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert len(data["risks"][0]["approvals"]) == 2
    result = runner.invoke(app, ["export", "risks", "--format", "csv"], env=env)
    assert result.exit_code == 0
    assert len(_rows(result.stdout)) == 2
    bad = runner.invoke(app, ["export", "risks", "--format", "xml"], env=env)
    assert bad.exit_code == 2


def test_bad_input_gets_a_helpful_reply_and_changes_nothing(accord: RunningAccord) -> None:
    accord.command(NEW, user=CISO)
    approval_requests(accord)
    risks_before = count(accord, RiskAcceptance)
    events_before = count(accord, AuditEvent)
    posts_before = len(accord.fake.calls("chat.postMessage"))
    cases = {
        "risk new X likelihood:9 impact:2 expires:2027-01-01": "is not a valid likelihood",
        "risk new X likelihood:2 impact:0 expires:2027-01-01": "is not a valid impact",
        "risk new X likelihood:2 impact:2 expires:2020-01-01": "is not in the future",
        "risk new X likelihood:2 impact:2 expires:2027-13-01": "is not a valid expires date",
        "risk new X likelihood:5 impact:5 expires:2027-11-01": "at most 90 days",
        "risk new X likelihood:2 impact:2 expires:2027-01-01 attack:1078": "not an ATT&amp;CK",
        "risk new X likelihood:2 impact:2 expires:2027-01-01 attack:T1078.1": "not an ATT&amp;CK",
        "risk new X likelihood:2 impact:2": "`expires:` is required",
        "risk new X likelihood:2 impact:2 expires:2027-01-01 initiative:INI-7": "no INI-7",
        "risk show RSK-99": "There is no RSK-99",
        "risk approve RSK-99": "There is no RSK-99",
        "risk show INI-1": "is not a valid id",
        "risk reject RSK-1": "Say why",
        "risk revoke RSK-1": "Say why",
        "risk list sideways": "is not a valid filter",
        "risk renew RSK-1 expires:2027-02-01": "Only the people answerable for RSK-1",
        "risk update RSK-1 impact:2": "Only the people answerable for RSK-1",
        "risk snooze RSK-1 3": "Only the people answerable for RSK-1",
    }
    for command, expected in cases.items():
        reply = accord.command(command, user=CIO)
        assert reply.status == 200
        payload = reply.json()
        assert payload.get("response_type") == "ephemeral", command
        text = reply_text(payload)
        assert expected in text, (command, text)
        assert "Traceback" not in text
    own = accord.command("risk renew RSK-1 expires:2027-02-01", user=CISO)
    assert "only an accepted or expired" in reply_text(own.json())
    assert count(accord, RiskAcceptance) == risks_before
    assert count(accord, AuditEvent) == events_before
    assert count(accord, RiskApproval) == 0
    assert len(accord.fake.calls("chat.postMessage")) == posts_before


def test_someone_on_both_sides_cannot_approve(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command(NEW, user=CISO)
    accord.command(f"roles add cio <@{CISO_2}|x>", user="U0ADMIN")
    accord.command("roles confirm 1", user="U0ADMIN2")
    text = accord.command_text("risk approve RSK-1", user=CISO_2)
    assert "both the CIO and the CISO side" in text
    assert count(accord, RiskApproval) == 0


def test_no_coordination_channel_dms_the_approvers(
    migrated_sqlite_url: str, fake_slack: Any, clock: Any
) -> None:
    from tests.harness import running_accord

    with running_accord(
        migrated_sqlite_url, fake_slack, clock=clock, accord_coordination_channel=None
    ) as a:
        text = a.command_text(NEW, user=CISO)
        assert "a DM to every approver" in text
        targets = {c.body["channel"] for c in a.fake.wait_for("chat.postMessage", count=3)}
        assert CISO not in targets and {CIO, CIO_2, CISO_2} <= targets


def test_modal_request(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command("risk", user=CIO)
    view = accord.fake.wait_for("views.open")[0].body["view"]
    assert view["callback_id"] == "risk.create"

    def values(expires: str) -> dict[str, Any]:
        return {
            "title": {"value": {"type": "plain_text_input", "value": "Shared admin account"}},
            "likelihood": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
            "impact": {"value": {"type": "static_select", "selected_option": {"value": "3"}}},
            "expires": {"value": {"type": "datepicker", "selected_date": expires}},
            "attack": {"value": {"type": "plain_text_input", "value": "T1078.003"}},
        }

    past = accord.slack.view_submission("risk.create", values("2026-01-01"), user_id=CIO)
    assert "expires" in past.json()["errors"]
    assert count(accord, RiskAcceptance) == 0
    ok = accord.slack.view_submission(
        "risk.create",
        values((clock_day(accord) + timedelta(days=60)).isoformat()),
        user_id=CIO,
        hash="h2",
    )
    assert ok.status == 200
    assert risk(accord).techniques == ["T1078.003"]
    assert risk(accord).state == RiskState.PENDING


def clock_day(accord: RunningAccord) -> Any:
    return accord.clock.now().date()


def test_request_is_posted_after_commit_and_not_in_channel_keeps_it_pending(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.fake.set_not_member(COORDINATION)
    created = accord.command_text(NEW, user=CISO)
    assert "Requested *RSK-1*" in created
    # Slack refused the post for good: the outbox tells the requester at once, by DM.
    [warning] = [reply_text(m) for m in accord.fake.messages_in(CISO)]
    assert "approval request of RSK-1" in warning and "/invite @Accord" in warning
    assert risk(accord).state == RiskState.PENDING
    # Approvers can still decide by command.
    accord.command("risk approve RSK-1", user=CIO)
    accord.command("risk approve RSK-1", user=CISO_2)
    assert risk(accord).state == RiskState.ACCEPTED


def test_decision_updates_the_request_and_tells_the_requester(accord: RunningAccord) -> None:
    accord.command(NEW, user=CIO)
    approval_requests(accord)
    value = approve_button(accord)
    click(accord, "risk.approve", value, CISO)
    accord.command("risk reject RSK-1 No compensating control", user=CIO_2)
    told = dms_to(accord, CIO, "was rejected")[0]
    with session_scope(accord.services.engine) as session:
        row = session.get(RiskAcceptance, 1).round_row()  # type: ignore[union-attr]
        assert row is not None and row.messages[0]["channel"] == COORDINATION
    assert "No compensating control" in told
    # The first approval may land before the request's ts is stored; the closing update does not.
    updates = accord.fake.wait_for("chat.update", count=1)
    last = next(u.body for u in updates if "Rejected" in u.body["text"])
    assert last["channel"] == COORDINATION
    assert last["ts"] == row.messages[0]["ts"]
    posted = next(c for c in accord.fake.calls("chat.postMessage") if _button(c.body) is not None)
    assert posted.response is not None
    assert last["ts"] == posted.response["ts"]  # the very message that asked for approval
    assert "Rejected" in last["text"] and _button(last) is None


def test_rejected_renewal_keeps_the_acceptance_in_force(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    _accept(accord)
    accord.command("risk renew RSK-1 expires:2027-02-20", user=CISO)
    value = approve_button(accord, 2)
    click(accord, "risk.approve", value, CIO)
    reply = accord.command_text("risk reject RSK-1 Not again", user=CISO_2)
    assert "acceptance in force is unchanged" in reply
    record = risk(accord)
    assert record.state == RiskState.ACCEPTED
    assert record.expires_on.isoformat() == "2027-01-31"
    assert "RSK-1" in accord.command_text("risk list accepted")
    assert "nothing changed" in accord.command_text("risk approve RSK-1", user=CIO_2)
    # It still expires on its approved date.
    notifier = jobs_notifier(accord)
    risk_jobs.expire(accord.services, notifier, at_day(accord, 2027, 1, 31))
    accord.deliver()
    assert risk(accord).state == RiskState.EXPIRED


def test_someone_else_renewing_is_credited_and_the_first_requester_may_not_approve(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    _accept(accord)
    accord.command("risk renew RSK-1 expires:2027-02-20", user="U0ADMIN")
    request = approval_requests(accord, 2)[-1]
    assert request["text"].startswith(":scales: <@U0ADMIN> asks")
    value = _button(request)
    refused = click(accord, "risk.approve", str(value), CISO)
    assert "You requested a round of RSK-1" in refused
    assert "waits for the other side" in click(accord, "risk.approve", str(value), CISO_2)
    stale = click(accord, "risk.approve", "1:1", CIO)
    assert "no longer applies" in stale


def test_pending_request_past_its_expiry_lapses_once(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command("risk new Old TLS likelihood:1 impact:2 expires:2026-12-01", user=CIO)
    approval_requests(accord)
    notifier = jobs_notifier(accord)
    moment = at_day(accord, 2026, 12, 1)
    assert "can no longer be approved" in accord.command_text("risk approve RSK-1", user=CISO)
    posts = len(accord.fake.calls("chat.postMessage"))
    risk_jobs.expire(accord.services, notifier, moment)
    accord.deliver()
    risk_jobs.expire(accord.services, notifier, moment)
    accord.deliver()
    risk_jobs.remind(accord.services, notifier, moment)
    accord.deliver()
    assert risk(accord).state == RiskState.LAPSED
    new_posts = accord.fake.calls("chat.postMessage")[posts:]
    assert len(new_posts) == 1 and "lapsed" in new_posts[0].body["text"]
    assert count(accord, AuditEvent, AuditEvent.action == "risk.lapsed") == 1


def test_list_pages_with_next_and_previous(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    for n in range(23):
        accord.command(f"risk new Risk {n} likelihood:1 impact:1 expires:2027-01-31 draft:yes")
    first = accord.command("risk list all").json()
    assert "All risk acceptances (23)" in reply_text(first)
    value = _button(first, "risk.page.next")
    assert value == "all:2"
    before = len(accord.fake.calls("response_url"))
    accord.slack.block_action("risk.page.next", value, user_id=CIO)
    second = accord.fake.wait_for("response_url", count=before + 1)[before].body
    assert "Showing 21–23 of 23" in reply_text(second)
    assert second.get("replace_original") is True
    assert _button(second, "risk.page.previous") == "all:1"


def test_export_is_exact_in_json_guarded_in_csv_and_reports_failures(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    _accept(
        accord,
        "risk new =SUM(A1) likelihood:1 impact:2 expires:2027-01-31 "
        'controls:"+1 monitoring" asset:"@host"',
    )
    accord.command("risk snooze RSK-1 5", user=CISO)
    with session_scope(accord.services.engine) as session:
        as_json = json.loads(export_risks(session, ExportFormat.JSON))["risks"][0]
        row = _rows(export_risks(session, ExportFormat.CSV))[0]
    assert as_json["title"] == "=SUM(A1)" and as_json["controls"] == "+1 monitoring"
    assert row["title"] == "'=SUM(A1)" and row["asset"] == "'@host"
    assert as_json["snoozed_until"] == row["snoozed_until"] == "2026-11-30"
    assert [r["requested_by"] for r in as_json["rounds"]] == [CISO]
    assert json.loads(row["approval_rounds"]) == as_json["rounds"]

    accord.fake.error_next("files.getUploadURLExternal", "not_allowed_token_type")
    answer = accord.command_text("risk export csv", user=CIO)
    assert "on its way to your DM" in answer
    # Slack refused the upload for good: the outbox tells the person which file did not arrive.
    told = [reply_text(m) for m in accord.fake.messages_in(CIO)]
    assert any("could not deliver the file" in t and "not_allowed_token_type" in t for t in told)


def test_renewing_an_expired_risk_does_not_say_it_stays_in_force(accord: RunningAccord) -> None:
    _accept(accord)
    accord.clock.set(datetime(2027, 2, 2, 9, 0, tzinfo=UTC))
    risk_jobs.expire(accord.services, jobs_notifier(accord), accord.clock.now())
    accord.deliver()
    assert risk(accord).state == RiskState.EXPIRED
    renewed = accord.command_text("risk renew RSK-1 expires:2027-04-01", user=CISO)
    assert "expired on 2027-01-31 and is not in force unless both sides approve" in renewed
    assert "stays" not in renewed
    request = reply_text(approval_requests(accord, count=2)[-1])  # round 2's request
    assert "renew *RSK-1* (round 2)" in request and "stays in force" not in request
    assert "expired on 2027-01-31" in request


def test_a_rejected_request_is_mended_and_asked_again_as_a_new_round(
    accord: RunningAccord,
) -> None:
    accord.command_text(NEW, user=CISO)
    approve_button(accord)
    rejected = accord.command_text("risk reject RSK-1 No compensating control", user=CIO)
    assert "You rejected *RSK-1*" in rejected
    [told] = dms_to(accord, CISO, "was rejected")
    assert "`/accord risk submit RSK-1`: a new round on the same record" in told

    # The requester mends the record and asks again: round 2, the same RSK-1.
    mended = accord.command_text('risk update RSK-1 controls:"MFA on the VPN portal"', user=CISO)
    assert ":warning:" not in mended, mended
    assert risk(accord).state == RiskState.REJECTED
    again = accord.command_text("risk submit RSK-1", user=CISO)
    assert "Submitted *RSK-1*" in again, again
    value = approve_button(accord, 2)
    assert value.endswith(":2")
    click(accord, "risk.approve", value, CIO_2)
    assert "it is accepted" in click(accord, "risk.approve", value, CISO_2)
    record = risk(accord)
    assert record.state == RiskState.ACCEPTED and record.round == 2
    assert record.controls == "MFA on the VPN portal"
    # The rejection stays in the history, beside the round that was approved.
    trail = accord.command_text("risk audit RSK-1")
    assert "risk.resubmitted" in trail or "resubmitted" in trail.lower()
    assert "No compensating control" in accord.command_text("risk show RSK-1")
    assert count(accord, RiskAcceptance) == 1
    # Only a draft or a rejected request can be submitted.
    assert "only a draft or a rejected request" in accord.command_text(
        "risk submit RSK-1", user=CISO
    )


def test_approve_and_reject_buttons_only_for_those_who_may_decide(accord: RunningAccord) -> None:
    accord.command(NEW, user=CISO)

    def offered(user: str) -> bool:
        return "risk.approve" in str(accord.command("risk show RSK-1", user=user).json())

    assert offered(CIO) and offered(CISO_2)
    assert not offered(CISO)  # the requester
    assert not offered(OUTSIDER)
    assert "approved" in accord.command_text("risk approve RSK-1", user=CIO)
    assert not offered(CIO_2)  # the CIO side has decided
    assert offered(CISO_2)
