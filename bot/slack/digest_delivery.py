"""Build, render and post the digest: on schedule (once per slot), on demand, or as a preview."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.domain.digest import (
    SOURCES,
    Digest,
    DigestRun,
    DigestSource,
    build_digest,
)
from bot.domain.errors import InvalidInput
from bot.scheduler.digest_slots import latest_slot, slot_key
from bot.services import Services
from bot.slack.blocks.common import Message
from bot.slack.blocks.digest import digest_message
from bot.slack.notifier import Posted, SlackNotifier
from bot.summarize import summarizer_for

log = logging.getLogger(__name__)


def make_digest(
    services: Services, now: datetime, *, sources: Sequence[DigestSource] = SOURCES
) -> Digest:
    summarizer = summarizer_for(services.settings, services.engine, now=now)
    digest = build_digest(services.engine, now=now, summarizer=summarizer, sources=sources)
    usage = digest.summary.usage
    log.info(
        "digest built: %d disagreement(s) summarised by %s; LLM calls %d, tokens %d "
        "(prompt %d, completion %d)",
        len(digest.briefs),
        digest.summary.author,
        usage.calls,
        usage.total,
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    return digest


def preview_message(
    services: Services, now: datetime, *, sources: Sequence[DigestSource] = SOURCES
) -> Message:
    """The digest as it would be posted now; records nothing."""
    return digest_message(make_digest(services, now, sources=sources), preview=True)


def digest_channel(services: Services) -> str:
    channel = services.settings.accord_digest_channel
    if not channel:
        raise InvalidInput(
            "No digest channel is configured, so there is nowhere to post the digest.",
            hint="Set ACCORD_DIGEST_CHANNEL to a channel id (e.g. C0123ABC) and invite Accord "
            "there; `/accord digest preview` works without it.",
        )
    return channel


def post_digest(
    services: Services,
    notifier: SlackNotifier,
    now: datetime,
    *,
    key: str,
    kind: str,
    requested_by: str | None = None,
    sources: Sequence[DigestSource] = SOURCES,
) -> Posted | None:
    """Claim `key`, then build and post. Returns None when the key was already claimed."""
    channel = digest_channel(services)
    try:
        with session_scope(services.engine) as session:
            run = DigestRun(slot_key=key, kind=kind, as_of=now, requested_by=requested_by)
            session.add(run)
            session.flush()
            run_id = run.id
    except IntegrityError:
        log.info("digest %s was already posted (or is being posted); skipping", key)
        return None
    try:
        digest = make_digest(services, now, sources=sources)
        posted = notifier.post(channel, digest_message(digest))
    except Exception as error:
        with session_scope(services.engine) as session:
            failed = session.get(DigestRun, run_id)
            if failed is not None:
                failed.state = "failed"
                failed.error = f"{type(error).__name__}: {error}"[:500]
        raise
    with session_scope(services.engine) as session:
        done = session.get(DigestRun, run_id)
        assert done is not None
        done.state = "posted"
        done.channel = posted.channel
        done.ts = posted.ts
        done.posted_at = now
        done.summarizer = digest.summary.author
        done.llm_tokens = digest.summary.usage.total
        done.snapshot = digest.data.snapshot()
    log.info("digest %s posted to %s (ts %s)", key, posted.channel, posted.ts)
    return posted


def scheduled_digest(
    services: Services,
    notifier: SlackNotifier,
    now: datetime,
    *,
    sources: Sequence[DigestSource] = SOURCES,
) -> Posted | None:
    """Post the digest for the most recent due slot of the cron, at most once per slot."""
    settings = services.settings
    if not settings.accord_digest_channel:
        log.warning("ACCORD_DIGEST_CHANNEL is not set; the scheduled digest is skipped")
        return None
    slot = latest_slot(settings.accord_digest_cron, settings.accord_digest_timezone, now)
    if slot is None:
        return None
    return post_digest(
        services, notifier, now, key=slot_key(slot), kind="scheduled", sources=sources
    )


def weekly_digest_job(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    scheduled_digest(services, notifier, now)
