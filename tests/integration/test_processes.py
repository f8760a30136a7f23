"""The process harness itself: real replicas can crash, come back, and never outlive a test."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlackServer
from tests.harness import CISO, reply_text
from tests.integration.processes import AccordCluster, ProcessFailed

pytestmark = pytest.mark.postgres


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_replica_restarts_on_its_port_and_closing_leaves_no_process(
    postgres_url: str, fake_slack: FakeSlackServer, tmp_path: Path
) -> None:
    with AccordCluster(postgres_url, fake_slack, tmp_path) as cluster:
        cluster.upgrade()
        a, b = cluster.serves("a", "b")
        created = a.slack_client(fake_slack).command(
            "initiative new Rotate the signing keys", user_id=CISO
        )
        assert "INI-1" in reply_text(created.json())

        a.kill()
        assert a.returncode == -signal.SIGKILL
        port = a.port
        a.start()
        assert a.port == port and a.starts == 2
        shown = a.slack_client(fake_slack).command("initiative show INI-1", user_id=CISO)
        assert "Rotate the signing keys" in reply_text(shown.json())
        assert "=== start 2" in a.log(since_start=False)
        pids = [a.pid, b.pid]
    assert all(pid is not None and not running(pid) for pid in pids)


def test_a_process_that_cannot_start_fails_with_its_log(
    postgres_url: str, fake_slack: FakeSlackServer, tmp_path: Path
) -> None:
    cluster = AccordCluster(postgres_url, fake_slack, tmp_path, SLACK_SIGNING_SECRET="")
    with cluster, pytest.raises(ProcessFailed, match="SLACK_SIGNING_SECRET is not set"):
        cluster.serve("no-secret")
