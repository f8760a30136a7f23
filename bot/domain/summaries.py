"""What a summariser works on and what it hands back: plain frozen records, never tables.

Disagreements (and, later, other record kinds) are turned into `DisagreementBrief`s by the
digest's sources; the summarisers (bot.summarize), the faithfulness checks and the renderers
only see these. They live in the domain so that the digest needs nothing from bot.summarize.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class DisagreementBrief:
    """One open disagreement, as the digest shows it: both positions and what is at stake."""

    ref: str
    subject: str
    cio_position: str
    ciso_position: str
    opened_on: date
    state: str = "open"
    linked_ref: str | None = None
    business_impact: str = ""
    security_impact: str = ""
    options: tuple[str, ...] = ()
    deadline: date | None = None
    escalation_ref: str | None = None
    #: The open escalation's question, as whoever escalated wrote it ("" when not escalated).
    question: str = ""

    def known_refs(self) -> frozenset[str]:
        """Ids a summary of this brief may mention."""
        return frozenset(r for r in (self.ref, self.linked_ref, self.escalation_ref) if r)

    def record(self) -> dict[str, Any]:
        """The JSON the LLM sees (and the cache is keyed by). No age: it would change daily."""
        data = asdict(self)
        data["options"] = list(self.options)
        data["opened_on"] = self.opened_on.isoformat()
        data["deadline"] = self.deadline.isoformat() if self.deadline else None
        return data

    def canonical_json(self) -> str:
        return json.dumps(self.record(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def age_days(self, today: date) -> int:
        return max(0, (today - self.opened_on).days)

    def record_text(self) -> str:
        """Every word and number of the record, for the faithfulness checks."""
        return "\n".join(
            (
                self.ref,
                self.subject,
                self.cio_position,
                self.ciso_position,
                self.business_impact,
                self.security_impact,
                self.question,
                *(self.options),
                self.linked_ref or "",
                self.escalation_ref or "",
                self.opened_on.isoformat(),
                self.deadline.isoformat() if self.deadline else "",
            )
        )


@dataclass(frozen=True)
class ItemSummary:
    """What a summariser writes about one disagreement: an overview and the question to
    decide, citing the record it summarises. Never the sides' positions: the digest shows
    those from the record, in each side's own words."""

    ref: str
    overview: str
    question: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ItemSummary | None:
        """A cached item, or None when it is not of this shape (e.g. written by an older
        version); such an entry is treated as missing."""
        if not isinstance(data, dict) or set(data) != {"ref", "overview", "question"}:
            return None
        if not all(isinstance(value, str) for value in data.values()):
            return None
        return cls(ref=data["ref"], overview=data["overview"], question=data["question"])


@dataclass(frozen=True)
class TokenUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class DisagreementSummary:
    """What the digest shows about open disagreements, and who wrote it.

    `author` is "llm" (every item by the LLM, checked), "fallback" (every item by Accord's
    deterministic summariser) or "mixed": the LLM wrote some items and the deterministic
    summariser the ones in `fallback_refs` (their chunk failed or ran out of time)."""

    author: str  # "llm", "fallback" or "mixed"
    author_label: str  # shown in the digest, e.g. "LLM (gpt-4o-mini), checked"
    overview: str
    items: tuple[ItemSummary, ...]
    fallback_reason: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    cached_items: int = 0
    fallback_refs: frozenset[str] = frozenset()

    def by_llm(self, ref: str) -> bool:
        """Whether the LLM wrote this item (else Accord's deterministic summariser did)."""
        return self.author == "llm" or (self.author == "mixed" and ref not in self.fallback_refs)

    def item(self, ref: str) -> ItemSummary | None:
        for item in self.items:
            if item.ref == ref:
                return item
        return None


def urgency_order(briefs: list[DisagreementBrief]) -> list[DisagreementBrief]:
    """Escalated first, then by deadline (none last), then oldest."""
    return sorted(
        briefs,
        key=lambda b: (
            b.escalation_ref is None,
            b.deadline or date.max,
            b.opened_on,
            _natural(b.ref),
        ),
    )


def _natural(ref: str) -> tuple[str, int]:
    """`DIS-2` before `DIS-10`."""
    prefix, _, number = ref.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (ref, 0)


def deterministic_overview(briefs: list[DisagreementBrief], *, today: date) -> str:
    """The merge step's overview: counts only, so it cannot misstate anything."""
    if not briefs:
        return "No open disagreements."
    past = sum(1 for b in briefs if b.deadline is not None and b.deadline < today)
    escalated = sum(1 for b in briefs if b.escalation_ref)
    oldest = max(b.age_days(today) for b in briefs)
    parts = [f"{len(briefs)} open disagreement{'s' if len(briefs) != 1 else ''}"]
    if escalated:
        parts.append(f"{escalated} escalated")
    if past:
        parts.append(f"{past} past the decision deadline")
    parts.append(f"the oldest has been open {oldest} day{'s' if oldest != 1 else ''}")
    return ", ".join(parts) + "."
