"""How long `/accord initiative list` and the Home tab take to build, and how many SQL statements
they issue, as the register grows. Prints figures; asserts nothing.

    python bench/list_bench.py
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import event, insert

from bot.db import make_engine, session_scope, upgrade
from bot.domain.initiatives import Initiative, InitiativeFilter, home_summary, list_initiatives
from bot.slack.blocks.home import home_view
from bot.slack.blocks.initiatives import list_message

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def seed(engine_url: str, count: int) -> None:
    engine = make_engine(engine_url)
    upgrade(engine)
    rows = [
        {
            "title": f"Initiative {n}",
            "description": "",
            "cio_owner_id": "U0CIO",
            "ciso_owner_id": "U0CISO",
            "status": "active",
            "health": "green",
            "due_date": date(2026, 1, 1) if n % 7 == 0 else None,
            "on_hold": n % 11 == 0,
            "created_by": "U0CIO",
            "created_at": NOW,
            "updated_by": "U0CIO",
            "updated_at": NOW,
        }
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Initiative), rows)
    engine.dispose()


def measure(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        seed(url, count)
        engine = make_engine(url)
        statements = 0

        def counter(*_args: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine, "before_cursor_execute", counter)
        started = time.perf_counter()
        with session_scope(engine) as session:
            page = list_initiatives(
                session,
                which=InitiativeFilter.ALL,
                viewer_id="U0CIO",
                today=NOW.date(),
                page=3,
                page_size=20,
            )
            message = list_message(page, which=InitiativeFilter.ALL, tag=None, today=NOW.date())
            summary = home_summary(session, viewer_id="U0CIO", today=NOW.date(), limit=10)
            view = home_view(summary, today=NOW.date())
        elapsed = time.perf_counter() - started
        print(
            f"{count:>7} initiatives: list page + Home tab in {elapsed * 1000:7.1f} ms, "
            f"{statements} SQL statements, {len(message.blocks)} message blocks, "
            f"{len(view.blocks or [])} home blocks"
        )
        engine.dispose()


if __name__ == "__main__":
    for size in (300, 3_000, 30_000):
        measure(size)
