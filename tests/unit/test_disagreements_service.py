"""Disagreement changes on their own (no Slack), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlmodel import col, select

from bot.db import make_engine, session_scope, upgrade
from bot.domain.audit import AuditEvent
from bot.domain.disagreements import (
    DisagreementDetails,
    DisagreementDraft,
    create_disagreement,
    update_details,
)
from bot.domain.roles import Actor, Role

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ANN = Actor("U0ANN", frozenset({Role.CIO}))
DAN = Actor("U0DAN", frozenset({Role.CIO}))


def test_two_people_changing_one_field_at_once_both_keep_their_before(
    migrated_database_url: str,
) -> None:
    """The record is locked for the change (`lock_row`), so of two concurrent edits of the
    business impact the second's `before` is the first's `after`: nothing is lost unseen."""
    engine = make_engine(migrated_database_url)
    upgrade(engine)
    try:
        with session_scope(engine) as setup:
            number = create_disagreement(
                setup,
                actor=ANN,
                draft=DisagreementDraft(position="Ship on the 1st", subject="Gateway go-live"),
                now=NOW,
            ).id
        assert number is not None

        def edit(actor: Actor, text: str, start: threading.Barrier) -> None:
            start.wait()
            with session_scope(engine) as session:
                update_details(
                    session,
                    actor=actor,
                    number=number,
                    details=DisagreementDetails(business_impact=text),
                    now=NOW,
                )

        for round_ in range(4):
            start = threading.Barrier(2)
            workers = [
                threading.Thread(target=edit, args=(ANN, f"EUR {round_}M a month", start)),
                threading.Thread(target=edit, args=(DAN, f"USD {round_}M a month", start)),
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            with session_scope(engine) as session:
                events = session.exec(
                    select(AuditEvent)
                    .where(col(AuditEvent.record_ref) == f"DIS-{number}")
                    .order_by(col(AuditEvent.id))
                ).all()
            first, second = [e for e in events if e.after and "business_impact" in e.after][-2:]
            assert second.before == first.after
    finally:
        engine.dispose()
