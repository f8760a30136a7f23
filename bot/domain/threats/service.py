"""Use cases for threat briefs: record one, import a KEV catalogue, put briefs on an agenda."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from bot.db import lock_row
from bot.domain.attack.exposure import accepted_in_force
from bot.domain.attack.service import current_catalogue
from bot.domain.audit import record_event
from bot.domain.errors import Conflict, InvalidInput, NotFound, person
from bot.domain.initiatives import CLOSED_STATUSES, Initiative
from bot.domain.notices import quoted, tell
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, format_ref, parse_any_ref
from bot.domain.risks import RiskAcceptance, parse_techniques
from bot.domain.roles import Actor
from bot.domain.threats.models import (
    SOURCE_MAX,
    TITLE_MAX,
    BriefState,
    KevEntry,
    Severity,
    ThreatBrief,
)
from bot.domain.threats.policy import KevRow, kev_matches, read_kev, touches, words
from bot.domain.validation import bounded_text


def _check_links(session: Session, links: Sequence[str]) -> list[str]:
    for ref in links:
        parsed = parse_any_ref(ref)
        assert parsed is not None
        model = Initiative if parsed[0] == Kind.INITIATIVE else RiskAcceptance
        if session.get(model, parsed[1]) is None:
            raise NotFound(f"There is no {ref} to link.", hint="Check the id and try again.")
    return list(links)


def _source(text: str) -> str:
    value = bounded_text(text, field="source", max_length=SOURCE_MAX)
    if value and not value.lower().startswith(("https://", "http://")):
        raise InvalidInput(
            f"`{value[:60]}` is not a link.", hint="e.g. `source:https://…`.", field="source"
        )
    if any(char.isspace() or char in "|<>" for char in value):
        raise InvalidInput(f"`{value[:60]}` is not one link.", field="source")
    return value


def add_brief(
    session: Session,
    *,
    actor: Actor,
    title: str,
    severity: Severity,
    techniques: Sequence[str] = (),
    links: Sequence[str] = (),
    source: str = "",
    now: datetime,
) -> ThreatBrief:
    """Record a brief; the owners of accepted risks a high or critical brief touches hear of
    it (the agenda and digest show it too)."""
    ensure_allowed(actor, Permission.THREAT_RECORD)
    found = current_catalogue(session).check(parse_techniques(list(techniques)))
    brief = ThreatBrief(
        title=bounded_text(title, field="title", max_length=TITLE_MAX, required=True),
        severity=severity,
        techniques=[t.id for t in found],
        technique_info=[t.to_json() for t in found],
        links=_check_links(session, links),
        source=_source(source),
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(brief)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=brief.ref,
        action="threat.recorded",
        after=brief.snapshot(),
    )
    _tell_flagged(session, brief, actor_id=actor.user_id, now=now)
    return brief


def _tell_flagged(session: Session, brief: ThreatBrief, *, actor_id: str, now: datetime) -> None:
    for touch in touches(
        severity=brief.severity,
        techniques=brief.techniques,
        links=brief.links,
        accepted=accepted_in_force(session, today=now.date()),
    ):
        if touch.flagged:
            tell(
                session,
                to=[touch.risk.owner_id],
                actor_id=actor_id,
                record_ref=touch.risk.ref,
                text=f"{person(actor_id)} recorded {brief.ref} {quoted(brief.title)} "
                f"({brief.severity.value}), which touches the accepted {touch.risk.ref} "
                f"({touch.why()}): review the acceptance.",
                detail=f"`/accord threat show {brief.ref}` shows it.",
            )


def get_brief(session: Session, *, number: int, lock: bool = False) -> ThreatBrief:
    """The brief; with `lock`, row-locked until the transaction ends (see `get_risk`)."""
    brief = lock_row(session, ThreatBrief, number) if lock else session.get(ThreatBrief, number)
    if brief is None:
        raise NotFound(
            f"There is no {format_ref(Kind.THREAT, number)}.",
            hint="`/accord threat list` shows the open briefs.",
        )
    return brief


def close_brief(session: Session, *, actor: Actor, number: int, now: datetime) -> ThreatBrief:
    ensure_allowed(actor, Permission.THREAT_RECORD)
    brief = get_brief(session, number=number, lock=True)
    if brief.state == BriefState.CLOSED:
        raise Conflict(f"{brief.ref} is already closed.")
    brief.state = BriefState.CLOSED
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=brief.ref,
        action="threat.closed",
        before={"state": "open"},
        after={"state": "closed"},
    )
    return brief


def open_briefs(session: Session, *, limit: int = 100) -> list[ThreatBrief]:
    return list(
        session.exec(
            select(ThreatBrief)
            .where(col(ThreatBrief.state) == BriefState.OPEN)
            .order_by(col(ThreatBrief.id).desc())
            .limit(limit)
        ).all()
    )


def briefs_for_next_agenda(session: Session, *, limit: int) -> list[ThreatBrief]:
    """Open briefs no agenda has carried yet, the most severe first."""
    rows = session.exec(
        select(ThreatBrief)
        .where(col(ThreatBrief.state) == BriefState.OPEN)
        .where(col(ThreatBrief.agenda_occurrence_id).is_(None))
        .order_by(col(ThreatBrief.id))
        # Two clocks building two series' agendas at once: the second waits, then finds
        # the briefs the first carried marked, so each brief is on one next agenda.
        .with_for_update()
    ).all()
    order = list(Severity)
    return sorted(rows, key=lambda b: -order.index(b.severity))[:limit]


def mark_on_agenda(session: Session, *, refs: Sequence[str], occurrence_id: int) -> None:
    """The briefs an agenda carried are not carried again (in the agenda's transaction)."""
    numbers = [p[1] for p in map(parse_any_ref, refs) if p is not None and p[0] == Kind.THREAT]
    for brief in session.exec(select(ThreatBrief).where(col(ThreatBrief.id).in_(numbers))):
        brief.agenda_occurrence_id = occurrence_id


@dataclass(frozen=True)
class KevImport:
    version: str
    entries: int
    new: int
    briefs: list[ThreatBrief]


def import_kev(session: Session, *, data: object, actor_id: str, now: datetime) -> KevImport:
    """Store a KEV catalogue (new entries only; they do not change once listed) and make one
    brief for each new CVE whose product an open initiative covers."""
    version, rows = read_kev(data)
    known = set(session.exec(select(KevEntry.cve_id)).all())
    new = [row for row in rows if row.cve_id not in known]
    if new:
        session.execute(
            insert(KevEntry),
            [
                {
                    "cve_id": r.cve_id,
                    "vendor": r.vendor,
                    "product": r.product,
                    "name": r.name,
                    "date_added": r.date_added,
                    "due_date": r.due_date,
                    "ransomware": r.ransomware,
                    "catalog_version": version,
                }
                for r in new
            ],
        )
    covered = _covered_vocabulary(session)
    briefs = []
    for row in new:
        matched = kev_matches(row, covered)
        if matched:
            briefs.append(_kev_brief(row, matched, now=now, actor_id=actor_id))
    session.add_all(briefs)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=actor_id,
        record_ref="KEV",
        action="threat.kev_imported",
        after={
            "catalog_version": version,
            "entries": len(rows),
            "new": len(new),
            "briefs": [b.ref for b in briefs],
        },
    )
    return KevImport(version=version, entries=len(rows), new=len(new), briefs=briefs)


def _covered_vocabulary(session: Session) -> dict[str, frozenset[str]]:
    """Each open initiative's words: its covered systems, tags and title."""
    initiatives = session.exec(
        select(Initiative).where(col(Initiative.status).not_in(list(CLOSED_STATUSES)))
    ).all()
    return {
        i.ref: words(" ".join([i.title, *i.tags, *(c.service for c in i.covers)]))
        for i in initiatives
    }


def _kev_brief(row: KevRow, matched: list[str], *, now: datetime, actor_id: str) -> ThreatBrief:
    what = f"{row.vendor} {row.product}".strip()
    ransomware = " (known ransomware use)" if row.ransomware else ""
    return ThreatBrief(
        title=f"{row.cve_id} {what}: {row.name}{ransomware}"[:TITLE_MAX],
        severity=Severity.CRITICAL if row.ransomware else Severity.HIGH,
        links=matched[:10],
        cves=[row.cve_id],
        source=f"https://nvd.nist.gov/vuln/detail/{row.cve_id}",
        kev_cve=row.cve_id,
        created_by=actor_id,
        created_at=now,
    )
