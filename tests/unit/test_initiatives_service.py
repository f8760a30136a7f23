"""The initiative service on its own (no Slack), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from bot.db import make_engine, upgrade
from bot.domain.audit import AuditEvent
from bot.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.domain.gate.coverage import parse_coverage_list
from bot.domain.initiatives import (
    Health,
    InitiativeChanges,
    InitiativeDraft,
    InitiativeFilter,
    InitiativeStatus,
    create_initiative,
    list_initiatives,
    place_hold,
    release_hold,
    update_initiative,
)
from bot.domain.roles import Actor, Role

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
ANN = Actor("U0ANN", frozenset({Role.CIO}))
BEN = Actor("U0BEN", frozenset({Role.CISO}))
CAT = Actor("U0CAT", frozenset({Role.CIO}))
EVE = Actor("U0EVE", frozenset({Role.EXECUTIVE}))
NOBODY = Actor("U0NOBODY", frozenset())


@pytest.fixture
def session(migrated_database_url: str) -> Iterator[Session]:
    engine = make_engine(migrated_database_url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def new(session: Session, title: str, **fields: object) -> int:
    draft = InitiativeDraft(title=title, **fields)  # type: ignore[arg-type]
    initiative = create_initiative(session, actor=ANN, draft=draft, now=NOW)
    assert initiative.id is not None
    return initiative.id


def test_filters_show_what_each_name_promises(session: Session) -> None:
    mine = new(session, "Mine", cio_owner_id="U0ANN", tags=["iam"])
    late = new(session, "Late")
    red = new(session, "Red")
    held = new(session, "Held")
    done = new(session, "Done and held")
    session.flush()
    # make one overdue without going through validation of past dates
    from bot.domain.initiatives import get_initiative

    get_initiative(session, number=late).due_date = date(2026, 11, 1)
    update_initiative(
        session, actor=ANN, number=red, changes=InitiativeChanges(health=Health.RED), now=NOW
    )
    place_hold(session, actor=BEN, number=held, reason="CVE", now=NOW)
    place_hold(session, actor=BEN, number=done, reason="CVE", now=NOW)
    update_initiative(
        session,
        actor=ANN,
        number=done,
        changes=InitiativeChanges(status=InitiativeStatus.CANCELLED),
        now=NOW,
    )

    def refs(which: InitiativeFilter, tag: str | None = None) -> set[int]:
        page = list_initiatives(session, which=which, tag=tag, viewer_id="U0ANN", today=TODAY)
        return {item.id for item in page.items if item.id is not None}

    assert refs(InitiativeFilter.MINE) == {mine}
    assert refs(InitiativeFilter.OVERDUE) == {late}
    assert refs(InitiativeFilter.RED) == {red}
    assert refs(InitiativeFilter.HOLD) == {held}  # closed work is not "on hold" any more
    assert refs(InitiativeFilter.OPEN) == {mine, late, red, held}
    assert refs(InitiativeFilter.ALL) == {mine, late, red, held, done}
    assert refs(InitiativeFilter.ALL, tag="iam") == {mine}


def test_update_applies_only_real_changes_and_records_them(session: Session) -> None:
    number = new(session, "Patch", cio_owner_id="U0ANN")
    update_initiative(
        session,
        actor=ANN,
        number=number,
        changes=InitiativeChanges(status=InitiativeStatus.ACTIVE),
        now=NOW,
    )
    place_hold(session, actor=BEN, number=number, reason="exposed", now=NOW)
    # A form sends every field; an unchanged status must not trip the hold rule.
    updated = update_initiative(
        session,
        actor=ANN,
        number=number,
        changes=InitiativeChanges(
            status=InitiativeStatus.ACTIVE, health=Health.AMBER, title="Patch"
        ),
        now=NOW,
    )
    assert updated.health == Health.AMBER
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "initiative.updated")).all()[
        -1
    ]
    assert event.before == {"health": "green"}
    assert event.after == {"health": "amber"}
    with pytest.raises(Conflict, match="already has those values"):
        update_initiative(
            session,
            actor=ANN,
            number=number,
            changes=InitiativeChanges(health=Health.AMBER),
            now=NOW,
        )
    with pytest.raises(Conflict, match="security hold"):
        update_initiative(
            session,
            actor=ANN,
            number=number,
            changes=InitiativeChanges(status=InitiativeStatus.DONE),
            now=NOW,
        )


def test_owned_work_is_changed_by_its_stewards(session: Session) -> None:
    number = new(session, "Owned", cio_owner_id="U0ANN", ciso_owner_id="U0BEN")
    health = InitiativeChanges(health=Health.RED)
    with pytest.raises(Forbidden, match="answerable for INI-"):
        update_initiative(session, actor=CAT, number=number, changes=health, now=NOW)
    update_initiative(session, actor=BEN, number=number, changes=health, now=NOW)
    update_initiative(
        session, actor=EVE, number=number, changes=InitiativeChanges(health=Health.AMBER), now=NOW
    )
    unowned = new(session, "Unowned")
    update_initiative(session, actor=CAT, number=unowned, changes=health, now=NOW)


def test_hold_rules(session: Session) -> None:
    number = new(session, "Hold me")
    with pytest.raises(Forbidden, match="Only the CISO side can"):
        place_hold(session, actor=ANN, number=number, reason="no", now=NOW)
    with pytest.raises(InvalidInput, match="cannot be empty"):
        place_hold(session, actor=BEN, number=number, reason="  ", now=NOW)
    place_hold(session, actor=BEN, number=number, reason="exposed", now=NOW)
    with pytest.raises(Conflict, match="already on security hold"):
        place_hold(session, actor=BEN, number=number, reason="again", now=NOW)
    with pytest.raises(Forbidden):
        release_hold(session, actor=ANN, number=number, reason="please", now=NOW)
    released = release_hold(
        session, actor=EVE, number=number, reason="decided", now=NOW, via="ESC-1"
    )
    assert not released.on_hold
    note = session.exec(
        select(AuditEvent.note).where(AuditEvent.action == "initiative.hold_released")
    ).one()
    assert note == "decided (via ESC-1)"
    with pytest.raises(NotFound):
        release_hold(session, actor=BEN, number=999, reason="x", now=NOW)
    with pytest.raises(Forbidden):
        create_initiative(session, actor=NOBODY, draft=InitiativeDraft(title="x"), now=NOW)


def test_public_ids_are_never_reused(session: Session) -> None:
    """A button that names INI-2 must never reach a different INI-2 later."""
    from bot.domain.initiatives import Initiative

    new(session, "First")
    second = new(session, "Second")
    session.commit()
    session.delete(session.get(Initiative, second))  # e.g. a rolled-back or removed record
    session.commit()
    assert new(session, "Third") == second + 1


def test_concurrent_updates_of_one_field_both_keep_their_before(migrated_database_url: str) -> None:
    """Two people change the health at the same instant (threads, one session each): the
    record is locked for the change, so the second change's `before` is the first's `after`
    (SQLite takes its write lock, PostgreSQL the row lock) — no lost update."""
    import threading

    from bot.db import session_scope

    engine = make_engine(migrated_database_url)
    upgrade(engine)
    try:
        with session_scope(engine) as setup:
            number = create_initiative(
                setup, actor=ANN, draft=InitiativeDraft(title="Segment OT"), now=NOW
            ).id
        assert number is not None
        for _ in range(5):
            start = threading.Barrier(2)

            def change(health: Health, start: threading.Barrier) -> None:
                start.wait()
                with session_scope(engine) as session:
                    update_initiative(
                        session,
                        actor=ANN,
                        number=number,
                        changes=InitiativeChanges(health=health),
                        now=NOW,
                    )

            workers = [
                threading.Thread(target=change, args=(h, start)) for h in (Health.RED, Health.AMBER)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            with session_scope(engine) as session:
                events = session.exec(
                    select(AuditEvent)
                    .where(AuditEvent.action == "initiative.updated")
                    .order_by(AuditEvent.id)  # type: ignore[arg-type]
                ).all()
                last_two = [(e.before, e.after) for e in events[-2:] if e.after]
                if len(last_two) == 2:
                    assert last_two[1][0] == last_two[0][1]
            with session_scope(engine) as session:  # back to green for the next round
                update_initiative(
                    session,
                    actor=ANN,
                    number=number,
                    changes=InitiativeChanges(health=Health.GREEN),
                    now=NOW,
                )
    finally:
        engine.dispose()


def test_a_page_past_the_end_shows_the_last_page_with_its_covers(session: Session) -> None:
    for n in range(5):
        create_initiative(
            session,
            actor=ANN,
            draft=InitiativeDraft(
                title=f"Work {n}", covers=parse_coverage_list(f"svc-{n}@production")
            ),
            now=NOW,
        )
    page = list_initiatives(
        session, which=InitiativeFilter.ALL, viewer_id="U0ANN", today=TODAY, page=9, page_size=2
    )
    assert (page.page, page.total) == (3, 5)
    assert [item.title for item in page.items] == ["Work 4"]
    assert [str(cover) for cover in page.items[0].covers] == ["svc-4@production"]
    first = list_initiatives(
        session, which=InitiativeFilter.ALL, viewer_id="U0ANN", today=TODAY, page=1, page_size=2
    )
    assert (first.page, first.total, len(first.items)) == (1, 5, 2)
    empty = list_initiatives(
        session, which=InitiativeFilter.RED, viewer_id="U0ANN", today=TODAY, page=4
    )
    assert (empty.page, empty.total, empty.items) == (1, 0, [])
