"""Digest benchmark: build the digest (fallback summariser) through the real digest SOURCES for
many records and show that the number of SQL statements does not grow with the number of records.

    python bench/digest_bench.py    # (1,000 initiatives, 500 risks, 100 disagreements) and
                                    # (10,000 initiatives, 5,000 risks, 1,000 disagreements)

Records are bulk-inserted into the real tables (every 7th disagreement escalated, some of those
past their decision date); the timing covers reading, summarising and rendering the digest and
the Markdown review pack.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import make_engine, upgrade
from bot.domain.audit import AuditEvent
from bot.domain.digest import SOURCES, build_digest
from bot.domain.disagreements import Disagreement, DisagreementState
from bot.domain.escalations import Escalation, EscalationState
from bot.domain.initiatives import Health, Initiative, InitiativeStatus
from bot.domain.risks import RiskAcceptance, RiskState
from bot.domain.roles import Role
from bot.export.review import review_markdown
from bot.slack.blocks.digest import digest_message
from bot.summarize import FallbackSummarizer

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


def seed_initiatives(session: Session, initiatives: int) -> None:
    rng = random.Random(initiatives)
    statuses = list(InitiativeStatus)
    healths = list(Health)
    rows = [
        {
            "title": f"Initiative {n}",
            "description": "",
            "status": rng.choice(statuses),
            "health": rng.choice(healths),
            "due_date": TODAY + timedelta(days=rng.randint(-60, 120)),
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
    session.execute(insert(Initiative), rows)
    # Through the ORM: the audit chain numbers and signs events as the session flushes them.
    session.add_all(AuditEvent(**event) for event in events)
    session.flush()


def seed_risks(session: Session, risks: int) -> None:
    rng = random.Random(risks)
    states = [RiskState.PENDING, RiskState.ACCEPTED, RiskState.ACCEPTED, RiskState.EXPIRED]
    states += [RiskState.REVOKED, RiskState.REJECTED, RiskState.DRAFT]
    rows = []
    for n in range(1, risks + 1):
        created = NOW - timedelta(days=rng.randint(0, 400))
        rows.append(
            {
                "title": f"Risk acceptance {n}",
                "description": "Legacy system without a supported patch level.",
                "asset": f"host-{n}",
                "controls": "Network isolation, monitoring",
                "techniques": ["T1078"],
                "likelihood": rng.randint(1, 5),
                "impact": rng.randint(1, 5),
                "requested_by": "U0BENCH",
                "expires_on": TODAY + timedelta(days=rng.randint(-90, 300)),
                "review_days": 90,
                "next_review_on": TODAY + timedelta(days=30),
                "state": rng.choice(states),
                "round": 1,
                "created_at": created,
                "updated_by": "U0BENCH",
                "updated_at": created,
            }
        )
    session.execute(insert(RiskAcceptance), rows)


def seed_disagreements(session: Session, disagreements: int) -> None:
    """`disagreements` open ones (every 7th escalated), plus as many closed ones."""
    rng = random.Random(disagreements)
    closed = [DisagreementState.SETTLED, DisagreementState.DECIDED, DisagreementState.WITHDRAWN]
    rows = []
    for n in range(1, 2 * disagreements + 1):
        if n > disagreements:
            state = rng.choice(closed)
        else:
            state = DisagreementState.ESCALATED if n % 7 == 0 else DisagreementState.OPEN
        opened = NOW - timedelta(days=rng.randint(1, 200))
        rows.append(
            {
                "subject": f"Disagreement {n} about rollout scope and controls",
                "linked_ref": f"INI-{n}",
                "cio_position": "Ship on the agreed date; the business case depends on it. " * 2,
                "ciso_position": "Hold until the control gap is closed and verified. " * 2,
                "business_impact": "Revenue at risk this quarter.",
                "security_impact": "Exposure of customer data.",
                "options": ["ship with compensating controls", "delay two weeks"],
                "state": state,
                "raised_by": "U0BENCH",
                "raised_side": Role.CIO,
                "settle_version": 0,
                "timebox_from": opened,
                "created_at": opened,
                "updated_by": "U0BENCH",
                "updated_at": opened,
            }
        )
    session.execute(insert(Disagreement), rows)
    needing = session.exec(
        select(Disagreement.id, Disagreement.state).where(
            col(Disagreement.state).in_([DisagreementState.ESCALATED, DisagreementState.DECIDED])
        )
    ).all()
    session.execute(
        insert(Escalation),
        [
            {
                "disagreement_id": number,
                "question": f"How do we resolve disagreement {number}?",
                "decide_by": TODAY + timedelta(days=rng.randint(-20, 20)),
                "state": EscalationState.PENDING
                if state == DisagreementState.ESCALATED
                else EscalationState.DECIDED,
                "channel_id": "C0EXEC",
                "thread_ts": f"1700000000.{number:06d}",
                "escalated_by": "U0BENCH",
                "escalated_at": NOW - timedelta(days=5),
            }
            for number, state in needing
        ],
    )


def seed(engine: Any, initiatives: int, risks: int, disagreements: int) -> None:
    with Session(engine) as session:
        seed_initiatives(session, initiatives)
        seed_risks(session, risks)
        seed_disagreements(session, disagreements)
        session.commit()


def run(initiatives: int, risks: int, disagreements: int) -> tuple[float, int, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        seed(engine, initiatives, risks, disagreements)

        statements = 0

        def count(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        digest = build_digest(engine, now=NOW, summarizer=FallbackSummarizer(), sources=SOURCES)
        message = digest_message(digest)
        markdown = review_markdown(digest)
        elapsed = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
        assert len(message.blocks) <= 50 and len(digest.summary.items) == disagreements
        assert markdown.count("### DIS-") == disagreements
        snapshot = digest.data.snapshot()
        assert sum(snapshot["risks_band"].values()) > 0
        escalated = sum(1 for brief in digest.briefs if brief.escalation_ref)
        assert escalated == disagreements // 7
        assert snapshot["escalations"]["awaiting decision"] == escalated
        engine.dispose()
        return elapsed, statements, snapshot


def main() -> None:
    sizes = [(1_000, 500, 100), (10_000, 5_000, 1_000)]
    results = []
    for initiatives, risks, disagreements in sizes:
        elapsed, statements, snapshot = run(initiatives, risks, disagreements)
        results.append(statements)
        print(
            f"{initiatives:>6} initiatives, {risks:>5} risk acceptances, "
            f"{disagreements:>5} open disagreements: "
            f"digest built in {elapsed:.3f}s with {statements} SQL statements"
        )
        for key in ("risks_band", "acceptance_debt", "risk_approvals", "escalations"):
            print(f"    {key}: {snapshot[key]}")
    print("statement count constant:", len(set(results)) == 1)
    if len(set(results)) != 1:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
