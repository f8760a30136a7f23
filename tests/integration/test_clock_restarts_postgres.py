"""The real `accord clock` process restarted often still expires risks on time (issue 9).

Its wall clock is set with libfaketime (PLATFORM.md), so "an hour later" takes seconds: each
start is given the moment it happens at, and time runs at real speed from there.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.fakes.slack_api import FakeSlackServer
from tests.harness import CIO, CIO_2, CISO, COORDINATION, reply_text
from tests.integration.processes import AccordCluster

pytestmark = pytest.mark.postgres


def at(moment: datetime) -> str:
    return moment.strftime("@%Y-%m-%d %H:%M:%S")


def stored_next_run(cluster: AccordCluster, job_id: str) -> datetime:
    engine = sa.create_engine(cluster.database_url)
    try:
        with engine.connect() as connection:
            value = connection.execute(
                sa.text("SELECT next_run_time FROM apscheduler_job WHERE id = :id"),
                {"id": job_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return datetime.fromtimestamp(float(value), tz=UTC)


def expiry_announcements(fake: FakeSlackServer, ref: str) -> list[str]:
    return [
        str(call.body.get("text", ""))
        for call in fake.calls("chat.postMessage")
        if call.ok
        and call.body.get("channel") == COORDINATION
        and f"*{ref}*" in str(call.body.get("text", ""))
        and "expired on" in str(call.body.get("text", ""))
    ]


def test_three_clock_restarts_in_five_minutes_do_not_delay_risks_expire(
    cluster: AccordCluster, fake_slack: FakeSlackServer
) -> None:
    web = cluster.serve("serve").slack_client(fake_slack)
    tomorrow = date.today() + timedelta(days=1)
    created = reply_text(
        web.command(
            f"risk new Legacy VPN likelihood:2 impact:2 expires:{tomorrow.isoformat()}",
            user_id=CIO_2,
        ).json()
    )
    assert "Requested *RSK-1*" in created, created
    for approver in (CIO, CISO):
        web.command("risk approve RSK-1", user_id=approver)
    assert "accepted" in reply_text(web.command("risk show RSK-1", user_id=CIO).json())

    # The day it expires, 10:00 UTC: the clock starts and plans the hourly run.
    start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=UTC)
    clock = cluster.clock("clock", faketime=at(start), TZ="UTC")
    due = stored_next_run(cluster, "risks.expire")
    assert start + timedelta(hours=1) <= due < start + timedelta(hours=1, minutes=1)

    for seconds in (100, 200, 300):  # three restarts (kill -9) within five minutes
        clock.restart(FAKETIME=at(start + timedelta(seconds=seconds)))
        assert stored_next_run(cluster, "risks.expire") == due, (
            f"a restart at +{seconds}s moved risks.expire\n{clock.tail()}"
        )
    assert expiry_announcements(fake_slack, "RSK-1") == []

    # The last restart happens just before the hour is up: the run must still come on time.
    clock.restart(FAKETIME=at(due - timedelta(seconds=4)))
    deadline = time.monotonic() + 20
    while not expiry_announcements(fake_slack, "RSK-1") and time.monotonic() < deadline:
        time.sleep(0.2)
    announced = expiry_announcements(fake_slack, "RSK-1")
    assert len(announced) == 1, (
        f"risks.expire did not run at {due} after the restarts (next run now "
        f"{stored_next_run(cluster, 'risks.expire')})\n{clock.tail()}"
    )
    assert "expired" in reply_text(web.command("risk show RSK-1", user_id=CIO).json())
