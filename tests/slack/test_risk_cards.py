"""A risk's approval card shows the record's current state after a revocation or a material
change, updated in place, and the requester hears of a revocation by someone else."""

from __future__ import annotations

from tests.harness import CIO, CIO_2, CISO, CISO_2, COORDINATION, RunningAccord, reply_text
from tests.slack.test_risks import NEW, approve_button, click, dms_to


def card_updates(accord: RunningAccord, ts: str, containing: str) -> list[str]:
    """Wait for a chat.update of the message `ts` whose text contains `containing`."""
    seen = 1
    while True:
        calls = accord.fake.wait_for("chat.update", count=seen)
        found = [
            reply_text(c.body) for c in calls if c.body["ts"] == ts and containing in c.body["text"]
        ]
        if found:
            return found
        seen = len(calls) + 1


def request_ts(accord: RunningAccord, nth: int = 1) -> str:
    posted = [
        c
        for c in accord.fake.calls("chat.postMessage")
        if c.body["channel"] == COORDINATION and "risk.approve" in str(c.body.get("blocks"))
    ][nth - 1]
    assert posted.response is not None
    return str(posted.response["ts"])


def test_a_revoked_acceptance_shows_revoked_on_its_card_and_the_requester_is_told(
    accord: RunningAccord,
) -> None:
    accord.command(NEW, user=CISO)
    value = approve_button(accord)
    click(accord, "risk.approve", value, CISO_2)
    click(accord, "risk.approve", value, CIO)
    ts = request_ts(accord)
    card_updates(accord, ts, "ccepted")

    accord.command_text("risk revoke RSK-1 the VPN was switched off", user=CIO_2)
    [card] = card_updates(accord, ts, "evoked")[-1:]
    assert "accepted" not in card.lower().replace("acceptance", "")
    told = dms_to(accord, CISO, "revoked")[0]
    assert "RSK-1" in told and "the VPN was switched off" in told


def test_after_a_material_change_the_old_round_card_says_it_was_replaced(
    accord: RunningAccord,
) -> None:
    accord.command(NEW, user=CISO)
    value = approve_button(accord)
    click(accord, "risk.approve", value, CISO_2)
    click(accord, "risk.approve", value, CIO)
    first = request_ts(accord)
    accord.command_text('risk update RSK-1 controls:"Conditional access"', user=CISO)
    approve_button(accord, 2)
    second = request_ts(accord, 2)
    assert second != first
    accord.command_text('risk update RSK-1 controls:"Conditional access and MFA"', user=CISO)
    approve_button(accord, 3)
    [old] = card_updates(accord, second, "Replaced by round 3")[-1:]
    # the old request points at the new one and shows the record as it is now: round 3 waiting
    assert old.startswith(":fast_forward: Replaced by round 3; use its request.")
    assert "*Round 3* · CIO side: _waiting_ · CISO side: _waiting_" in old
    assert "Approved" not in old
