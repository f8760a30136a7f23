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

from sqlalchemy import JSON, Column, case, func, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from bot.domain.attack.exposure import EXPIRING_DAYS, accepted_in_force, by_tactic
from bot.domain.audit import AuditEvent
from bot.domain.audit_chain import ChainHead, chain_head
from bot.domain.budget import BudgetState, money
from bot.domain.disagreements import ACTIVE_STATES, Disagreement
from bot.domain.escalations import UNDECIDED, Escalation
from bot.domain.gate.models import GateCheck
from bot.domain.gate.overrides import GateOverride
from bot.domain.initiatives import CLOSED_STATUSES, Health, Initiative, InitiativeStatus
from bot.domain.risks import OPEN_STATES, Band, RiskAcceptance, RiskState, band_expression
from bot.domain.summaries import DisagreementBrief, DisagreementSummary, urgency_order
from bot.domain.threats.queries import views as threat_views
from bot.domain.threats.service import open_briefs
from bot.domain.titles import record_titles

CHANGES_SHOWN = 15
#: Lines of a digest section (exposure, spend, threats) gathered at most.
SECTION_SHOWN = 15
#: Audit events read to find the latest CHANGES_SHOWN groups of changes (see `audit_changes`).
CHANGES_READ = CHANGES_SHOWN * 4
#: Records named under "Needs attention", per kind (initiatives, risks).
ATTENTION_SHOWN = 10
#: An accepted risk expiring within this many days is named under "Needs attention".
EXPIRING_WITHIN_DAYS = 14
FIRST_DIGEST_LOOKBACK = timedelta(days=7)
#: Acceptance debt: open risk acceptances by age (since requested), in days.
DEBT_YOUNG_DAYS = 90
DEBT_OLD_DAYS = 180


class DigestRun(SQLModel, table=True):
    """One digest: claimed (unique slot) before it is posted, so a slot is posted once.

    States: `claimed` (being built and posted) → `posted` or `failed`. A failed scheduled slot
    is claimed again by a conditional UPDATE (failed → claimed), so of two clocks retrying at
    once exactly one wins; `attempts` counts the claims and `error` keeps the last failure.
    """

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
    attempts: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


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
    #: The record's title (initiative, risk, series) or subject (disagreement, escalation).
    title: str | None = None
    actor_id: str | None = None
    #: How many events of this action on this record by this person the line stands for.
    count: int = 1

    @property
    def action_words(self) -> str:
        """`initiative.topic_added` → `topic added`: what was done, as words."""
        return action_words(self.action, with_kind=False)


def action_words(action: str, *, with_kind: bool = True) -> str:
    """An audit action as people read it: `risk.approved` → `risk approved` (or `approved`)."""
    kind, _, verb = action.partition(".")
    words = (f"{kind} {verb}" if with_kind else verb) if verb else kind
    return words.replace("_", " ")


@dataclass(frozen=True)
class AttentionLine:
    """A record the digest names because it needs someone: red, held, overdue or expiring."""

    ref: str
    title: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DigestSection:
    """A titled list of plain-text lines (renderers escape them), e.g. exposure by tactic."""

    key: str
    title: str
    lines: tuple[str, ...]
    empty: str = "Nothing to report."


@dataclass(frozen=True)
class DigestPart:
    """What one source contributes; empty fields contribute nothing."""

    counts: tuple[CountGroup, ...] = ()
    changes_total: int = 0
    changes_by_action: tuple[tuple[str, int], ...] = ()
    changes: tuple[ChangeLine, ...] = ()
    briefs: tuple[DisagreementBrief, ...] = ()
    sections: tuple[DigestSection, ...] = ()
    attention: tuple[AttentionLine, ...] = ()
    #: Records needing attention beyond those named.
    attention_more: int = 0


DigestSource = Callable[[Session, DigestWindow], DigestPart]


@dataclass
class DigestData:
    window: DigestWindow
    counts: list[CountGroup] = field(default_factory=list)
    changes_total: int = 0
    changes_by_action: list[tuple[str, int]] = field(default_factory=list)
    changes: list[ChangeLine] = field(default_factory=list)
    briefs: list[DisagreementBrief] = field(default_factory=list)
    sections: list[DigestSection] = field(default_factory=list)
    attention: list[AttentionLine] = field(default_factory=list)
    attention_more: int = 0
    #: Display names of the people named in the digest (filled by the adapter that has them).
    people: dict[str, str] = field(default_factory=dict)
    previous: Mapping[str, Mapping[str, int]] | None = None
    previous_at: datetime | None = None
    #: Published in the digest, so that a rewrite of the whole audit chain shows against it.
    audit_head: ChainHead | None = None

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
    """What changed since the last digest: totals per action, plus the latest changes, each
    with its record's title and who acted. Repeated events of one action on one record by one
    person (topics added, updates in a row) are one line with a count, so they do not crowd
    out the rest. Constant statements: the totals, the latest events, one per record kind."""
    recent = (col(AuditEvent.at) > window.since) & (col(AuditEvent.at) <= window.now)
    by_action = session.exec(
        select(AuditEvent.action, func.count())
        .where(recent)
        .group_by(col(AuditEvent.action))
        .order_by(func.count().desc(), col(AuditEvent.action))
    ).all()
    latest = session.exec(
        select(AuditEvent).where(recent).order_by(col(AuditEvent.id).desc()).limit(CHANGES_READ)
    ).all()
    groups: dict[tuple[str, str, str], list[AuditEvent]] = {}
    for event in latest:
        key = (event.record_ref, event.action, event.actor_id)
        if key in groups or len(groups) < CHANGES_SHOWN:
            groups.setdefault(key, []).append(event)
    titles = record_titles(session, {ref for ref, _, _ in groups})
    changes = []
    for (ref, action, actor), events in groups.items():
        newest = events[0]
        fields: set[str] = set()
        for event in events:
            # for an update, which fields changed; a creation lists none
            if event.before:
                fields.update((event.after or {}).keys())
        changes.append(
            ChangeLine(
                at=newest.at,
                record_ref=ref,
                action=action,
                fields=tuple(sorted(fields)),
                note=newest.note,
                title=titles.get(ref),
                actor_id=actor,
                count=len(events),
            )
        )
    return DigestPart(
        changes_total=sum(number for _, number in by_action),
        changes_by_action=tuple((action, int(number)) for action, number in by_action),
        changes=tuple(changes),
    )


def attention_records(session: Session, window: DigestWindow) -> DigestPart:
    """The records behind the counts that need someone, by name: open initiatives that are
    red, on security hold or overdue; accepted risks expiring within EXPIRING_WITHIN_DAYS.
    Four statements (a LIMITed list and a count per kind)."""
    today = window.today
    is_open = col(Initiative.status).not_in(list(CLOSED_STATUSES))
    needs = (
        (col(Initiative.health) == Health.RED)
        | col(Initiative.on_hold).is_(True)
        | (col(Initiative.due_date) < today)
    )
    initiatives = session.exec(
        select(Initiative)
        .where(is_open & needs)
        .order_by(
            col(Initiative.on_hold).desc(),
            col(Initiative.due_date).is_(None),
            col(Initiative.due_date),
            col(Initiative.id),
        )
        .limit(ATTENTION_SHOWN)
    ).all()
    initiative_total = session.exec(
        select(func.count()).select_from(Initiative).where(is_open & needs)
    ).one()
    lines = []
    for initiative in initiatives:
        reasons = []
        if initiative.on_hold:
            reasons.append("on security hold")
        if initiative.health == Health.RED:
            reasons.append("red")
        if initiative.due_date is not None and initiative.due_date < today:
            reasons.append(f"overdue (due {initiative.due_date.isoformat()})")
        lines.append(AttentionLine(initiative.ref, initiative.title, tuple(reasons)))
    horizon = today + timedelta(days=EXPIRING_WITHIN_DAYS)
    expiring = (
        (col(RiskAcceptance.state) == RiskState.ACCEPTED)
        & (col(RiskAcceptance.expires_on) >= today)
        & (col(RiskAcceptance.expires_on) <= horizon)
    )
    risks = session.exec(
        select(RiskAcceptance)
        .where(expiring)
        .order_by(col(RiskAcceptance.expires_on), col(RiskAcceptance.id))
        .limit(ATTENTION_SHOWN)
    ).all()
    risk_total = session.exec(
        select(func.count()).select_from(RiskAcceptance).where(expiring)
    ).one()
    lines += [
        AttentionLine(risk.ref, risk.title, (f"expires {risk.expires_on.isoformat()}",))
        for risk in risks
    ]
    return DigestPart(
        attention=tuple(lines),
        attention_more=int(initiative_total) + int(risk_total) - len(lines),
    )


def _how_many(condition: Any) -> Any:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0 on an empty table."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def risk_digest_counts(session: Session, window: DigestWindow) -> DigestPart:
    """Two aggregate statements: open acceptances by band (band is computed in SQL from the
    thresholds in bot.domain.risks), then acceptance debt and pending approvals."""
    is_open = col(RiskAcceptance.state).in_(list(OPEN_STATES))
    banded = select(band_expression().label("band")).where(is_open).subquery()
    by_band = dict.fromkeys((band.value for band in Band), 0)
    for band, number in session.exec(
        select(banded.c.band, func.count()).group_by(banded.c.band)
    ).all():
        by_band[Band(band).value] += int(number)
    state = col(RiskAcceptance.state)
    requested = col(RiskAcceptance.created_at)
    young = window.now - timedelta(days=DEBT_YOUNG_DAYS)
    old = window.now - timedelta(days=DEBT_OLD_DAYS)
    # (five columns: SQLAlchemy's own select; SQLModel's is typed for up to four)
    fresh, ageing, stale, lapsed, pending = session.execute(
        sql_select(
            _how_many(is_open & (requested > young)),
            _how_many(is_open & (requested <= young) & (requested >= old)),
            _how_many(is_open & (requested < old)),
            # renewing moves an expired record back to pending, so `expired` is not renewed
            _how_many(state == RiskState.EXPIRED),
            _how_many(state == RiskState.PENDING),
        )
    ).one()
    return DigestPart(
        counts=(
            CountGroup("risks_band", "Risk acceptances by band", tuple(by_band.items())),
            CountGroup(
                "acceptance_debt",
                "Acceptance debt",
                (
                    (f"open < {DEBT_YOUNG_DAYS} days", int(fresh)),
                    (f"open {DEBT_YOUNG_DAYS}–{DEBT_OLD_DAYS} days", int(ageing)),
                    (f"open > {DEBT_OLD_DAYS} days", int(stale)),
                    ("expired, not renewed", int(lapsed)),
                ),
            ),
            CountGroup(
                "risk_approvals", "Waiting for a decision", (("pending approvals", int(pending)),)
            ),
        )
    )


def disagreement_digest_part(session: Session, window: DigestWindow) -> DigestPart:
    """Two statements: escalation counts, and every open disagreement with its escalation
    (an outer join: a disagreement has at most one escalation)."""
    undecided = col(Escalation.state).in_(list(UNDECIDED))
    awaiting, overdue = session.exec(
        select(
            _how_many(undecided),
            _how_many(undecided & (col(Escalation.decide_by) < window.today)),
        ).select_from(Escalation)
    ).one()
    rows = session.exec(
        select(Disagreement, Escalation)
        .join(
            Escalation,
            col(Escalation.disagreement_id) == col(Disagreement.id),
            isouter=True,
        )
        .where(col(Disagreement.state).in_(list(ACTIVE_STATES)))
        .order_by(col(Disagreement.id))
    ).all()
    briefs = []
    for disagreement, escalation in rows:
        live = escalation if escalation is not None and escalation.is_open else None
        briefs.append(
            DisagreementBrief(
                ref=disagreement.ref,
                subject=disagreement.subject,
                cio_position=disagreement.cio_position,
                ciso_position=disagreement.ciso_position,
                opened_on=disagreement.created_at.date(),
                state=disagreement.state.value,
                linked_ref=disagreement.linked_ref,
                business_impact=disagreement.business_impact,
                security_impact=disagreement.security_impact,
                options=tuple(disagreement.options),
                deadline=live.decide_by if live else None,
                escalation_ref=live.ref if live else None,
                question=live.question if live else "",
            )
        )
    return DigestPart(
        counts=(
            CountGroup(
                "escalations",
                "Escalations",
                (("awaiting decision", int(awaiting)), ("overdue", int(overdue))),
            ),
        ),
        briefs=tuple(briefs),
    )


def attack_exposure_part(session: Session, window: DigestWindow) -> DigestPart:
    """Accepted risk by ATT&CK tactic (the acceptances in force; one statement)."""
    rows = by_tactic(accepted_in_force(session, today=window.today), today=window.today)
    lines = tuple(
        f"{row.name}: {row.accepted} accepted, {row.expiring} expiring within "
        f"{EXPIRING_DAYS} days, highest score {row.highest} ({', '.join(row.refs[:6])}"
        + (f" and {len(row.refs) - 6} more" if len(row.refs) > 6 else "")
        + ")"
        for row in rows
    )
    return DigestPart(
        sections=(
            DigestSection(
                "exposure", "Accepted exposure by ATT&CK tactic", lines, "No risk is accepted."
            ),
        )
    )


def security_spend_part(session: Session, window: DigestWindow) -> DigestPart:
    """Security spend by funding side (requested, approved, spent; shared budgets split by
    their shares; a yearly budget counts one year), and what waits for money with the
    accepted risks it would retire. Two statements."""
    funded = session.exec(
        select(Initiative)
        .where(col(Initiative.budget_amount).is_not(None))
        .where(col(Initiative.status) != InitiativeStatus.CANCELLED)
        .order_by(col(Initiative.id))
    ).all()
    totals: dict[tuple[str, str, str], int] = {}
    for initiative in funded:
        budget, funding = initiative.budget, initiative.funding
        if budget is None or funding is None or initiative.money_state is None:
            continue
        for side, share in funding.split(budget.amount).items():
            if share:
                key = (side, budget.currency, initiative.money_state.value)
                totals[key] = totals.get(key, 0) + share
    lines = []
    for side, label in (("cio", "CIO side"), ("ciso", "CISO side")):
        currencies = sorted({currency for s, currency, _ in totals if s == side})
        for currency in currencies:
            amounts = [
                f"{money(totals.get((side, currency, state.value), 0), currency)} {state.value}"
                for state in BudgetState
            ]
            lines.append(f"{label}: " + ", ".join(amounts))
    waiting = [i for i in funded if i.money_state == BudgetState.REQUESTED and not i.is_closed]
    retiring: dict[int, list[str]] = {}
    if waiting:
        rows = session.exec(
            select(RiskAcceptance.id, RiskAcceptance.retired_by_id)
            .where(col(RiskAcceptance.retired_by_id).in_([i.id for i in waiting]))
            .where(col(RiskAcceptance.state) == RiskState.ACCEPTED)
            .where(col(RiskAcceptance.expires_on) >= window.today)
            .order_by(col(RiskAcceptance.id))
        ).all()
        for number, initiative_id in rows:
            retiring.setdefault(int(initiative_id or 0), []).append(f"RSK-{number}")
    for initiative in waiting:
        risks = retiring.get(initiative.id or 0, [])
        because = f" — would retire {', '.join(risks)}, accepted because unfunded" if risks else ""
        lines.append(
            f"Waiting for money: {initiative.ref} {initiative.title[:80]} "
            f"({initiative.budget}, {initiative.funding}){because}"
        )
    return DigestPart(
        sections=(
            DigestSection(
                "spend",
                "Security spend by funding side",
                tuple(lines),
                "No initiative carries a budget yet.",
            ),
        )
    )


def threat_digest_part(session: Session, window: DigestWindow) -> DigestPart:
    """Open threat briefs (newest first) with what they touch: two statements."""
    briefs = open_briefs(session, limit=SECTION_SHOWN + 1)
    lines = tuple(
        f"{view.brief.ref} {view.line()}"
        for view in threat_views(session, briefs[:SECTION_SHOWN], today=window.today)
    )
    if len(briefs) > SECTION_SHOWN:
        lines += ("…and more: `/accord threat list` shows every open brief.",)
    return DigestPart(
        sections=(DigestSection("threats", "Threats and trends", lines, "No open threat brief."),)
    )


# The registry. Each source takes (session, window) and returns a DigestPart; order is the
# order of sections in the digest. The sources for other record kinds live here, not in the
# feature modules, so the digest depends on the features and never the other way round.
def gate_digest_part(session: Session, window: DigestWindow) -> DigestPart:
    """Two counts since the last digest: deployments the gate blocked, overrides granted."""
    blocked = session.exec(
        select(func.count())
        .select_from(GateCheck)
        .where(
            col(GateCheck.at) > window.since,
            col(GateCheck.at) <= window.now,
            col(GateCheck.allowed).is_(False),
        )
    ).one()
    overrides = session.exec(
        select(func.count())
        .select_from(GateOverride)
        .where(
            col(GateOverride.granted_at) > window.since, col(GateOverride.granted_at) <= window.now
        )
    ).one()
    return DigestPart(
        counts=(
            CountGroup(
                "gate",
                "Deployment gate since the last digest",
                (("deployments blocked", int(blocked)), ("overrides granted", int(overrides))),
            ),
        )
    )


SOURCES: tuple[DigestSource, ...] = (
    initiative_counts,
    risk_digest_counts,
    attack_exposure_part,
    security_spend_part,
    threat_digest_part,
    disagreement_digest_part,
    gate_digest_part,
    audit_changes,
    attention_records,
)


# -- claiming ---------------------------------------------------------------------------------

#: A claim older than this whose run never finished (the process died mid-post) may be taken
#: over by a retry. Longer than any digest run (the LLM part is bounded by its own budget).
STALE_CLAIM = timedelta(minutes=30)


def claim_run(
    engine: Any,
    *,
    key: str,
    kind: str,
    now: datetime,
    requested_by: str | None = None,
    retry: bool = False,
) -> int | None:
    """Claim `key` for one attempt; the run's id, or None when someone else has it.

    A new key is inserted (the unique `slot_key` decides between two clocks). With `retry`, a
    `failed` run — or a `claimed` one abandoned for longer than `STALE_CLAIM` — is taken back by
    one conditional UPDATE, which only one of several concurrent callers can win.
    """
    from bot.db import session_scope

    try:
        with session_scope(engine) as session:
            run = DigestRun(slot_key=key, kind=kind, as_of=now, requested_by=requested_by)
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        if not retry:
            return None
    state = col(DigestRun.state)
    abandoned = (state == "claimed") & (col(DigestRun.as_of) < now - STALE_CLAIM)
    retriable = (state == "failed") | abandoned
    with session_scope(engine) as session:
        taken = session.execute(
            update(DigestRun)
            .where(col(DigestRun.slot_key) == key, retriable)
            .values(state="claimed", as_of=now, attempts=col(DigestRun.attempts) + 1)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return session.exec(select(DigestRun.id).where(DigestRun.slot_key == key)).one()


def record_failure(engine: Any, run_id: int, error: BaseException) -> None:
    from bot.db import session_scope

    with session_scope(engine) as session:
        failed = session.get(DigestRun, run_id)
        if failed is not None:
            failed.state = "failed"
            failed.error = f"{type(error).__name__}: {error}"[:500]


def record_queued(session: Session, run_id: int, digest: Digest, *, now: datetime) -> bool:
    """Mark the run posted in the caller's transaction, which also queues its message; False
    when the claim was taken over meanwhile (then this attempt must queue nothing)."""
    done = session.get(DigestRun, run_id, with_for_update=True)
    if done is None or done.state != "claimed":
        return False
    done.state = "posted"
    done.posted_at = now
    done.summarizer = digest.summary.author
    done.llm_tokens = digest.summary.usage.total
    done.snapshot = digest.data.snapshot()
    return True


def record_delivered(session: Session, run_id: int, *, channel: str, ts: str) -> None:
    """Slack took the digest: where it is."""
    done = session.get(DigestRun, run_id)
    if done is not None:
        done.channel = channel
        done.ts = ts


# -- collecting -------------------------------------------------------------------------------


def last_posted(session: Session) -> DigestRun | None:
    return session.exec(
        select(DigestRun)
        .where(DigestRun.state == "posted")
        .order_by(col(DigestRun.as_of).desc(), col(DigestRun.id).desc())
        .limit(1)
    ).first()


def collect(
    session: Session,
    *,
    now: datetime,
    sources: Sequence[DigestSource] = SOURCES,
    since: datetime | None = None,
) -> DigestData:
    """The digest's data; changes are those after `since` (default: the last posted digest,
    or FIRST_DIGEST_LOOKBACK before the first)."""
    previous = last_posted(session)
    if since is None:
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
        data.sections.extend(part.sections)
        data.attention.extend(part.attention)
        data.attention_more += part.attention_more
    data.changes.sort(key=lambda change: _aware(change.at), reverse=True)
    del data.changes[CHANGES_SHOWN:]
    data.audit_head = chain_head(session)
    return data


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    data: DigestData
    summary: DisagreementSummary

    @property
    def briefs(self) -> list[DisagreementBrief]:
        return self.data.briefs


def build_digest(
    engine: Any,
    *,
    now: datetime,
    summarizer: Any,
    sources: Sequence[DigestSource] = SOURCES,
    since: datetime | None = None,
) -> Digest:
    """Read everything in one short transaction, then summarise outside it (the LLM is slow)."""
    from bot.db import session_scope

    with session_scope(engine) as session:
        data = collect(session, now=now, sources=sources, since=since)
    data.briefs = urgency_order(data.briefs)
    summary = summarizer.summarize(data.briefs, today=now.date())
    return Digest(data=data, summary=summary)
