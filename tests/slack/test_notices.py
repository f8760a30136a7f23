"""People hear about what concerns them: direct messages queued in the change's transaction,
through the signed-HTTP path, and the daily reminder of action items that fall due."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.bootstrap import build_web_client
from bot.scheduler.registry import job_by_id
from bot.slack.notifier import SlackNotifier
from tests.harness import CIO, CIO_2, CISO, CISO_2, COORDINATION, EXEC, RunningAccord, reply_text


def ok(accord: RunningAccord, text: str, *, user: str = CIO) -> str:
    result = accord.command_text(text, user=user)
    assert ":warning:" not in result and "went wrong" not in result, result
    return result


def dms(accord: RunningAccord, user: str) -> list[str]:
    accord.wait_idle()
    return [reply_text(message) for message in accord.fake.messages_in(user)]


def test_initiative_owners_hear_of_holds_releases_reassignment_changes_and_cancelling(
    accord: RunningAccord,
) -> None:
    ok(accord, f"initiative new Roll out MFA cio:<@{CIO}|ann> ciso:<@{CISO}|bo>")
    assert dms(accord, CIO) == [] and dms(accord, CISO) == []

    ok(accord, "initiative hold INI-1 unpatched CVE on the edge firewall", user=CISO_2)
    held = dms(accord, CIO)
    assert len(held) == 1
    assert f"<@{CISO_2}> placed a security hold on INI-1 “Roll out MFA”" in held[0]
    assert "unpatched CVE on the edge firewall" in held[0]
    assert len(dms(accord, CISO)) == 1

    ok(accord, "initiative release INI-1 patched and verified", user=EXEC)
    assert "released the security hold on INI-1" in dms(accord, CIO)[-1]
    assert "patched and verified" in dms(accord, CISO)[-1]

    # The CISO owner changes something: only the other owner hears of it.
    ok(accord, "initiative update INI-1 health:amber", user=CISO)
    assert len(dms(accord, CISO)) == 2
    assert (
        "changed INI-1 “Roll out MFA”, which you own: health green → amber" in dms(accord, CIO)[-1]
    )

    # Reassigned: the new owner is told it is theirs, the previous one that it moved.
    ok(accord, f"initiative update INI-1 owner-cio:<@{CIO_2}|dave>", user=CISO)
    assert f"<@{CISO}> made you the CIO-side owner of INI-1" in dms(accord, CIO_2)[-1]
    assert (
        f"made <@{CIO_2}> the CIO-side owner of INI-1 “Roll out MFA” in your place"
        in dms(accord, CIO)[-1]
    )

    ok(accord, "initiative update INI-1 status:cancelled", user=CIO_2)
    assert f"<@{CIO_2}> cancelled INI-1 “Roll out MFA”" in dms(accord, CISO)[-1]
    assert len(dms(accord, CIO_2)) == 1  # not told of their own change


def test_participants_hear_of_being_added_a_skipped_meeting_and_the_end_of_a_series(
    accord: RunningAccord,
) -> None:
    accord.clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    ok(
        accord,
        f"touchpoint new Weekly sync every:weekly at:09:00 tz:Europe/Berlin "
        f"with:<@{CIO}|ann>,<@{CISO}|bo>,<@{CISO_2}|cy> "
        f"channel:<#{COORDINATION}|coordination> from:2027-03-22",
    )
    assert dms(accord, CIO) == []  # the organiser
    added = dms(accord, CISO)
    assert len(added) == 1 and len(dms(accord, CISO_2)) == 1
    assert f"<@{CIO}> added you to the touchpoint TP-1 “Weekly sync”" in added[0]
    assert "Every Monday at 09:00 Europe/Berlin" in added[0]
    assert "Mon 22 Mar 2027 09:00 Europe/Berlin" in added[0]

    ok(accord, "touchpoint skip TP-1")
    skipped = dms(accord, CISO)[-1]
    assert "skipped the TP-1 “Weekly sync” meeting of Mon 22 Mar 2027 09:00" in skipped
    assert "the next one is Mon 29 Mar 2027 09:00 Europe/Berlin" in skipped

    ok(accord, "touchpoint cancel TP-1")
    assert "cancelled the touchpoint TP-1" in dms(accord, CISO_2)[-1]
    assert len(dms(accord, CISO)) == 3 and dms(accord, CIO) == []


def test_action_owners_hear_of_an_assignment_and_once_when_it_falls_due(
    accord: RunningAccord,
) -> None:
    accord.clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    ok(
        accord,
        f"touchpoint new Weekly sync every:weekly at:09:00 tz:Europe/Berlin "
        f"with:<@{CIO}|ann>,<@{CISO}|bo> channel:<#{COORDINATION}|coordination> from:2027-03-22",
    )
    ok(accord, f"touchpoint action TP-1 Draft the MFA exception owner:<@{CISO}|bo> due:2027-03-17")
    given = dms(accord, CISO)[-1]
    assert f"<@{CIO}> gave you the action item A-1 from TP-1" in given
    assert "Draft the MFA exception (due 2027-03-17)" in given
    ok(accord, f"touchpoint action TP-1 Book the room owner:<@{CIO}|ann> due:2027-03-17")
    assert all("Book the room" not in text for text in dms(accord, CIO))  # their own
    before = len(dms(accord, CISO))

    notifier = SlackNotifier(build_web_client(accord.services.settings))
    job = job_by_id("touchpoints.remind_due_actions")
    for moment in (
        datetime(2027, 3, 16, 8, 0, tzinfo=UTC),
        datetime(2027, 3, 17, 8, 0, tzinfo=UTC),
    ):
        accord.clock.set(moment)
        job.run(accord.services, notifier, moment)
        job.run(accord.services, notifier, moment)  # a second clock, or a rerun
        accord.deliver()
    reminders = dms(accord, CISO)[before:]
    assert len(reminders) == 1
    assert "Your action item *A-1* from TP-1" in reminders[0] and "is due today" in reminders[0]
    assert sum("Your action item *A-2*" in text for text in dms(accord, CIO)) == 1

    ok(accord, "touchpoint done A-1", user=CISO)
    accord.clock.set(datetime(2027, 3, 18, 8, 0, tzinfo=UTC))
    job.run(accord.services, notifier, accord.clock.now())
    accord.deliver()
    assert len(dms(accord, CISO)) == before + 1
