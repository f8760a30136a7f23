"""The outbox's row locks on PostgreSQL: recording Slack's answer must not deadlock with a change
that, at that moment, queues an update or a reply of the same message.

Seen in the real processes: `risk approve` (holding the risk locked, queuing the card's update,
whose foreign key takes a KEY SHARE lock on the request's outbox row) met the deliverer marking
that request sent (holding the row FOR UPDATE, then writing the round's ts through its hook).
PostgreSQL broke the deadlock by failing the approval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import make_engine, session_scope, upgrade
from bot.domain import outbox
from bot.domain.digest import DigestRun
from bot.domain.outbox import OutboxKind, OutboxState

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_postgres_url: str) -> Iterator[sa.Engine]:
    made = make_engine(migrated_postgres_url)
    upgrade(made)
    yield made
    made.dispose()


def lock_waiters(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_recording_a_post_does_not_deadlock_with_a_change_queuing_its_update(
    engine: sa.Engine,
) -> None:
    with session_scope(engine) as session:
        run = DigestRun(slot_key="manual:1", kind="manual", as_of=NOW)
        session.add(run)
        session.flush()
        post = outbox.enqueue(
            session,
            now=NOW,
            kind=OutboxKind.POST,
            channel="C1",
            payload={"text": "the digest"},
            summary="the digest",
            subject=f"digest:{run.id}",
        )
        post.state = OutboxState.SENDING
        run_id, post_id = run.id, post.id
    assert run_id is not None and post_id is not None

    # A change holds its record locked (as `get_risk(..., lock=True)` does)...
    change = Session(engine, expire_on_commit=False)
    locked = change.exec(select(DigestRun).where(DigestRun.id == run_id).with_for_update()).one()
    locked.error = "being changed"
    change.flush()

    # ...while the deliverer records Slack's answer; its hook writes to that record and waits.
    errors: list[BaseException] = []

    def record_answer() -> None:
        try:
            with session_scope(engine) as session:
                outbox.mark_sent(session, post_id, now=NOW, channel="C1", ts="1796000000.000100")
        except BaseException as error:
            errors.append(error)

    deliverer = threading.Thread(target=record_answer)
    deliverer.start()
    deadline = time.monotonic() + 10
    while lock_waiters(engine) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock_waiters(engine) >= 1, "the deliverer did not wait for the change"

    # The change now queues an update of that post (a foreign key to its row) and commits.
    try:
        outbox.enqueue(
            change,
            now=NOW,
            kind=OutboxKind.UPDATE,
            channel="C1",
            payload={"text": "the digest, updated"},
            summary="the digest",
            target_of=post_id,
        )
        change.commit()
    finally:
        change.close()
    deliverer.join(timeout=10)
    assert errors == []

    with session_scope(engine) as session:
        stored = session.get(DigestRun, run_id)
        sent = session.get(outbox.OutboxMessage, post_id)
        assert stored is not None and sent is not None
        assert (stored.error, stored.ts) == ("being changed", "1796000000.000100")
        assert sent.state == OutboxState.SENT
        assert len(outbox.rows(session, [post_id + 1])) == 1
