"""The catalogue in force (the newest imported release, else the shipped snapshot) and
importing a newer official bundle."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.domain.attack.catalogue import DOMAIN, Catalogue, Technique, catalogue_from_json, shipped
from bot.domain.attack.models import AttackRelease
from bot.domain.attack.stix import bundle_version, techniques_from_bundle
from bot.domain.audit import record_event
from bot.domain.validation import bounded_text

_cache: dict[tuple[object, ...], Catalogue] = {}
_lock = threading.Lock()


def current_catalogue(session: Session) -> Catalogue:
    """One indexed read of the newest release's stamp; its techniques are parsed once per
    process (the stamp, not the id alone, keys the cache: two databases may share ids)."""
    stamp = session.exec(
        select(
            AttackRelease.id,
            AttackRelease.version,
            AttackRelease.imported_at,
            AttackRelease.technique_count,
        )
        .order_by(col(AttackRelease.id).desc())
        .limit(1)
    ).first()
    if stamp is None:
        return shipped()
    key = tuple(stamp)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    row = session.get(AttackRelease, stamp[0])
    assert row is not None
    catalogue = catalogue_from_json(
        {"version": row.version, "techniques": row.techniques}, source=row.source
    )
    with _lock:
        if len(_cache) > 8:
            _cache.clear()
        _cache[key] = catalogue
    return catalogue


@dataclass(frozen=True)
class ImportResult:
    catalogue: Catalogue
    previous: Catalogue
    added: list[Technique]
    retired: list[Technique]


def import_bundle(
    session: Session, *, bundle: object, source: str, actor_id: str, now: datetime
) -> ImportResult:
    """Make a STIX bundle's techniques the catalogue for every replica (one new row)."""
    previous = current_catalogue(session)
    techniques = techniques_from_bundle(bundle)
    version = bundle_version(bundle) if isinstance(bundle, dict) else "?"
    catalogue = Catalogue(version=version, techniques=tuple(techniques), source=source)
    row = AttackRelease(
        domain=DOMAIN,
        version=bounded_text(version, field="version", max_length=20) or "?",
        source=bounded_text(source, field="source", max_length=200)[-200:],
        technique_count=len(techniques),
        techniques=[t.to_json() for t in techniques],
        imported_by=actor_id,
        imported_at=now,
    )
    session.add(row)
    session.flush()
    was_live = {t.id for t in previous.live()}
    added = [t for t in catalogue.live() if t.id not in was_live]
    retired = [t for t in catalogue if t.retired and t.id in was_live]
    record_event(
        session,
        at=now,
        actor_id=actor_id,
        record_ref=f"ATTACK-{row.id}",
        action="attack.updated",
        before={"version": previous.version, "techniques": len(previous.live())},
        after={"version": catalogue.version, "techniques": len(catalogue.live())},
        note=f"imported from {row.source}",
    )
    return ImportResult(catalogue=catalogue, previous=previous, added=added, retired=retired)
