"""Runs the scheduler. Exactly one clock process runs; each job is idempotent in the database
anyway, so a restart or a second clock cannot double a send."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.util import utc_timestamp_to_datetime

from bot.scheduler.registry import JOBS, job_by_id, next_run_after_start
from bot.services import Services
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)
_runtime: tuple[Services, SlackNotifier] | None = None


def run_job(job_id: str) -> None:
    """The pickled entry point: only the job id is stored, the code is looked up at run time."""
    assert _runtime is not None, "run_job runs inside the clock process"
    services, notifier = _runtime
    try:
        job_by_id(job_id).run(services, notifier, services.clock.now())
    except Exception:
        log.exception("scheduled job %s failed", job_id)


def build_scheduler(
    services: Services, notifier: SlackNotifier, *, blocking: bool = True
) -> BaseScheduler:
    """The clock's scheduler; `blocking=False` runs it in a background thread (tests, embedding)."""
    global _runtime
    _runtime = (services, notifier)
    kind = BlockingScheduler if blocking else BackgroundScheduler
    store = SQLAlchemyJobStore(engine=services.engine, tablename="apscheduler_job")
    scheduler = kind(
        jobstores={"default": store},
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    stored = stored_next_run_times(store)
    now = datetime.now(UTC)  # the scheduler's own wall clock, which fires the triggers
    for job in JOBS:
        trigger = job.trigger(services.settings)
        next_run = next_run_after_start(job, trigger, stored=stored.get(job.id), now=now)
        if stored.get(job.id) is not None and next_run != stored[job.id]:
            log.info("job %s: next run %s (stored %s)", job.id, next_run, stored[job.id])
        scheduler.add_job(
            run_job,
            trigger=trigger,
            args=[job.id],
            id=job.id,
            name=job.id,
            replace_existing=True,  # one row per id; the stored next run is carried over
            misfire_grace_time=job.misfire_grace_time,
            next_run_time=next_run,
        )
    return scheduler


def stored_next_run_times(store: SQLAlchemyJobStore) -> dict[str, datetime | None]:
    """Each job's next run time as the job store kept it (empty before the first start)."""
    table = store.jobs_t
    if not sa.inspect(store.engine).has_table(table.name, schema=table.schema):
        return {}
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.id, table.c.next_run_time)).all()
    return {
        str(job_id): utc_timestamp_to_datetime(timestamp) if timestamp is not None else None
        for job_id, timestamp in rows
    }
