"""Digest benchmark: build the digest (fallback summariser) for many records and show that the
number of SQL statements does not grow with the number of records.

    python bench/digest_bench.py            # 1,000 and 10,000 initiatives, 1,000 disagreements

Risk acceptances (issue 3) and disagreements (issue 4) live on other branches: until their
digest sources are wired into bot.domain.digest.SOURCES, the disagreements are fed as
DisagreementBriefs by a bench source (one query's worth of data) and risks are not seeded.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import make_engine, upgrade
from bot.domain.audit import AuditEvent
from bot.domain.digest import SOURCES, DigestPart, DigestWindow, build_digest
from bot.domain.initiatives import Health, Initiative, InitiativeStatus
from bot.export.review import review_markdown
from bot.slack.blocks.digest import digest_message
from bot.summarize import DisagreementBrief, FallbackSummarizer

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def briefs(count: int) -> list[DisagreementBrief]:
    rng = random.Random(6)
    return [
        DisagreementBrief(
            ref=f"DIS-{n}",
            subject=f"Disagreement {n} about rollout scope and controls",
            linked_ref=f"INI-{n}",
            cio_position="Ship on the agreed date; the business case depends on it. " * 2,
            ciso_position="Hold until the control gap is closed and verified. " * 2,
            business_impact="Revenue at risk this quarter.",
            security_impact="Exposure of customer data.",
            options=("ship with compensating controls", "delay two weeks"),
            opened_on=date(2026, 11, 25) - timedelta(days=rng.randint(1, 200)),
            deadline=date(2026, 11, 25) + timedelta(days=rng.randint(-30, 30)),
            escalation_ref=f"ESC-{n}" if n % 7 == 0 else None,
        )
        for n in range(1, count + 1)
    ]


def seed(engine: Any, initiatives: int) -> None:
    rng = random.Random(initiatives)
    statuses = list(InitiativeStatus)
    healths = list(Health)
    rows = [
        {
            "title": f"Initiative {n}",
            "description": "",
            "status": rng.choice(statuses),
            "health": rng.choice(healths),
            "due_date": date(2026, 11, 25) + timedelta(days=rng.randint(-60, 120)),
            "on_hold": n % 13 == 0,
            "created_by": "U0BENCH",
            "created_at": NOW - timedelta(days=30),
            "updated_by": "U0BENCH",
            "updated_at": NOW - timedelta(days=1),
        }
        for n in range(1, initiatives + 1)
    ]
    events = [
        {
            "at": NOW - timedelta(hours=rng.randint(1, 24 * 10)),
            "actor_id": "U0BENCH",
            "record_ref": f"INI-{n}",
            "action": rng.choice(["initiative.created", "initiative.updated"]),
            "after": {"status": "active"},
        }
        for n in range(1, initiatives + 1)
    ]
    with Session(engine) as session:
        session.execute(insert(Initiative), rows)
        session.execute(insert(AuditEvent), events)
        session.commit()


def run(initiatives: int, disagreements: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        seed(engine, initiatives)
        fed = briefs(disagreements)

        def disagreement_source(_session: Session, _window: DigestWindow) -> DigestPart:
            return DigestPart(briefs=tuple(fed))

        statements = 0

        def count(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        digest = build_digest(
            engine,
            now=NOW,
            summarizer=FallbackSummarizer(),
            sources=(*SOURCES, disagreement_source),
        )
        message = digest_message(digest)
        markdown = review_markdown(digest)
        elapsed = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
        assert len(message.blocks) <= 50 and len(digest.summary.items) == disagreements
        assert markdown.count("### DIS-") == disagreements
        engine.dispose()
        return elapsed, statements


def main() -> None:
    sizes = [(1_000, 100), (10_000, 1_000)]
    results = []
    for initiatives, disagreements in sizes:
        elapsed, statements = run(initiatives, disagreements)
        results.append(statements)
        print(
            f"{initiatives:>6} initiatives, {disagreements:>5} open disagreements: "
            f"digest built in {elapsed:.3f}s with {statements} SQL statements"
        )
    print("statement count constant:", len(set(results)) == 1)
    if len(set(results)) != 1:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
