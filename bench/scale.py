"""Time and SQL statements per request as the register grows: the initiative list, the Home tab
(with "Needs you"), a touchpoint agenda and the digest, at a tenth of the size and at 10,000
initiatives / 5,000 risks / 1,000 open disagreements (SQLite, bulk-inserted rows; every pending
risk has an open round, a third of them already decided by the CIO side).

    .venv/bin/python bench/scale.py

The statement count of each request must be the same at both sizes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digest_bench import NOW, TODAY, seed_disagreements, seed_risks
from bot.db import make_engine, session_scope, upgrade
from bot.domain import touchpoints
from bot.domain.agenda import build_agenda
from bot.domain.digest import SOURCES, build_digest
from bot.domain.gate.queries import blocked_since
from bot.domain.initiatives import (
    Health,
    Initiative,
    InitiativeFilter,
    InitiativeStatus,
    home_summary,
    list_initiatives,
)
from bot.domain.needs import needs_you
from bot.domain.risks import RiskAcceptance, RiskState
from bot.domain.risks.models import RiskApproval, RiskRound, RoundKind, RoundState
from bot.domain.roles import Actor, Role
from bot.slack.blocks.digest import digest_message
from bot.slack.blocks.home import HOME_SECTION_SIZE, NEEDS_SECTION_SIZE, home_view
from bot.slack.blocks.initiatives import list_message
from bot.summarize import FallbackSummarizer

VIEWER = Actor(user_id="U0CIO", roles=frozenset({Role.CIO}))


def seed(engine: Any, initiatives: int, risks: int, disagreements: int) -> None:
    """bench/digest_bench.py's records, without its audit rows (the chain signs each event)."""
    statuses, healths = list(InitiativeStatus), list(Health)
    rows = [
        {
            "title": f"Initiative {n}",
            "description": "",
            "cio_owner_id": "U0CIO" if n % 5 == 0 else "U0CIO2",
            "status": statuses[n % len(statuses)],
            "health": healths[n % len(healths)],
            "due_date": TODAY + timedelta(days=n % 180 - 60),
            "on_hold": n % 13 == 0,
            "created_by": "U0BENCH",
            "created_at": NOW - timedelta(days=30),
            "updated_by": "U0BENCH",
            "updated_at": NOW - timedelta(days=1),
        }
        for n in range(1, initiatives + 1)
    ]
    with Session(engine) as session:
        session.execute(insert(Initiative), rows)
        seed_risks(session, risks)
        seed_disagreements(session, disagreements)
        session.commit()


def seed_rounds(engine: Any) -> None:
    """An open round for every pending risk; the CIO side decided a third of them."""
    with Session(engine) as session:
        pending = session.exec(
            select(RiskAcceptance.id).where(col(RiskAcceptance.state) == RiskState.PENDING)
        ).all()
        session.execute(
            insert(RiskRound),
            [
                {
                    "risk_id": risk_id,
                    "round": 1,
                    "kind": RoundKind.REQUEST,
                    "requested_by": "U0BENCH",
                    "requested_at": NOW - timedelta(days=3),
                    "proposed": {},
                    "state": RoundState.OPEN,
                    "messages": [],
                }
                for risk_id in pending
            ],
        )
        decided = [
            {
                "risk_id": risk_id,
                "round": 1,
                "side": Role.CIO,
                "approver_id": "U0CIO2",
                "decision": "approved",
                "at": NOW - timedelta(days=1),
                "snapshot": {},
            }
            for risk_id in pending[::3]
        ]
        if decided:
            session.execute(insert(RiskApproval), decided)
        session.commit()


def list_page(session: Session) -> int:
    page = list_initiatives(
        session, which=InitiativeFilter.ALL, viewer_id=VIEWER.user_id, today=TODAY, page=3
    )
    return len(list_message(page, which=InitiativeFilter.ALL, tag=None, today=TODAY).block_dicts())


def home_tab(session: Session) -> int:
    summary = home_summary(session, viewer_id=VIEWER.user_id, today=TODAY, limit=HOME_SECTION_SIZE)
    meetings = touchpoints.home_summary(session, viewer_id=VIEWER.user_id, limit=HOME_SECTION_SIZE)
    needs = needs_you(session, actor=VIEWER, today=TODAY, limit=NEEDS_SECTION_SIZE)
    assert needs.risks.total > 0 and needs.disagreements.total == 0
    blocked = blocked_since(session, since=NOW - timedelta(days=7))
    view = home_view(summary, today=TODAY, touchpoints=meetings, needs=needs, blocked=blocked)
    return len(view.to_dict()["blocks"])


def agenda(session: Session) -> int:
    built = build_agenda(
        session,
        series_id=1,
        today=TODAY,
        window_end=NOW + timedelta(days=7),
        zone=ZoneInfo("Europe/Berlin"),
    )
    return len(built.sections)


def measure(engine: Any, work: Callable[[Session], int], repeat: int = 5) -> tuple[float, int]:
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    with session_scope(engine) as session:  # warm caches (compiled statements)
        work(session)
    best = float("inf")
    per_request = 0
    for _ in range(repeat):
        statements = 0
        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        with session_scope(engine) as session:
            work(session)
        best = min(best, time.perf_counter() - started)
        event.remove(engine, "before_cursor_execute", count)
        per_request = statements
    return best, per_request


def digest(engine: Any) -> Callable[[Session], int]:
    def run(_session: Session) -> int:
        built = build_digest(engine, now=NOW, summarizer=FallbackSummarizer(), sources=SOURCES)
        return len(digest_message(built).block_dicts())

    return run


def run(initiatives: int, risks: int, disagreements: int) -> dict[str, tuple[float, int]]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        seed(engine, initiatives, risks, disagreements)
        seed_rounds(engine)
        results = {
            "list": measure(engine, list_page),
            "home": measure(engine, home_tab),
            "agenda": measure(engine, agenda),
            "digest": measure(engine, digest(engine), repeat=2),
        }
        engine.dispose()
        return results


def main() -> None:
    sizes = [(1_000, 500, 100), (10_000, 5_000, 1_000)]
    table = {size: run(*size) for size in sizes}
    print(f"{'request':>8} " + " ".join(f"{'/'.join(map(str, s)):>22}" for s in sizes))
    for name in ("list", "home", "agenda", "digest"):
        cells = [f"{table[s][name][0] * 1000:8.1f} ms {table[s][name][1]:4d} SQL" for s in sizes]
        print(f"{name:>8} " + " ".join(f"{c:>22}" for c in cells))
    for name in ("list", "home", "agenda", "digest"):
        counts = {table[s][name][1] for s in sizes}
        assert len(counts) == 1, f"{name}: statements grow with the data: {counts}"


if __name__ == "__main__":
    main()
