"""The leadership digest's data: counts and trends, changes since the last digest, and the
open disagreements to summarise — gathered by "digest sources" registered in `SOURCES`.

Every source issues a constant number of SQL statements (GROUP BY aggregates, one LIMITed
list), so building a digest costs the same for 100 records as for 100,000.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, case, func
from sqlmodel import Field, Session, SQLModel, col, select

from bot.domain.audit import AuditEvent
from bot.domain.initiatives import CLOSED_STATUSES, Health, Initiative, InitiativeStatus
from bot.summarize.briefs import DisagreementBrief

CHANGES_SHOWN = 15
FIRST_DIGEST_LOOKBACK = timedelta(days=7)


class DigestRun(SQLModel, table=True):
    """One digest: claimed (unique slot) before it is posted, so a slot is posted once."""

    __tablename__ = "digest_run"

    id: int | None = Field(default=None, primary_key=True)
    slot_key: str = Field(max_length=80, unique=True)
    kind: str = Field(max_length=16)  # "scheduled" or "manual"
    state: str = Field(default="claimed", max_length=16)  # claimed, posted, failed
    as_of: datetime = Field(index=True)
    requested_by: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    posted_at: datetime | None = None
    summarizer: str | None = Field(default=None, max_length=16)
    llm_tokens: int = 0
    snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class DigestWindow:
    now: datetime
    since: datetime  # changes after this moment are "new"

    @property
    def today(self) -> date:
        return self.now.date()


@dataclass(frozen=True)
class CountGroup:
    """A titled row of counts, e.g. initiatives by health; compared with the last digest."""

    key: str
    title: str
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ChangeLine:
    at: datetime
    record_ref: str
    action: str
    fields: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class DigestPart:
    """What one source contributes; empty fields contribute nothing."""

    counts: tuple[CountGroup, ...] = ()
    changes_total: int = 0
    changes_by_action: tuple[tuple[str, int], ...] = ()
    changes: tuple[ChangeLine, ...] = ()
    briefs: tuple[DisagreementBrief, ...] = ()


DigestSource = Callable[[Session, DigestWindow], DigestPart]


@dataclass
class DigestData:
    window: DigestWindow
    counts: list[CountGroup] = field(default_factory=list)
    changes_total: int = 0
    changes_by_action: list[tuple[str, int]] = field(default_factory=list)
    changes: list[ChangeLine] = field(default_factory=list)
    briefs: list[DisagreementBrief] = field(default_factory=list)
    previous: Mapping[str, Mapping[str, int]] | None = None
    previous_at: datetime | None = None

    def snapshot(self) -> dict[str, dict[str, int]]:
        """The counts stored with a posted digest, for next time's trends."""
        return {group.key: dict(group.counts) for group in self.counts}

    def trend(self, group_key: str, label: str, value: int) -> int | None:
        if self.previous is None or group_key not in self.previous:
            return None
        return value - int(self.previous[group_key].get(label, 0))


# -- sources ----------------------------------------------------------------------------------


def initiative_counts(session: Session, window: DigestWindow) -> DigestPart:
    """Two aggregate statements: status × health, and overdue / on-hold among the open ones."""
    grid = session.exec(
        select(Initiative.status, Initiative.health, func.count()).group_by(
            col(Initiative.status), col(Initiative.health)
        )
    ).all()
    by_status = dict.fromkeys((s.value for s in InitiativeStatus), 0)
    by_health = dict.fromkeys((h.value for h in Health), 0)
    for status, health, number in grid:
        by_status[InitiativeStatus(status).value] += number
        if status not in CLOSED_STATUSES:
            by_health[Health(health).value] += number
    is_open = col(Initiative.status).not_in(list(CLOSED_STATUSES))
    overdue, on_hold = session.exec(
        select(
            func.coalesce(
                func.sum(case((is_open & (col(Initiative.due_date) < window.today), 1), else_=0)),
                0,
            ),
            func.coalesce(
                func.sum(case((is_open & col(Initiative.on_hold).is_(True), 1), else_=0)), 0
            ),
        )
    ).one()
    return DigestPart(
        counts=(
            CountGroup(
                "initiatives_health", "Open initiatives by health", tuple(by_health.items())
            ),
            CountGroup("initiatives_status", "Initiatives by status", tuple(by_status.items())),
            CountGroup(
                "initiatives_attention",
                "Initiatives needing attention",
                (("overdue", int(overdue)), ("on security hold", int(on_hold))),
            ),
        )
    )


def audit_changes(session: Session, window: DigestWindow) -> DigestPart:
    """What changed since the last digest: totals per action, plus the latest few events."""
    recent = (col(AuditEvent.at) > window.since) & (col(AuditEvent.at) <= window.now)
    by_action = session.exec(
        select(AuditEvent.action, func.count())
        .where(recent)
        .group_by(col(AuditEvent.action))
        .order_by(func.count().desc(), col(AuditEvent.action))
    ).all()
    latest = session.exec(
        select(AuditEvent).where(recent).order_by(col(AuditEvent.id).desc()).limit(CHANGES_SHOWN)
    ).all()
    return DigestPart(
        changes_total=sum(number for _, number in by_action),
        changes_by_action=tuple((action, int(number)) for action, number in by_action),
        changes=tuple(
            ChangeLine(
                at=event.at,
                record_ref=event.record_ref,
                action=event.action,
                # for an update, which fields changed; a creation lists none
                fields=tuple(sorted((event.after or {}).keys())) if event.before else (),
                note=event.note,
            )
            for event in latest
        ),
    )


# The registry. Each source takes (session, window) and returns a DigestPart; order is the
# order of sections in the digest.
#
# WIRING ON MERGE (lead): risks and disagreements live on other branches. Add, in this order:
#   bot.domain.risks.risk_digest_counts(session, window) -> DigestPart
#       counts=(CountGroup("risks_band", "Risk acceptances by band", ((band, n), ...)),
#               CountGroup("acceptance_debt", "Acceptance debt",
#                          (("open < 90 days", n), ("open 90–180 days", n),
#                           ("open > 180 days", n), ("expired, not renewed", n))),
#               CountGroup("risk_approvals", "Waiting for a decision",
#                          (("pending approvals", n),)))      -- GROUP BY queries only
#   bot.domain.disagreements.disagreement_digest_part(session, window) -> DigestPart
#       counts=(CountGroup("escalations", "Escalations",
#                          (("awaiting decision", n), ("overdue", n))),),
#       briefs=tuple(DisagreementBrief(...) for every open disagreement)  -- one SELECT (+ a
#       selectin for options/escalation if needed), never one query per disagreement.
SOURCES: tuple[DigestSource, ...] = (
    initiative_counts,
    # risk_digest_counts,          <- bot.domain.risks (issue 3)
    # disagreement_digest_part,    <- bot.domain.disagreements (issue 4)
    audit_changes,
)


# -- collecting -------------------------------------------------------------------------------


def last_posted(session: Session) -> DigestRun | None:
    return session.exec(
        select(DigestRun)
        .where(DigestRun.state == "posted")
        .order_by(col(DigestRun.as_of).desc(), col(DigestRun.id).desc())
        .limit(1)
    ).first()


def collect(
    session: Session, *, now: datetime, sources: Sequence[DigestSource] = SOURCES
) -> DigestData:
    previous = last_posted(session)
    since = _aware(previous.as_of) if previous else now - FIRST_DIGEST_LOOKBACK
    window = DigestWindow(now=now, since=since)
    data = DigestData(
        window=window,
        previous=previous.snapshot if previous else None,
        previous_at=_aware(previous.as_of) if previous else None,
    )
    for source in sources:
        part = source(session, window)
        data.counts.extend(part.counts)
        data.changes_total += part.changes_total
        data.changes_by_action.extend(part.changes_by_action)
        data.changes.extend(part.changes)
        data.briefs.extend(part.briefs)
    data.changes.sort(key=lambda change: _aware(change.at), reverse=True)
    del data.changes[CHANGES_SHOWN:]
    return data


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    data: DigestData
    summary: Any  # bot.summarize.DisagreementSummary (kept loose to avoid an import cycle)

    @property
    def briefs(self) -> list[DisagreementBrief]:
        return self.data.briefs


def build_digest(
    engine: Any,
    *,
    now: datetime,
    summarizer: Any,
    sources: Sequence[DigestSource] = SOURCES,
) -> Digest:
    """Read everything in one short transaction, then summarise outside it (the LLM is slow)."""
    from bot.db import session_scope
    from bot.summarize.briefs import urgency_order

    with session_scope(engine) as session:
        data = collect(session, now=now, sources=sources)
    data.briefs = urgency_order(data.briefs)
    summary = summarizer.summarize(data.briefs, today=now.date())
    return Digest(data=data, summary=summary)
