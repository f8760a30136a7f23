"""The deliverer is woken by the commits that queue messages, and being registered for that keeps
neither the engine nor the deliverer alive (a test run builds hundreds of apps; each left its
engine, services and compiled statements behind before)."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime

from bot.db import make_engine, session_scope
from bot.domain import outbox
from bot.domain.outbox import OutboxKind
from tests.harness import COORDINATION


class Deliverer:
    def __init__(self) -> None:
        self.kicks = 0

    def kick(self) -> None:
        self.kicks += 1


def test_a_commit_that_queues_a_message_wakes_the_deliverer_without_keeping_it(
    migrated_sqlite_url: str,
) -> None:
    engine = make_engine(migrated_sqlite_url)
    deliverer = Deliverer()
    outbox.wake_on_commit(engine, deliverer.kick)
    with session_scope(engine) as session:
        session.info["nothing"] = True  # a commit that queues nothing wakes nobody
    with session_scope(engine) as session:
        outbox.enqueue(
            session,
            now=datetime(2026, 12, 4, tzinfo=UTC),
            kind=OutboxKind.POST,
            channel=COORDINATION,
            payload={"text": "hello"},
            summary="a post",
        )
    assert deliverer.kicks == 1

    gone_engine, gone_deliverer = weakref.ref(engine), weakref.ref(deliverer)
    engine.dispose()
    del engine, deliverer, session
    gc.collect()
    assert gone_engine() is None, "the wake-up registry kept the engine alive"
    assert gone_deliverer() is None, "the wake-up registry kept the deliverer alive"
