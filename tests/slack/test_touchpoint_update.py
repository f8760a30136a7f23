"""`touchpoint update TP-n` through the signed-HTTP path: a series changed in place, with the
people who join, leave or stay told, instead of cancelling and creating it again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from bot.bootstrap import build_web_client
from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.harness import CIO, CIO_2, CISO, CISO_2, COORDINATION, RunningAccord, reply_text

SERIES = (
    f"touchpoint new Weekly sync every:weekly at:09:00 tz:Europe/Berlin "
    f"with:<@{CIO}|ann>,<@{CISO}|bo> channel:<#{COORDINATION}|coordination> from:2027-03-22"
)


def ok(accord: RunningAccord, text: str, *, user: str = CIO) -> str:
    result = accord.command_text(text, user=user)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


def dms(accord: RunningAccord, user: str) -> list[str]:
    accord.wait_idle()
    return [reply_text(message) for message in accord.fake.messages_in(user)]


def date_tag(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^"


def test_a_series_is_changed_in_place_and_the_people_concerned_are_told(
    accord: RunningAccord,
) -> None:
    accord.clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    ok(accord, SERIES)
    updated = ok(
        accord,
        'touchpoint update TP-1 name:"CIO–CISO sync" at:10:30 tz:Europe/London every:2w '
        f"with:<@{CIO}|ann>,<@{CISO_2}|cy>,<@{CIO_2}|dave> lead:48h duration:45",
    )
    assert "Updated *TP-1*" in updated and "TP-1 · CIO–CISO sync" in updated
    assert "Every 2 weeks on Monday at 10:30 Europe/London" in updated
    assert "45 min · agenda 48 h before" in updated
    # Monday 22 March 2027 10:30 London is 10:30 UTC (summer time starts on the 28th).
    assert date_tag(datetime(2027, 3, 22, 10, 30, tzinfo=UTC)) in updated
    assert date_tag(datetime(2027, 4, 5, 9, 30, tzinfo=UTC)) in updated
    assert f"<@{CISO_2}>" in updated and f"<@{CISO}>" not in updated.split("Organiser")[0]

    assert "removed you from the touchpoint TP-1 “CIO–CISO sync”" in dms(accord, CISO)[-1]
    joined = dms(accord, CISO_2)
    assert len(joined) == 1 and "added you to the touchpoint TP-1 “CIO–CISO sync”" in joined[0]
    assert "Every 2 weeks on Monday at 10:30 Europe/London" in joined[0]
    changed = dms(accord, CIO_2)
    assert len(changed) == 1 and "added you" in changed[0]
    assert dms(accord, CIO) == []  # the organiser made the change

    with session_scope(accord.services.engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "touchpoint.updated")
        ).one()
        assert event.after is not None and event.after["time"] == "10:30"
        assert event.before is not None and event.before["time"] == "09:00"

    # The agenda follows the new lead time and time: due 48 h before 22 March 10:30 UTC.
    notifier = SlackNotifier(build_web_client(accord.services.settings))
    accord.clock.set(datetime(2027, 3, 20, 10, 31, tzinfo=UTC))
    job_by_id("touchpoints.post_agendas").run(accord.services, notifier, accord.clock.now())
    accord.deliver()
    [agenda] = accord.fake.messages_in(COORDINATION)
    assert "CIO–CISO sync" in reply_text(agenda) and "10:30 Europe/London" in reply_text(agenda)

    # Someone who stays hears of a change; a rule more often than daily is refused.
    ok(accord, "touchpoint update TP-1 at:11:00", user=CIO_2)
    assert "changed the touchpoint TP-1" in dms(accord, CIO)[-1]
    assert "time 10:30 → 11:00" in dms(accord, CIO)[-1]
    refused = accord.command_text('touchpoint update TP-1 every:"FREQ=HOURLY"')
    assert "more than once a day" in refused
    assert "nothing" in accord.command_text("touchpoint update TP-1 at:11:00").lower()
    nothing = accord.command_text("touchpoint update TP-1")
    assert "Nothing to change" in nothing
    wrong = accord.command_text("touchpoint update TP-1 colour:blue")
    assert "touchpoint update TP-n" in wrong


def test_a_cancelled_series_cannot_be_updated(accord: RunningAccord) -> None:
    ok(accord, SERIES.replace("from:2027-03-22", ""))
    ok(accord, "touchpoint cancel TP-1")
    assert "cancelled" in accord.command_text("touchpoint update TP-1 at:10:00")


def test_an_action_item_is_reassigned_and_its_due_date_changed(accord: RunningAccord) -> None:
    accord.clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    ok(accord, SERIES)
    ok(accord, f"touchpoint action TP-1 Draft the MFA exception owner:<@{CISO}|bo> due:2027-03-20")
    moved = ok(accord, f"touchpoint reassign A-1 owner:<@{CISO_2}|cy> due:2027-03-25", user=CISO)
    assert f"*A-1* for TP-1: Draft the MFA exception — <@{CISO_2}>, due 2027-03-25" in moved
    given = dms(accord, CISO_2)[-1]
    assert f"<@{CISO}> gave you the action item A-1 from TP-1" in given
    assert "(due 2027-03-25)" in given
    assert f"<@{CISO}> gave your action item A-1" not in "".join(dms(accord, CISO))  # own change
    ok(accord, 'touchpoint reassign A-1 due:none text:"Draft and send the MFA exception"')
    changed = dms(accord, CISO_2)[-1]
    assert f"<@{CIO}> changed your action item A-1 from TP-1" in changed
    assert "Draft and send the MFA exception." in changed
    shown = ok(accord, "touchpoint show TP-1")
    assert "Draft and send the MFA exception" in shown and "2027-03-25" not in shown
    with session_scope(accord.services.engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "touchpoint.action_updated")
        ).all()
        assert [e.after for e in events][0] == {
            "action": "A-1",
            "owner": CISO_2,
            "due": "2027-03-25",
        }
    assert "already has those values" in accord.command_text(
        'touchpoint reassign A-1 text:"Draft and send the MFA exception"'
    )
    impossible = accord.command_text("touchpoint reassign A-1 due:2027-02-30")
    assert "`2027-02-30` is not a valid due date" in impossible
