"""What the audit chain costs: appending events (one transaction each, as commands do, and from
two writers at once) and `accord audit verify` as the trail grows. Prints figures; asserts
nothing.

    python bench/audit_bench.py                      # SQLite
    python bench/audit_bench.py postgresql://postgres@127.0.0.1/bench   # an empty database
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.db import make_engine, session_scope, upgrade
from bot.domain.audit import record_event
from bot.domain.audit_chain import verify_chain

NOW = datetime(2026, 11, 25, tzinfo=UTC)
KEY = b"bench-key-0123456789abcdef0123456789"


def append(url: str, count: int, writers: int) -> float:
    engine = make_engine(url, audit_key=KEY)

    def write(actor: str) -> None:
        for n in range(count // writers):
            with session_scope(engine) as session:
                record_event(
                    session,
                    at=NOW,
                    actor_id=actor,
                    record_ref="RSK-1",
                    action="risk.updated",
                    before={"title": "Legacy VPN", "n": n},
                    after={"title": "Legacy VPN, 3 hosts", "n": n + 1},
                )

    started = time.perf_counter()
    threads = [threading.Thread(target=write, args=(f"U{w}",)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def verify(url: str) -> tuple[int, float]:
    engine = make_engine(url, audit_key=KEY)
    started = time.perf_counter()
    with session_scope(engine) as session:
        report = verify_chain(session)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert report.ok, report.summary()
    return report.events, elapsed


def run(url: str) -> None:
    upgrade(make_engine(url, audit_key=KEY))
    for count, writers in ((1000, 1), (1000, 2)):
        seconds = append(url, count, writers)
        print(
            f"append {count} events, {writers} writer(s): {seconds:.2f} s "
            f"({seconds / count * 1000:.2f} ms per transaction)"
        )
    events, seconds = verify(url)
    print(f"verify {events} events: {seconds * 1000:.0f} ms")
    for _ in range(2):  # grow the trail by 10,000 events per transaction
        grown = make_engine(url, audit_key=KEY)
        with session_scope(grown) as session:
            for n in range(10000):
                record_event(session, at=NOW, actor_id="U0BULK", record_ref="INI-1", action=str(n))
        grown.dispose()
        events, seconds = verify(url)
        print(f"verify {events} events: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        run(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'bench.db'}")
