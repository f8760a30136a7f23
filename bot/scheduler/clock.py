"""Runs the scheduler. Exactly one clock process runs; each job is idempotent in the database
anyway, so a restart or a second clock cannot double a send."""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.scheduler.registry import JOBS, job_by_id
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
    scheduler = kind(
        jobstores={
            "default": SQLAlchemyJobStore(engine=services.engine, tablename="apscheduler_job")
        },
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    for job in JOBS:
        scheduler.add_job(
            run_job,
            trigger=job.trigger(services.settings),
            args=[job.id],
            id=job.id,
            name=job.id,
            replace_existing=True,
            misfire_grace_time=job.misfire_grace_time,
        )
    return scheduler
