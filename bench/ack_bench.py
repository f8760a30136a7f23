"""How fast a signed `/accord` command is acknowledged over real HTTP (waitress + bolt + SQLite),
against the loopback fake Slack. Prints percentiles; asserts nothing.

    python bench/ack_bench.py [count]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.slack_api import FakeSlackServer
from tests.harness import CIO, CISO, running_accord


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder, FakeSlackServer() as fake:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        with running_accord(url, fake) as accord:
            timings: dict[str, list[float]] = {"initiative new": [], "initiative list": []}
            for number in range(count):
                created = accord.command(f"initiative new Bench item {number} #bench", user=CIO)
                timings["initiative new"].append(created.elapsed)
                listed = accord.command("initiative list all", user=CISO)
                timings["initiative list"].append(listed.elapsed)
            for name, values in timings.items():
                values.sort()
                p95 = values[int(len(values) * 0.95) - 1]
                print(
                    f"{name:>16}: n={len(values)} median {statistics.median(values) * 1000:6.1f} ms"
                    f"  p95 {p95 * 1000:6.1f} ms  max {values[-1] * 1000:6.1f} ms"
                )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
