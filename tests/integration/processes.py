"""Real Accord processes for integration tests: `accord serve` and `accord clock` as subprocesses.

They run the installed code exactly as production does (same interpreter as the tests, via
``python -m bot.cli``), on a real database and against the in-test loopback fake Slack. Every
process writes stdout and stderr to its own log file, whose tail goes into failure messages; an
:class:`AccordCluster` kills whatever it started when it closes, and a child also dies with the
test run itself (``PR_SET_PDEATHSIG``), so a failing or interrupted test leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from tests.fakes.slack_api import FakeSlackServer
from tests.fakes.slack_requests import SignedSlackClient
from tests.harness import (
    ADMIN,
    BOT_TOKEN,
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    CISO_FROM_GROUP,
    CISO_GROUP,
    COORDINATION,
    DIGEST_CHANNEL,
    EXEC,
    EXECUTIVE_CHANNEL,
    SIGNING_SECRET,
)

__all__ = [
    "AccordCluster",
    "AccordProcess",
    "ProcessFailed",
    "accord_environment",
    "faketime_environment",
    "fire_at_once",
    "free_port",
    "slack_outage",
]

T = TypeVar("T")
READY_TIMEOUT = 45.0  # two cold interpreters importing bolt, sqlalchemy… on a busy 2-core box
_LOG_TAIL_CHARS = 4000
_PR_SET_PDEATHSIG = 1


class ProcessFailed(AssertionError):
    """A process did not start, or died; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accord_environment(
    database_url: str, slack: FakeSlackServer, **overrides: str
) -> dict[str, str]:
    """The environment of a production-like Accord process, as in `tests.harness.test_settings`.

    The test run's own environment is kept (PATH, locale…) without any `SLACK_*`, `OPENAI_*`,
    `ACCORD_*` or `DATABASE_URL` of the developer's. `overrides` are extra variables by name,
    e.g. ``ACCORD_ACK_BUDGET_SECONDS="10"``.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "OPENAI_", "ACCORD_", "FAKETIME", "LD_PRELOAD"))
        and name not in ("DATABASE_URL", "PORT")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "ACCORD_AUDIT_KEY": "integration-audit-key-0123456789abcdef-0123456789",
            "SLACK_API_BASE_URL": slack.base_url,
            "ACCORD_CIO_SIDE": f"{CIO},{CIO_2}",
            "ACCORD_CISO_SIDE": f"{CISO},{CISO_2},{CISO_GROUP}",
            "ACCORD_EXECUTIVES": EXEC,
            "ACCORD_ADMINS": ADMIN,
            "ACCORD_COORDINATION_CHANNEL": COORDINATION,
            "ACCORD_EXECUTIVE_CHANNEL": EXECUTIVE_CHANNEL,
            "ACCORD_DIGEST_CHANNEL": DIGEST_CHANNEL,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    slack.set_usergroup(CISO_GROUP, [CISO_FROM_GROUP])
    return env


def faketime_environment(start: str) -> dict[str, str]:
    """Variables that start a process's wall clock at `start` ("@2026-12-21 00:59:50"), running
    at real speed, with the libfaketime that PyPI's `libfaketime` package vendors (PLATFORM.md).
    """
    import libfaketime  # type: ignore[import-untyped]

    library = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src"
    return {
        "LD_PRELOAD": str(library / "libfaketime.so.1"),
        "FAKETIME": start,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }


def _die_with_parent() -> None:  # pragma: no cover  (runs in the child between fork and exec)
    libc_name = ctypes.util.find_library("c")
    if libc_name and sys.platform.startswith("linux"):
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class AccordProcess:
    """One `accord …` subprocess with its log file; start/kill/restart it as often as needed."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        ready: Callable[[AccordProcess], bool],
        port: int | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = dict(env)
        self.log_path = log_path
        self.port = port
        self._ready = ready
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self.starts = 0

    # -- addresses ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} listens on no port")
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def slack_client(self, slack: FakeSlackServer, *, timeout: float = 30.0) -> SignedSlackClient:
        """Signed Slack requests to this process (response_url pointing at the fake)."""
        return SignedSlackClient(
            self.events_url, SIGNING_SECRET, response_url=slack.response_url(), timeout=timeout
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def start(self, *, timeout: float = READY_TIMEOUT, **env: str) -> Self:
        """Start (again) and wait until ready; `env` adds or replaces variables from now on."""
        return self.launch(**env).wait_ready(timeout=timeout)

    def launch(self, **env: str) -> Self:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.env.update(env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            header = f"\n=== start {self.starts + 1}: accord {' '.join(self.args)}\n"
            log.write(header.encode())
            log.flush()
            self._log_offset = log.tell()
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *self.args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Die with the test run. The signal is tied to the forking *thread*, so only
                # the main thread (which outlives the test) asks for it.
                preexec_fn=_die_with_parent if _on_main_thread() else None,
            )
        self.starts += 1
        return self

    def wait_ready(self, *, timeout: float = READY_TIMEOUT) -> Self:
        """Wait until ready (serve: /healthz answers 200; clock: the scheduler started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise ProcessFailed(
                    f"{self.name} exited with code {self.returncode} while starting\n{self.tail()}"
                )
            if self._ready(self):
                return self
            time.sleep(0.05)
        self.kill()
        raise ProcessFailed(f"{self.name} was not ready within {timeout:.0f}s\n{self.tail()}")

    def kill(self) -> None:
        """kill -9: no clean-up in the process, like a crash or an OOM kill."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()
        self._reap()

    def terminate(self, *, timeout: float = 10.0) -> None:
        """SIGTERM, as a deploy or `systemctl stop` would; kill -9 if it does not exit in time."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
        self._reap()

    def restart(self, *, hard: bool = True, **env: str) -> Self:
        """Kill (-9 unless `hard=False`) and start again with the same port and environment."""
        if hard:
            self.kill()
        else:
            self.terminate()
        return self.start(**env)

    def _reap(self) -> None:
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=10)

    # -- logs --------------------------------------------------------------------------------
    def log(self, *, since_start: bool = True) -> str:
        """The process's output (of the current start only, unless `since_start=False`)."""
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        if since_start:
            data = data[self._log_offset :]
        return data.decode("utf-8", errors="replace")

    def tail(self, chars: int = _LOG_TAIL_CHARS) -> str:
        text = self.log(since_start=False)
        clipped = text[-chars:]
        state = "running" if self.alive else f"exited {self.returncode}"
        return f"--- {self.name} ({state}), {self.log_path}:\n{clipped}"

    def wait_for_log(self, needle: str, *, timeout: float = 10.0, count: int = 1) -> None:
        """Wait until the current start's output contains `needle` `count` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(needle) >= count:
                return
            if not self.alive:
                break
            time.sleep(0.05)
        raise ProcessFailed(f"{self.name}: {needle!r} not logged {count}x\n{self.tail()}")


def _healthy(process: AccordProcess) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"{process.base_url}/healthz", timeout=2
        ) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _scheduler_started(process: AccordProcess) -> bool:
    return "Scheduler started" in process.log()


def _listen_on(process: AccordProcess, port: int) -> None:
    process.port = port
    process.args = ["serve", "--host", "127.0.0.1", "--port", str(port)]


def _wait_serving(process: AccordProcess) -> None:
    for attempt in range(3):
        try:
            process.wait_ready()
            return
        except ProcessFailed:
            # Another program may have taken the port between free_port() and the bind.
            if attempt == 2 or "address already in use" not in process.log().lower():
                raise
            _listen_on(process, free_port())
            process.launch()


class AccordCluster:
    """Accord's production shape on one database: `serve` replicas and `clock` processes.

    Use as a context manager; closing kills every process it started (also on failure)::

        with AccordCluster(postgres_url, fake_slack, tmp_path) as cluster:
            cluster.upgrade()
            a, b = cluster.serve("a"), cluster.serve("b")
    """

    def __init__(
        self, database_url: str, slack: FakeSlackServer, workdir: Path, **env: str
    ) -> None:
        self.database_url = database_url
        self.slack = slack
        self.workdir = workdir
        self.env = accord_environment(database_url, slack, **env)
        self.processes: list[AccordProcess] = []
        workdir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Kill every process this cluster started; never leaves one behind."""
        for process in self.processes:
            process.kill()

    def report(self) -> str:
        """The tail of every process's log, for a failure message."""
        return "\n".join(process.tail() for process in self.processes)

    def upgrade(self, *, timeout: float = 120.0) -> None:
        """`accord db upgrade`, once, before replicas start (they would race each other)."""
        log_path = self.workdir / "db-upgrade.log"
        with log_path.open("wb") as log:
            done = subprocess.run(
                [sys.executable, "-m", "bot.cli", "db", "upgrade"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise ProcessFailed(
                f"accord db upgrade failed ({done.returncode}):\n{log_path.read_text()}"
            )

    def serve(self, name: str | None = None, *, start: bool = True, **env: str) -> AccordProcess:
        """An `accord serve` on a free loopback port, started and answering `GET /healthz`."""
        return self.serves(name or f"serve-{len(self.processes) + 1}", start=start, **env)[0]

    def serves(self, *names: str, start: bool = True, **env: str) -> list[AccordProcess]:
        """Several `accord serve` replicas, booted in parallel; returned once all are healthy."""
        made = [
            AccordProcess(
                name,
                [],
                env={**self.env, **env},
                log_path=self.workdir / f"{name}.log",
                ready=_healthy,
            )
            for name in names
        ]
        for process in made:
            _listen_on(process, free_port())
            self.processes.append(process)
        if start:
            for process in made:
                process.launch()
            for process in made:
                _wait_serving(process)
        return made

    def clock(
        self,
        name: str | None = None,
        *,
        faketime: str | None = None,
        start: bool = True,
        **env: str,
    ) -> AccordProcess:
        """An `accord clock`, ready once APScheduler logged "Scheduler started".

        `faketime="@2026-12-21 00:59:50"` starts its wall clock there (see faketime_environment).
        """
        extra = {**env, **(faketime_environment(faketime) if faketime else {})}
        process = AccordProcess(
            name or f"clock-{len(self.processes) + 1}",
            ["clock"],
            env={**self.env, **extra},
            log_path=self.workdir / f"{name or 'clock'}.log",
            ready=_scheduler_started,
        )
        self.processes.append(process)
        return process.start() if start else process


def fire_at_once(calls: Sequence[Callable[[], T]], *, timeout: float = 60.0) -> list[T]:
    """Run every call on its own thread, released together by a `threading.Barrier`.

    Returns the results in the order of `calls`; re-raises the first exception.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(i, call), name=f"fire-{i}", daemon=True)
        for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"requests still running after {timeout}s")
    if errors:
        raise errors[0]
    return results


@contextmanager
def slack_outage(
    slack: FakeSlackServer,
    *,
    errors_for: float | None = None,
    status: int = 500,
    then_status: int | None = 429,
    retry_after: int = 1,
    methods: Sequence[str] | None = None,
) -> Iterator[FakeSlackServer]:
    """Slack is down while the block runs, and recovers when it ends (also when it fails).

    Every call answers HTTP `status` (500) — for `errors_for` seconds and then `then_status`
    (429 with ``Retry-After: retry_after``) until the block ends; with ``errors_for=None`` it
    is `status` throughout. `methods` limits the outage to some methods::

        with slack_outage(fake, errors_for=20, retry_after=5):
            a.slack_client(fake).command("risk new …", user_id=CISO)
            time.sleep(40)     # longer than slack_sdk's own retries
        # Slack answers again: every message must now arrive, once.

    For an outage that ends by itself use the fake directly: ``fake.fail_all(seconds=30)``.
    """
    chosen = list(methods) if methods is not None else None
    slack.fail_all(status=status, seconds=errors_for, retry_after=retry_after, methods=chosen)
    if then_status is not None and errors_for is not None:
        slack.fail_all(status=then_status, retry_after=retry_after, methods=chosen)
    try:
        yield slack
    finally:
        slack.end_outage()
