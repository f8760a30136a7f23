"""Resident memory of a real `accord serve` process (SQLite, loopback fake Slack): idle, after
the first 1,000 requests (warm-up) and after 20,000, of signed `/accord initiative list all`
and `/accord help` from four senders. Growth after warm-up must stay within 10 %.

    .venv/bin/python bench/memory.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ack_floor import COMMANDS, SECRET, USERS, send
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import CISO_FROM_GROUP, CISO_GROUP

ACCORD = Path(sys.executable).with_name("accord")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def blast(port: int, count: int, senders: int = 4) -> int:
    """`count` requests, closed-loop from `senders` threads; the number that failed."""
    failed = 0
    lock = threading.Lock()
    numbers = iter(range(count))

    def sender() -> None:
        nonlocal failed
        for n in numbers:
            status, _ = send(port, COMMANDS[n % 2], USERS[(n // 2) % len(USERS)])
            if status != 200:
                with lock:
                    failed += 1

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warm-up", type=int, default=1_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeSlackServer() as fake:
        fake.set_usergroup(CISO_GROUP, [CISO_FROM_GROUP])
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'accord.db'}",
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_BASE_URL": fake.base_url,
            "ACCORD_CIO_SIDE": "U0CIO1,U0CIO2",
            "ACCORD_CISO_SIDE": f"U0CISO1,{CISO_GROUP}",
            "ACCORD_EXECUTIVES": "U0EXEC1",
            "ACCORD_COORDINATION_CHANNEL": "C0COORD",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run([ACCORD, "db", "upgrade"], env=env, check=True, cwd=folder)
        server = subprocess.Popen(
            [ACCORD, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=folder
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            for n in range(20):
                send(port, f"initiative new Memory bench {n} #bench", "U0CIO1")
            time.sleep(1)
            idle = rss_kib(server.pid)
            failed = blast(port, options.warm_up)
            warm = rss_kib(server.pid)
            started = time.perf_counter()
            failed += blast(port, options.requests - options.warm_up)
            elapsed = time.perf_counter() - started
            final = rss_kib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    growth = (final - warm) / warm * 100
    print(f"idle                      {idle / 1024:7.1f} MiB")
    print(f"after {options.warm_up:>6,} requests      {warm / 1024:7.1f} MiB")
    print(
        f"after {options.requests:>6,} requests      {final / 1024:7.1f} MiB"
        f"  ({growth:+.1f} % after warm-up; {failed} failed;"
        f" {(options.requests - options.warm_up) / elapsed:.0f} req/s closed-loop)"
    )


if __name__ == "__main__":
    main()
