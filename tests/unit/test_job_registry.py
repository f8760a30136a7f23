"""Every scheduled job can be found and scheduled: a typo in a lazy reference would otherwise
only show up when the clock first runs it."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

from bot.config import Settings
from bot.scheduler.registry import JOBS, job_by_id


def test_every_job_resolves_and_has_a_trigger() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    for job in JOBS:
        assert job_by_id(job.id) is job
        module, _, name = job.run.__qualname__.rpartition(":")
        if module:
            assert callable(getattr(importlib.import_module(module), name)), job.id
        trigger = job.trigger(settings)
        first = trigger.get_next_fire_time(None, datetime(2026, 11, 25, tzinfo=UTC))
        assert first is not None, job.id
        assert job.misfire_grace_time >= 60, job.id
