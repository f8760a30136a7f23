"""Digest slots: the most recent due fire time of the digest cron, as a unique key.

Kept out of bot/domain (the domain does not import the scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


def latest_slot(cron: str, timezone: str, now: datetime) -> datetime | None:
    """The most recent fire time of `cron` at or before `now` (None if none in a year).

    Derived from the cron and the time only, so a restart or a second clock computes the same
    slot and the unique `slot_key` stops a second post.
    """
    trigger = CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))
    for lookback in (
        timedelta(hours=1),
        timedelta(days=2),
        timedelta(days=8),
        timedelta(days=32),
        timedelta(days=367),
    ):
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is None or fire > now:
            continue
        while True:
            following = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            if following is None or following > now:
                return fire.astimezone(UTC)  # type: ignore[no-any-return]
            fire = following
    return None


def slot_key(slot: datetime) -> str:
    return "scheduled:" + slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
