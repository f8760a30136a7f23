"""Every recurring job, declared once: id, what to run, when, and how late it may still run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
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


JOBS: list[ScheduledJob] = [
    ScheduledJob(
        id="clock.heartbeat",
        run=heartbeat,
        trigger=lambda _settings: IntervalTrigger(minutes=5),
        misfire_grace_time=60,
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


def job_by_id(job_id: str) -> ScheduledJob:
    for job in JOBS:
        if job.id == job_id:
            return job
    raise KeyError(job_id)
