"""The deterministic summariser: no network, no model, written straight from the records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.domain.summaries import (
    DisagreementBrief,
    DisagreementSummary,
    ItemSummary,
    deterministic_overview,
)

FALLBACK_LABEL = "Accord's deterministic summary (no LLM)"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _deadline(brief: DisagreementBrief, today: date) -> str:
    if brief.deadline is None:
        return "no decision deadline"
    days = (brief.deadline - today).days
    if days < 0:
        ago = f"{-days} day{'' if days == -1 else 's'} ago"
        return f"decision deadline {brief.deadline.isoformat()} passed {ago}"
    if days == 0:
        return f"decision due today ({brief.deadline.isoformat()})"
    return f"decision due {brief.deadline.isoformat()} (in {days} day{'' if days == 1 else 's'})"


def summarise_brief(brief: DisagreementBrief, *, today: date) -> ItemSummary:
    """The overview and question written straight from the record: its subject, age, deadline,
    escalation and options, and the escalation's own question (or one built from the options).
    The sides' positions are not part of it: the digest quotes them from the record."""
    about = f" about {brief.linked_ref}" if brief.linked_ref else ""
    age = brief.age_days(today)
    overview = (
        f"{brief.ref}{about}: {_clip(brief.subject, 200)}. "
        f"Open {age} day{'s' if age != 1 else ''}; {_deadline(brief, today)}"
    )
    if brief.escalation_ref:
        overview += f"; escalated as {brief.escalation_ref}"
    overview += "."
    if brief.options:
        overview += " Options on the table: " + "; ".join(_clip(o, 120) for o in brief.options[:4])
        overview += "."
    return ItemSummary(ref=brief.ref, overview=overview, question=deterministic_question(brief))


def deterministic_question(brief: DisagreementBrief) -> str:
    if brief.question.strip():
        return _clip(brief.question, 300)
    if brief.options:
        return _clip("Which option: " + " or ".join(brief.options[:4]) + "?", 300)
    return _clip(f"How should {brief.ref} be decided: {brief.subject}?", 300)


class FallbackSummarizer:
    name = "fallback"

    def summarize(
        self,
        briefs: Sequence[DisagreementBrief],
        *,
        today: date,
        reason: str | None = None,
    ) -> DisagreementSummary:
        items = tuple(summarise_brief(brief, today=today) for brief in briefs)
        return DisagreementSummary(
            author="fallback",
            author_label=FALLBACK_LABEL,
            overview=deterministic_overview(list(briefs), today=today),
            items=items,
            fallback_reason=reason,
        )
