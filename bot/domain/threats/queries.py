"""Reading threat briefs with what they touch (for the agenda, the digest and Slack)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from bot.domain.attack.exposure import AcceptedRisk, accepted_in_force
from bot.domain.risks.models import RiskAcceptance
from bot.domain.threats.models import ThreatBrief
from bot.domain.threats.policy import Touch, touches
from bot.domain.threats.service import open_briefs


@dataclass(frozen=True)
class BriefView:
    brief: ThreatBrief
    risks: tuple[Touch, ...]
    initiatives: tuple[str, ...]

    @property
    def flagged(self) -> tuple[Touch, ...]:
        return tuple(t for t in self.risks if t.flagged)

    def line(self) -> str:
        """Plain text: title, severity, techniques, and what it touches."""
        b = self.brief
        parts = [f"{b.title} ({b.severity.value})"]
        named = [f"{t.id} {t.name}".strip() for t in b.technique_details]
        if named:
            parts.append("techniques " + ", ".join(named[:5]))
        touched = [*self.initiatives]
        for touch in self.risks:
            review = ", flagged for review" if touch.flagged else ""
            touched.append(f"{touch.risk.ref} (accepted; {touch.why()}{review})")
        if touched:
            parts.append("touches " + "; ".join(touched[:8]))
        return " — ".join(parts)

    def short_line(self) -> str:
        """For an agenda line (150 characters): the refs of what it touches, technique ids."""
        b = self.brief
        title = b.title if len(b.title) <= 70 else b.title[:69] + "…"
        parts = [f"{title} ({b.severity.value})"]
        if b.techniques:
            parts.append(", ".join(b.techniques[:3]) + ("…" if len(b.techniques) > 3 else ""))
        touched = [*self.initiatives, *(t.risk.ref for t in self.risks)]
        if touched:
            parts.append("touches " + ", ".join(touched[:4]) + ("…" if len(touched) > 4 else ""))
        return " — ".join(parts)


def views(
    session: Session,
    briefs: Sequence[ThreatBrief],
    *,
    today: date,
    accepted: Sequence[AcceptedRisk] | None = None,
) -> list[BriefView]:
    """Each brief with the accepted risks and initiatives it touches (one read of the
    acceptances in force for all of them)."""
    if not briefs:
        return []
    risks = list(accepted) if accepted is not None else accepted_in_force(session, today=today)
    found = []
    for brief in briefs:
        touched = touches(
            severity=brief.severity,
            techniques=brief.techniques,
            links=brief.links,
            accepted=risks,
        )
        initiatives = tuple(ref for ref in brief.links if ref.startswith("INI-"))
        found.append(BriefView(brief=brief, risks=tuple(touched), initiatives=initiatives))
    return found


def briefs_touching(session: Session, risk: RiskAcceptance) -> list[tuple[ThreatBrief, Touch]]:
    """The open briefs that touch one risk record (as they would if it were accepted)."""
    subject = AcceptedRisk(
        ref=risk.ref,
        title=risk.title,
        score=risk.score,
        expires_on=risk.expires_on,
        techniques=tuple(risk.techniques),
        tactics=tuple(risk.tactics),
        initiatives=tuple(r for r in (risk.initiative_ref, risk.retired_by_ref) if r),
        owner_id=risk.owner,
    )
    found = []
    for brief in open_briefs(session, limit=200):
        for touch in touches(
            severity=brief.severity,
            techniques=brief.techniques,
            links=brief.links,
            accepted=[subject],
        ):
            found.append((brief, touch))
    return found
