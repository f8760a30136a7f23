"""Every recurring job, declared once: id, what to run, when, and how late it may still run."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.services import Services
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)
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
    notifier.client.auth_test()
    log.info("clock heartbeat at %s", now.isoformat())


def _lazy(module: str, name: str) -> JobFunction:
    """Import a job's module when it runs, so the registry does not import the Slack layer."""

    def run(services: Services, notifier: SlackNotifier, now: datetime) -> None:
        getattr(importlib.import_module(module), name)(services, notifier, now)

    run.__name__ = name
    run.__qualname__ = f"{module}:{name}"
    return run


def _digest_trigger(settings: Settings) -> BaseTrigger:
    return CronTrigger.from_crontab(
        settings.accord_digest_cron, timezone=ZoneInfo(settings.accord_digest_timezone)
    )


JOBS: list[ScheduledJob] = [
    ScheduledJob(
        id="clock.heartbeat",
        run=heartbeat,
        trigger=lambda _settings: IntervalTrigger(minutes=5, timezone=UTC),
        misfire_grace_time=60,
    ),
    ScheduledJob(
        id="touchpoints.post_agendas",
        run=_lazy("bot.scheduler.touchpoints", "post_agendas"),
        trigger=lambda settings: IntervalTrigger(
            seconds=settings.accord_touchpoint_poll_seconds, timezone=UTC
        ),
        # Coalesced and safe to run late: the database decides what is due, not the trigger.
        misfire_grace_time=300,
    ),
    ScheduledJob(
        id="touchpoints.remind_due_actions",
        run=_lazy("bot.scheduler.touchpoints", "remind_due_actions"),
        trigger=lambda _settings: CronTrigger(hour=8, minute=0, timezone=UTC),
        misfire_grace_time=6 * 3600,
    ),
    ScheduledJob(
        id="risks.expire",
        run=_lazy("bot.scheduler.risk_jobs", "expire"),
        trigger=lambda _settings: IntervalTrigger(hours=1, timezone=UTC),
    ),
    ScheduledJob(
        id="risks.remind",
        run=_lazy("bot.scheduler.risk_jobs", "remind"),
        trigger=lambda _settings: CronTrigger(hour=8, minute=0, timezone=UTC),
        misfire_grace_time=6 * 3600,
    ),
    ScheduledJob(
        id="disagreements.timebox",
        run=_lazy("bot.scheduler.disagreement_jobs", "timebox"),
        trigger=lambda _settings: IntervalTrigger(hours=1, timezone=UTC),
    ),
    ScheduledJob(
        id="escalations.deadlines",
        run=_lazy("bot.scheduler.disagreement_jobs", "deadlines"),
        trigger=lambda _settings: IntervalTrigger(hours=1, timezone=UTC),
    ),
    ScheduledJob(
        id="digests.weekly",
        run=_lazy("bot.slack.digest_delivery", "weekly_digest_job"),
        trigger=_digest_trigger,
        misfire_grace_time=6 * 3600,
    ),
    ScheduledJob(
        id="digests.retry",
        # The same idempotent run: it posts a failed or missed slot within its grace period.
        run=_lazy("bot.slack.digest_delivery", "weekly_digest_job"),
        trigger=lambda settings: IntervalTrigger(
            minutes=settings.accord_digest_retry_minutes, timezone=UTC
        ),
        misfire_grace_time=300,
    ),
    ScheduledJob(
        id="gate.github_reviews",
        # Retries GitHub reviews that failed and approves waiting deployments once released.
        run=_lazy("bot.github.reviews", "deliver_reviews_job"),
        trigger=lambda settings: IntervalTrigger(
            seconds=settings.accord_github_review_poll_seconds, timezone=UTC
        ),
        misfire_grace_time=300,
    ),
]


def next_run_after_start(
    job: ScheduledJob, trigger: BaseTrigger, *, stored: datetime | None, now: datetime
) -> datetime | None:
    """When `job` runs next once the clock (re)starts, given the time the job store kept.

    Taking the trigger's next fire time instead (what `replace_existing=True` does) pushes an
    interval job a whole interval back at every restart, so a clock restarted more often than
    hourly would never expire a risk, and drops a cron run the clock was down for.

    - Nothing stored (first start): the trigger's first fire time.
    - Never later than the trigger's own next fire time, so a shorter interval or a changed
      cron expression takes effect at once.
    - An interval job keeps its stored time; one that fell due while the clock was down runs
      once now (the jobs are idempotent, and the database decides what is due).
    - A cron job keeps a missed time that is still within its grace period (APScheduler then
      runs it once, late); a run missed by longer is skipped, as its grace says.
    """
    fresh: datetime | None = trigger.get_next_fire_time(None, now)
    if stored is None or fresh is None:
        return fresh
    if stored > fresh:
        return fresh
    if isinstance(trigger, IntervalTrigger):
        return max(stored, now)
    if stored >= now - timedelta(seconds=job.misfire_grace_time):
        return stored
    return fresh


def job_by_id(job_id: str) -> ScheduledJob:
    for job in JOBS:
        if job.id == job_id:
            return job
    raise KeyError(job_id)
