"""The "Needs you" part of the Home view: pure rendering, inside Block Kit's limits."""

from __future__ import annotations

from datetime import date, datetime

from bot.domain.disagreements import Disagreement, DisagreementState
from bot.domain.escalations import Escalation, EscalationState
from bot.domain.initiatives import HomeSummary, Initiative
from bot.domain.needs import NeedsYou, Waiting
from bot.domain.paging import Page
from bot.domain.risks import RiskAcceptance, RiskState
from bot.slack.blocks.home import home_view

TODAY = date(2026, 11, 25)
EVIL = "<!channel> & <https://x|y>"


def _needs(total: int) -> NeedsYou:
    risks = [
        RiskAcceptance(
            id=n,
            title=EVIL,
            likelihood=3,
            impact=4,
            requested_by="U0CISO1",
            expires_on=date(2027, 1, 31),
            state=RiskState.PENDING,
        )
        for n in range(1, 6)
    ]
    escalations = [
        Escalation(
            id=n,
            disagreement_id=n,
            question=EVIL,
            decide_by=date(2026, 11, 20),
            state=EscalationState.PENDING,
            escalated_by="U0CISO1",
            escalated_at=datetime(2026, 11, 1),
        )
        for n in range(1, 6)
    ]
    disagreements = [
        Disagreement(id=n, subject=EVIL, cio_position="x", state=DisagreementState.OPEN)
        for n in range(1, 6)
    ]
    return NeedsYou(
        risks=Waiting(risks, total),
        escalations=Waiting(escalations, total),
        disagreements=Waiting(disagreements, total),
        today=TODAY,
    )


def test_needs_you_comes_first_escapes_record_text_and_stays_in_limits() -> None:
    empty: Page[Initiative] = Page(items=[], total=0, page=1, page_size=10)
    summary = HomeSummary(mine=empty, overdue=empty, on_hold=empty)
    view = home_view(summary, today=TODAY, needs=_needs(40)).to_dict()
    blocks = view["blocks"]
    assert len(blocks) <= 100
    assert blocks[1]["text"]["text"] == "Needs you (120)"
    text = str(blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp;" in text
    assert text.count("…and 35 more") == 3
    assert text.count("overdue") == 5


def test_nothing_waiting_says_so() -> None:
    empty: Page[Initiative] = Page(items=[], total=0, page=1, page_size=10)
    summary = HomeSummary(mine=empty, overdue=empty, on_hold=empty)
    needs = NeedsYou(risks=Waiting(), escalations=Waiting(), disagreements=Waiting(), today=TODAY)
    text = str(home_view(summary, today=TODAY, needs=needs).to_dict()["blocks"][:3])
    assert "Needs you (0)" in text and "Nothing waits on you right now." in text
