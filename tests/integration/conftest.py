"""Fixtures for tests that run Accord as real processes (see processes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlackServer
from tests.integration.processes import AccordCluster, AccordProcess

_REPORT_KEY = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_REPORT_KEY] = report
    return report  # type: ignore[return-value]


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    migrated_postgres_url: str,
    fake_slack: FakeSlackServer,
    tmp_path: Path,
) -> Iterator[AccordCluster]:
    """An empty, migrated PostgreSQL database (a copy of the migrated template: `accord db
    upgrade` itself runs in test_processes.py) and a place to start Accord processes on it.

    Every process is killed afterwards; when the test failed, their logs are printed.
    """
    with AccordCluster(migrated_postgres_url, fake_slack, tmp_path / "processes") as running:
        try:
            yield running
        finally:
            report = request.node.stash.get(_REPORT_KEY, None)
            if report is None or report.failed:
                print(running.report())


@pytest.fixture
def two_servers(cluster: AccordCluster) -> tuple[AccordProcess, AccordProcess]:
    """Two `accord serve` replicas on the same database, both answering /healthz."""
    a, b = cluster.serves("serve-a", "serve-b")
    return a, b
