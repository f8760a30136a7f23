"""Every recurring job, declared once: id, what to run, when, and how late it may still run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.scheduler import risk_jobs
from bot.services import Services
from bot.slack.notifier import SlackNotifier

JobFunction = Callable[[Services, SlackNotifier, datetime], None]


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    run: JobFunction
    trigger: Callable[[Settings], BaseTrigger]
    #: Seconds a run may start late (e.g. after a restart) and still run; see PLATFORM.md.
    misfire_grace_time: int = 3600


def heartbeat(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """Proves the clock runs and can reach Slack; its log line is what operators look for."""
    import logging

    notifier.client.auth_test()
    logging.getLogger(__name__).info("clock heartbeat at %s", now.isoformat())


def _post_touchpoint_agendas(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    from bot.scheduler.touchpoints import post_agendas

    post_agendas(services, notifier, now)


def _lazy(module: str, name: str) -> JobFunction:
    """Import a job's module when it runs, so the registry does not import the Slack layer."""

    def run(services: Services, notifier: SlackNotifier, now: datetime) -> None:
        import importlib

        getattr(importlib.import_module(module), name)(services, notifier, now)

    run.__name__ = name
    return run


JOBS: list[ScheduledJob] = [
    ScheduledJob(
        id="clock.heartbeat",
        run=heartbeat,
        trigger=lambda _settings: IntervalTrigger(minutes=5),
        misfire_grace_time=60,
    ),
    ScheduledJob(
        id="touchpoints.post_agendas",
        run=_post_touchpoint_agendas,
        trigger=lambda settings: IntervalTrigger(seconds=settings.accord_touchpoint_poll_seconds),
        # Coalesced and safe to run late: the database decides what is due, not the trigger.
        misfire_grace_time=300,
    ),
    ScheduledJob(
        id="risks.expire",
        run=risk_jobs.expire,
        trigger=lambda _settings: IntervalTrigger(hours=1),
    ),
    ScheduledJob(
        id="risks.remind",
        run=risk_jobs.remind,
        trigger=lambda _settings: CronTrigger(hour=8, minute=0),
        misfire_grace_time=6 * 3600,
    ),
    ScheduledJob(
        id="disagreements.timebox",
        run=_lazy("bot.scheduler.disagreement_jobs", "timebox"),
        trigger=lambda _settings: IntervalTrigger(hours=1),
    ),
    ScheduledJob(
        id="escalations.deadlines",
        run=_lazy("bot.scheduler.disagreement_jobs", "deadlines"),
        trigger=lambda _settings: IntervalTrigger(hours=1),
    ),
]


def _digest_trigger(settings: Settings) -> BaseTrigger:
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(
        settings.accord_digest_cron, timezone=ZoneInfo(settings.accord_digest_timezone)
    )


def _weekly_digest(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    from bot.slack.digest_delivery import weekly_digest_job

    weekly_digest_job(services, notifier, now)


JOBS.append(
    ScheduledJob(
        id="digests.weekly",
        run=_weekly_digest,
        trigger=_digest_trigger,
        misfire_grace_time=6 * 3600,
    )
)
JOBS.append(
    ScheduledJob(
        id="digests.retry",
        run=_weekly_digest,  # the same idempotent run: posts a failed or missed slot in its grace
        trigger=lambda settings: IntervalTrigger(minutes=settings.accord_digest_retry_minutes),
        misfire_grace_time=300,
    )
)


def job_by_id(job_id: str) -> ScheduledJob:
    for job in JOBS:
        if job.id == job_id:
            return job
    raise KeyError(job_id)
