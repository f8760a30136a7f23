"""A touchpoint's agenda: sections built from what is open in the records.

Each record kind contributes one section through an *agenda source*,
`(session, *, today, window_end) -> AgendaSection`, registered in `SOURCES` below. The series'
own sections (topics people added, action items still open) are added by `build_agenda`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, or_, select

from bot.domain.initiatives import CLOSED_STATUSES, Health, Initiative, InitiativeStatus
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


@dataclass(frozen=True)
class AgendaSection:
    key: str
    title: str
    items: list[AgendaItem] = field(default_factory=list)
    more: int = 0  # items left off beyond SECTION_LIMIT


AgendaSource = Callable[..., AgendaSection]


def initiatives_needing_attention(
    session: Session, *, today: date, window_end: datetime
) -> AgendaSection:
    """Open initiatives that are red, blocked, on security hold or overdue; nothing closed."""
    is_open = col(Initiative.status).not_in(list(CLOSED_STATUSES))
    attention = or_(
        col(Initiative.health) == Health.RED,
        col(Initiative.status) == InitiativeStatus.BLOCKED,
        col(Initiative.on_hold).is_(True),
        col(Initiative.due_date) < today,
    )
    rows = list(
        session.exec(select(Initiative).where(is_open, attention).order_by(col(Initiative.id)))
    )
    items = []
    for initiative in rows[:SECTION_LIMIT]:
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
                text=initiative.title,
                flags=tuple(flags),
                owner_ids=owners,
                due=initiative.due_date,
            )
        )
    return AgendaSection(
        key="initiatives",
        title="Initiatives needing attention",
        items=items,
        more=max(0, len(rows) - SECTION_LIMIT),
    )


# The registry of record sources, in agenda order. The lead adds, after merging the risk and
# disagreement branches (each is a function `(session, *, today, window_end) -> AgendaSection`):
#   - bot.domain.risks: risk acceptances pending approval, or approved and expiring before
#     `window_end` (the next touchpoint)             -> e.g. `risks.agenda_section`
#   - bot.domain.disagreements: open disagreements and escalations awaiting a decision
#                                                    -> e.g. `disagreements.agenda_section`
# i.e. SOURCES = (initiatives_needing_attention, risks.agenda_section,
#                 disagreements.agenda_section)
SOURCES: tuple[AgendaSource, ...] = (initiatives_needing_attention,)


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
    sources: tuple[AgendaSource, ...] = SOURCES,
) -> Agenda:
    sections = [source(session, today=today, window_end=window_end) for source in sources]
    sections.append(action_section(session, series_id=series_id, today=today))
    sections.append(topic_section(session, series_id=series_id))
    return Agenda(sections=sections)
