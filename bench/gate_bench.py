"""The gate API's latency at a steady request rate, over real HTTP (waitress + the real WSGI
app), with 1,000 initiatives covering 5,000 systems (100 of them on hold). Prints percentiles;
asserts nothing.

    python bench/gate_bench.py [--rate 50] [--seconds 20] [--database-url URL] [--post]

`--post` measures `POST /api/v1/gate/checks` (a recorded, audited check) instead of `GET`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import session_scope
from bot.domain.gate.service import create_token
from bot.domain.initiatives import Initiative, InitiativeCoverage
from bot.domain.roles import Actor, Role
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import ADMIN, CISO, running_accord

INITIATIVES = 1000
COVERS_EACH = 5
HELD_EVERY = 10
ENVIRONMENTS = ("production", "staging", "qa", "dev", "*")


def seed(engine: object) -> str:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:  # type: ignore[arg-type]
        for number in range(INITIATIVES):
            held = number % HELD_EVERY == 0
            session.add(
                Initiative(
                    title=f"Bench initiative {number}",
                    created_by=CISO,
                    created_at=now,
                    updated_by=CISO,
                    updated_at=now,
                    on_hold=held,
                    hold_reason="bench hold" if held else None,
                    hold_by=CISO if held else None,
                    hold_at=now if held else None,
                    coverage_rows=[
                        InitiativeCoverage(service=f"svc-{number}", environment=environment)
                        for environment in ENVIRONMENTS[:COVERS_EACH]
                    ],
                )
            )
        _, secret = create_token(
            session, actor=Actor(ADMIN, frozenset({Role.ADMIN})), name="bench", now=now
        )
    return secret


def one_request(root: str, token: str, number: int, post: bool) -> tuple[float, bool]:
    service, environment = f"svc-{number % INITIATIVES}", "production"
    if post:
        body = json.dumps({"service": service, "environment": environment, "version": "v1"})
        request = urllib.request.Request(
            f"{root}/api/v1/gate/checks", data=body.encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
    else:
        query = urlencode({"service": service, "environment": environment})
        request = urllib.request.Request(f"{root}/api/v1/gate?{query}")
    request.add_header("Authorization", f"Bearer {token}")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - started, not answer["allowed"]


#: The issue's target for the gate's tail latency at 50 requests/s on this machine.
TARGET_P99_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url")
    parser.add_argument("--post", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeSlackServer() as fake:
        url = options.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        with running_accord(url, fake) as accord:
            token = seed(accord.services.engine)
            total = int(options.rate * options.seconds)
            results: list[tuple[float, bool]] = []
            lock = threading.Lock()

            def fire(number: int) -> None:
                result = one_request(accord.root_url, token, number, options.post)
                with lock:
                    results.append(result)

            for warm in range(20):
                one_request(accord.root_url, token, warm, options.post)
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=16) as pool:
                for number in range(total):  # open loop: requests leave on schedule
                    delay = start + number / options.rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(fire, number)
            elapsed = time.perf_counter() - start
            latencies = sorted(latency for latency, _ in results)
            held = sum(1 for _, is_held in results if is_held)

            def pct(p: float) -> float:
                return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

            kind = "POST /api/v1/gate/checks" if options.post else "GET /api/v1/gate"
            database = url.split(":", 1)[0]
            print(
                f"{kind} on {database}: {len(latencies)} requests in {elapsed:.1f} s "
                f"({len(latencies) / elapsed:.1f}/s), {held} held; "
                f"{INITIATIVES} initiatives, {INITIATIVES * COVERS_EACH} covered systems"
            )
            print(
                f"  p50 {pct(0.50):6.1f} ms  p99 {pct(0.99):6.1f} ms"
                f"  max {latencies[-1] * 1000:6.1f}"
                f" ms  mean {statistics.mean(latencies) * 1000:6.1f} ms"
            )
            verdict = "met" if pct(0.99) < TARGET_P99_MS else "MISSED"
            print(f"  target p99 < {TARGET_P99_MS:.0f} ms (issue 14): {verdict}")


if __name__ == "__main__":
    main()
