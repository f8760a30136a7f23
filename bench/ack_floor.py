"""Ack latency of `/accord` against the floor, measured from outside with an open-loop load.

Two servers run as child processes on loopback, each on the same stack (waitress, 8 threads):

* **floor**: a bare bolt app (bolt's WSGI adapter) whose `/accord` listener only calls `ack()`;
* **accord**: Accord's real WSGI app (`bot.web.AccordWsgi` + `bot.slack.app.build_app`, the
  outbox deliverer running), on SQLite (or `--database-url`), against a loopback fake Slack.

This process sends signed `/accord initiative list all` and `/accord help` (alternating, from
three users) at a fixed rate: every send time is scheduled before the run starts, and latency is
measured from the *scheduled* time to the last byte of the answer, so a server that falls behind
is charged for the queue it builds (no coordinated omission). Floor and Accord take turns in
short slices at each rate, so both see the same background noise.

    .venv/bin/python bench/ack_floor.py [--rates 10,50,150,300] [--seconds 6] [--slice 2]

An error is anything but a 200 whose body is JSON (a text answer or an empty ack for the floor),
or no answer within 3 s (Slack's limit).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret-0123456789abcdef"
USERS = ("U0CIO1", "U0CISO1", "U0EXEC1")
COMMANDS = ("initiative list all", "help")
SLACK_LIMIT = 3.0


# -- the servers (child processes) ----------------------------------------------------------


def _quiet() -> None:
    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is 27"


def serve_floor() -> None:
    from slack_bolt import Ack, App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient
    from waitress.server import create_server

    from tests.fakes.slack_api import FakeSlackServer

    fake = FakeSlackServer().start()  # answers the auth.test bolt makes on the first request
    client = WebClient(token="xoxb-floor", base_url=fake.base_url)
    app = App(client=client, signing_secret=SECRET, token_verification_enabled=False)

    @app.command("/accord")
    def accord(ack: Ack) -> None:
        ack()

    server = create_server(SlackRequestHandler(app), host="127.0.0.1", port=0, threads=8)
    print(server.effective_port, flush=True)  # type: ignore[union-attr]
    server.run()


def serve_accord(database_url: str | None, seed: int) -> None:
    from waitress.server import create_server

    from bot.bootstrap import build_slack_services, build_web_client
    from bot.db import upgrade
    from bot.slack.app import build_app
    from bot.slack.deliver import Deliverer
    from bot.slack.runner import tune_interpreter
    from bot.web import SERVER_OPTIONS, AccordWsgi
    from tests.fakes.slack_api import FakeSlackServer
    from tests.harness import CISO_FROM_GROUP, CISO_GROUP, test_settings

    folder = tempfile.mkdtemp(prefix="accord-bench-")
    url = database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
    fake = FakeSlackServer()
    fake.start()
    fake.set_usergroup(CISO_GROUP, [CISO_FROM_GROUP])
    settings = test_settings(url, fake, slack_signing_secret=SECRET)
    client = build_web_client(settings)
    services = build_slack_services(settings, client=client)
    upgrade(services.engine)
    deliverer = services.outbound
    assert isinstance(deliverer, Deliverer)
    deliverer.start()
    bolt = build_app(services, client=client, signing_secret=SECRET)
    server = create_server(
        AccordWsgi(bolt, services, signing_secret=SECRET),
        host="127.0.0.1",
        port=0,
        threads=8,
        **SERVER_OPTIONS,
    )
    port = server.effective_port  # type: ignore[union-attr]
    if os.environ.get("BENCH_TUNE", "1") == "1":
        tune_interpreter()

    def seed_then_announce() -> None:
        for n in range(seed):  # a register to list, made the way users make it
            status, _ = send(port, f"initiative new Bench initiative {n} #bench", "U0CIO1")
            assert status == 200, status
        print(port, flush=True)

    threading.Thread(target=seed_then_announce, daemon=True).start()
    server.run()


# -- the load -------------------------------------------------------------------------------


def signed_command(text: str, user: str, number: int) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "token": "unused",
            "team_id": "T0ACCORD",
            "team_domain": "accord-test",
            "channel_id": "C0COORD",
            "channel_name": "coordination",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/accord",
            "text": text,
            "api_app_id": "A0ACCORD",
            "is_enterprise_install": "false",
            "response_url": "http://127.0.0.1:9/hooks/r1",
            "trigger_id": f"{number}.{time.time_ns()}.{os.getpid()}",
        }
    ).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    return body, headers


_numbers = iter(range(10**9))


def send(port: int, text: str, user: str) -> tuple[int, bytes]:
    body, headers = signed_command(text, user, next(_numbers))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SLACK_LIMIT)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    by_command: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.errors += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def run_slice(
    port: int | list[int], rate: float, seconds: float, tally: Tally, workers: int = 64
) -> None:
    """Send `rate * seconds` requests at fixed, pre-scheduled instants (round-robin over the
    ports of several replicas); charge each one from its scheduled instant."""
    ports = port if isinstance(port, list) else [port]
    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    plan: queue.SimpleQueue[tuple[float, str, str, int] | None] = queue.SimpleQueue()
    for n in range(count):
        text, user = COMMANDS[n % 2], USERS[(n // 2) % len(USERS)]
        plan.put((start + n / rate, text, user, ports[n % len(ports)]))
    lock = threading.Lock()

    def worker() -> None:
        while (item := plan.get()) is not None:
            due, text, user, port = item
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                status, body = send(port, text, user)
                elapsed = time.perf_counter() - due
                ok = status == 200 and (not body or isinstance(json.loads(body), dict))
                reason = None if ok else f"HTTP {status}"
                if elapsed > SLACK_LIMIT:
                    reason = "over 3 s"
            except Exception as error:
                elapsed, reason = time.perf_counter() - due, type(error).__name__
            with lock:
                if reason is None:
                    tally.latencies.append(elapsed)
                    tally.by_command.setdefault(text, []).append(elapsed)
                else:
                    tally.fail(reason)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for _ in threads:
        plan.put(None)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def start_child(*args: str) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.strip().isdigit():
        child.kill()
        raise SystemExit(f"server {args} did not start: {line!r}")
    return child, int(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,50,150,300")
    parser.add_argument("--seconds", type=float, default=6.0, help="per server and rate")
    parser.add_argument("--slice", type=float, default=2.0, help="seconds per turn")
    parser.add_argument("--seed", type=int, default=20, help="initiatives to list")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="throughput mode: only Accord, on this many processes sharing --database-url; "
        "prints the highest rate with p99 < 100 ms and no errors",
    )
    parser.add_argument("--serve", choices=["floor", "accord"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        _quiet()
    if options.serve == "floor":
        serve_floor()
        return
    if options.serve == "accord":
        serve_accord(options.database_url, options.seed)
        return

    extra = ["--database-url", options.database_url] if options.database_url else []
    if options.replicas:
        throughput(options, extra)
        return
    floor, floor_port = start_child("--serve", "floor")
    try:
        accord, accord_port = start_child("--serve", "accord", "--seed", str(options.seed), *extra)
    except BaseException:
        floor.kill()
        raise
    servers: dict[str, int] = {"floor": floor_port, "accord": accord_port}
    try:
        for port in servers.values():  # warm both up
            run_slice(port, 50, 1.0, Tally())
        results: dict[tuple[str, float], Tally] = {}
        for rate in (float(r) for r in options.rates.split(",")):
            turns = max(1, round(options.seconds / options.slice))
            for _ in range(turns):
                for name, port in servers.items():
                    tally = results.setdefault((name, rate), Tally())
                    run_slice(port, rate, options.slice, tally)
        report(results)
    finally:
        for child in (floor, accord):
            child.terminate()
            child.wait(timeout=10)


def throughput(options: argparse.Namespace, extra: list[str]) -> None:
    children: list[subprocess.Popen[str]] = []
    try:
        ports = []
        for n in range(options.replicas):
            seed = str(options.seed if n == 0 else 0)
            child, port = start_child("--serve", "accord", "--seed", seed, *extra)
            children.append(child)
            ports.append(port)
        run_slice(ports, 50, 1.0, Tally())
        best = 0.0
        print(f"{options.replicas} replica(s)")
        for rate in (float(r) for r in options.rates.split(",")):
            tally = Tally()
            run_slice(ports, rate, options.seconds, tally)
            p50, p99 = (percentile(tally.latencies, f) * 1000 for f in (0.5, 0.99))
            ok = tally.errors == 0 and p99 < 100
            best = rate if ok and rate > best else best
            print(f"{rate:6.0f} req/s  p50 {p50:6.1f}ms  p99 {p99:7.1f}ms  errors {tally.errors}")
        print(f"highest rate with p99 < 100 ms and no errors: {best:.0f} req/s")
    finally:
        for child in children:
            child.terminate()
            child.wait(timeout=10)


def report(results: dict[tuple[str, float], Tally]) -> None:
    print(f"{'rate':>6} {'server':>7} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'errors':>6}")
    rates = sorted({rate for _, rate in results})
    for rate in rates:
        row: dict[str, float] = {}
        for name in ("floor", "accord"):
            tally = results[(name, rate)]
            values = tally.latencies
            p50, p95, p99 = (percentile(values, f) * 1000 for f in (0.50, 0.95, 0.99))
            row[name] = p99
            reasons = f" {tally.reasons}" if tally.reasons else ""
            medians = "  p50 " + ", ".join(
                f"{text.split()[0]} {percentile(times, 0.5) * 1000:.1f}ms"
                for text, times in sorted(tally.by_command.items())
            )
            print(
                f"{rate:6.0f} {name:>7} {len(values) + tally.errors:5d} {p50:6.1f}ms {p95:6.1f}ms"
                f" {p99:6.1f}ms {tally.errors:6d}{medians}{reasons}"
            )
        print(f"{'':6} p99 ratio accord/floor: {row['accord'] / row['floor']:.2f}x")


if __name__ == "__main__":
    main()
