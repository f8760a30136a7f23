"""A touchpoint's agenda: sections built from what is open in the records.

Each record kind contributes one section through an *agenda source*,
`(session, *, today, window_end, people) -> AgendaSection`, registered in `SOURCES` below.
`people` are the series' participants and organiser: what concerns them (their initiatives,
the risks they requested, the disagreements they wrote, escalations addressed to them) comes
first in each section, so the cut at `SECTION_LIMIT` drops what concerns them least. The series'
own sections (topics people added, action items still open) are added by `build_agenda`.

Dates are the series' dates: `today` is the date in the organiser's zone, and `window_end` (the
next meeting's start) is an aware datetime in that zone, so `window_end.date()` is the day the
next meeting happens there — not its UTC date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal
from sqlmodel import Session, col, or_, select

from bot.domain.disagreements import DisagreementState, list_open_disagreements
from bot.domain.escalations import EscalationState, list_pending_escalations
from bot.domain.initiatives import CLOSED_STATUSES, Health, Initiative, InitiativeStatus
from bot.domain.refs import Kind, format_ref
from bot.domain.risks import RiskAcceptance, RiskState
from bot.domain.threats.queries import views
from bot.domain.threats.service import briefs_for_next_agenda
from bot.domain.touchpoints import open_actions, pending_topics

#: At most this many items per section; the rest are summarised as "and n more".
SECTION_LIMIT = 15


@dataclass(frozen=True)
class AgendaItem:
    ref: str  # e.g. `INI-3`, `RSK-2`, `A-7`; empty for a free topic
    text: str  # plain text; renderers escape it
    flags: tuple[str, ...] = ()  # e.g. ("red", "overdue", "on hold", "blocked", "pending")
    owner_ids: tuple[str, ...] = ()  # validated Slack user ids to mention
    due: date | None = None
    due_label: str = "due"  # how the date reads: "due", "expires", "decide by"


@dataclass(frozen=True)
class AgendaSection:
    key: str
    title: str
    items: list[AgendaItem] = field(default_factory=list)
    more: int = 0  # items left off beyond SECTION_LIMIT


class AgendaSource(Protocol):
    """One section of the agenda from one kind of record."""

    def __call__(
        self,
        session: Session,
        *,
        today: date,
        window_end: datetime,
        people: frozenset[str] = frozenset(),
    ) -> AgendaSection: ...


def initiatives_needing_attention(
    session: Session, *, today: date, window_end: datetime, people: frozenset[str] = frozenset()
) -> AgendaSection:
    """Open initiatives that are red, blocked, on security hold or overdue; nothing closed.

    Two statements and one page of rows (with their tags and covers), however many match."""
    is_open = col(Initiative.status).not_in(list(CLOSED_STATUSES))
    attention = or_(
        col(Initiative.health) == Health.RED,
        col(Initiative.status) == InitiativeStatus.BLOCKED,
        col(Initiative.on_hold).is_(True),
        col(Initiative.due_date) < today,
    )
    total = session.exec(
        select(func.count()).select_from(Initiative).where(is_open, attention)
    ).one()
    rows = session.exec(
        select(Initiative)
        .where(is_open, attention)
        .order_by(
            _theirs_first(
                people, Initiative.cio_owner_id, Initiative.ciso_owner_id, Initiative.created_by
            ),
            col(Initiative.id),
        )
        .limit(SECTION_LIMIT)
    ).all()
    items = []
    for initiative in rows:
        flags = [
            flag
            for flag, on in (
                ("red", initiative.health == Health.RED),
                ("blocked", initiative.status == InitiativeStatus.BLOCKED),
                ("on hold", initiative.on_hold),
                ("overdue", initiative.is_overdue(today)),
            )
            if on
        ]
        owners = tuple(o for o in (initiative.cio_owner_id, initiative.ciso_owner_id) if o)
        items.append(
            AgendaItem(
                ref=initiative.ref,
                text=_with_covers(initiative),
                flags=tuple(flags),
                owner_ids=owners,
                due=initiative.due_date,
            )
        )
    return AgendaSection(
        key="initiatives",
        title="Initiatives needing attention",
        items=items,
        more=max(0, total - len(rows)),
    )


def _theirs_first(people: frozenset[str], *columns: Any) -> Any:
    """An ORDER BY term: 0 for a row whose `columns` name one of `people`, else 1."""
    if not people:
        return literal(0)
    wanted = sorted(people)
    return case((or_(*(col(column).in_(wanted) for column in columns)), 0), else_=1)


def _with_covers(initiative: Initiative) -> str:
    """The title, and for a hold the deployments it stops, so the meeting sees the stakes."""
    covers = [str(cover) for cover in initiative.covers]
    if not covers:
        return initiative.title
    verb = "blocks" if initiative.on_hold else "covers"
    listed = ", ".join(covers[:5]) + (f" and {len(covers) - 5} more" if len(covers) > 5 else "")
    return f"{initiative.title} ({verb} {listed})"


def risk_section(
    session: Session, *, today: date, window_end: datetime, people: frozenset[str] = frozenset()
) -> AgendaSection:
    """Risk acceptances waiting for approval, and accepted ones that expire before the next
    touchpoint (`window_end`): decide or renew them now. Nothing expired, revoked or rejected.

    Two statements (a count and one LIMITed page), whatever the size of the register.
    """
    state = col(RiskAcceptance.state)
    expires = col(RiskAcceptance.expires_on)
    # An acceptance expiring on the day of the next meeting (its date where the meeting is
    # held) has lapsed by then: discuss it now.
    expiring = (state == RiskState.ACCEPTED) & (expires <= window_end.date())
    wanted = (state == RiskState.PENDING) | expiring
    total = session.exec(select(func.count()).select_from(RiskAcceptance).where(wanted)).one()
    rows = session.exec(
        select(RiskAcceptance)
        .where(wanted)
        .order_by(
            case((state == RiskState.PENDING, 0), else_=1),
            _theirs_first(people, RiskAcceptance.requested_by, RiskAcceptance.updated_by),
            expires,
            col(RiskAcceptance.id),
        )
        .limit(SECTION_LIMIT)
    ).all()
    items = []
    for risk in rows:
        pending = risk.state == RiskState.PENDING
        items.append(
            AgendaItem(
                ref=risk.ref,
                text=f"{risk.title} ({risk.band.value} risk)",
                flags=("pending",) if pending else ("expiring",),
                owner_ids=(risk.requested_by,),
                due=risk.expires_on,
                due_label="expires",
            )
        )
    return AgendaSection(
        key="risks",
        title="Risk acceptances to approve or renew",
        items=items,
        more=max(0, int(total) - len(items)),
    )


ESCALATION_FLAGS = {
    EscalationState.PENDING: ("awaiting decision",),
    EscalationState.MORE_INFO: ("awaiting decision", "more information asked"),
    EscalationState.DEFERRED: ("awaiting decision", "deferred"),
}


def disagreement_section(
    session: Session, *, today: date, window_end: datetime, people: frozenset[str] = frozenset()
) -> AgendaSection:
    """Escalations awaiting an executive decision (the overdue first), then the disagreements
    still open between the sides (oldest first). Nothing settled, decided or withdrawn."""
    escalations = list_pending_escalations(session, today=today)
    disagreements = list_open_disagreements(session)
    escalated = {escalation.disagreement_id for escalation in escalations}
    items = [
        AgendaItem(
            ref=escalation.ref,
            text=f"{escalation.question} "
            f"({format_ref(Kind.DISAGREEMENT, escalation.disagreement_id)})",
            flags=ESCALATION_FLAGS[escalation.state]
            + (("overdue",) if escalation.is_overdue(today) else ()),
            owner_ids=(escalation.addressed_to,) if escalation.addressed_to else (),
            due=escalation.decide_by,
            due_label="decide by",
        )
        for escalation in escalations
    ]
    for disagreement in disagreements:
        if disagreement.id in escalated:
            continue  # on the agenda as its escalation
        flags: tuple[str, ...] = ("open",)
        if disagreement.state == DisagreementState.ESCALATED:
            flags = ("escalated",)
        elif disagreement.timebox_proposed_at is not None:
            flags = ("open", "escalation proposed")
        owners = tuple(a for a in (disagreement.cio_author, disagreement.ciso_author) if a)
        items.append(
            AgendaItem(
                ref=disagreement.ref, text=disagreement.subject, flags=flags, owner_ids=owners
            )
        )
    # Escalations stay ahead of open disagreements; within each, theirs first (stable sort).
    items.sort(key=lambda item: (not item.ref.startswith("ESC"), not people & set(item.owner_ids)))
    return AgendaSection(
        key="disagreements",
        title="Disagreements and escalations",
        items=items[:SECTION_LIMIT],
        more=max(0, len(items) - SECTION_LIMIT),
    )


def threat_section(
    session: Session, *, today: date, window_end: datetime, people: frozenset[str] = frozenset()
) -> AgendaSection:
    """Open threat briefs no agenda has carried yet, the most severe first, with the accepted
    risks they touch (flagged for review when the brief is high or critical)."""
    briefs = briefs_for_next_agenda(session, limit=SECTION_LIMIT + 1)
    items = []
    for view in views(session, briefs[:SECTION_LIMIT], today=today):
        flags = [view.brief.severity.value]
        flags += [f"review {touch.risk.ref}" for touch in view.flagged]
        owners = dict.fromkeys(
            [*(t.risk.owner_id for t in view.flagged if t.risk.owner_id), view.brief.created_by]
        )
        items.append(
            AgendaItem(
                ref=view.brief.ref,
                text=view.short_line(),
                flags=tuple(flags),
                owner_ids=tuple(owners),
            )
        )
    return AgendaSection(
        key="threats",
        title="Threats and trends",
        items=items,
        more=max(0, len(briefs) - SECTION_LIMIT),
    )


# The registry of record sources, in agenda order; each is a function
# `(session, *, today, window_end, people) -> AgendaSection`. They live here, not in the feature
# modules, so the agenda depends on the features and never the other way round.
SOURCES: tuple[AgendaSource, ...] = (
    initiatives_needing_attention,
    risk_section,
    threat_section,
    disagreement_section,
)


@dataclass(frozen=True)
class Agenda:
    sections: list[AgendaSection]

    @property
    def is_empty(self) -> bool:
        return not any(section.items for section in self.sections)


def action_section(session: Session, *, series_id: int, today: date) -> AgendaSection:
    actions = open_actions(session, series_id=series_id)
    items = [
        AgendaItem(
            ref=action.label,
            text=action.text,
            flags=("overdue",) if action.is_overdue(today) else (),
            owner_ids=(action.owner_id,),
            due=action.due_date,
        )
        for action in actions[:SECTION_LIMIT]
    ]
    return AgendaSection(
        key="actions",
        title="Open action items from earlier touchpoints",
        items=items,
        more=max(0, len(actions) - SECTION_LIMIT),
    )


def topic_section(session: Session, *, series_id: int) -> AgendaSection:
    topics = pending_topics(session, series_id=series_id)
    items = [
        AgendaItem(ref="", text=topic.text, owner_ids=(topic.added_by,))
        for topic in topics[:SECTION_LIMIT]
    ]
    return AgendaSection(
        key="topics", title="Added topics", items=items, more=max(0, len(topics) - SECTION_LIMIT)
    )


def build_agenda(
    session: Session,
    *,
    series_id: int,
    today: date,
    window_end: datetime,
    zone: ZoneInfo,
    sources: tuple[AgendaSource, ...] = SOURCES,
    people: frozenset[str] = frozenset(),
) -> Agenda:
    """The agenda of a series whose meetings are held in `zone` (the organiser's); what
    concerns `people` (its participants) comes first in each section."""
    window_end = window_end.astimezone(zone)
    sections = [
        source(session, today=today, window_end=window_end, people=people) for source in sources
    ]
    sections.append(action_section(session, series_id=series_id, today=today))
    sections.append(topic_section(session, series_id=series_id))
    return Agenda(sections=sections)
