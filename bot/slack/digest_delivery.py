"""Build, render and post the digest: on schedule (once per slot), on demand, or as a preview."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.db import session_scope
from bot.domain.digest import (
    SOURCES,
    Digest,
    DigestSource,
    build_digest,
    claim_run,
    record_failure,
    record_queued,
)
from bot.domain.errors import InvalidInput
from bot.scheduler.digest_slots import latest_slot, slot_key
from bot.services import Services
from bot.slack import send
from bot.slack.blocks.common import Message
from bot.slack.blocks.digest import digest_message
from bot.slack.notifier import SlackNotifier
from bot.summarize import summarizer_for

log = logging.getLogger(__name__)


def make_digest(
    services: Services,
    now: datetime,
    *,
    sources: Sequence[DigestSource] = SOURCES,
    since: datetime | None = None,
) -> Digest:
    summarizer = summarizer_for(services.settings, services.engine, now=now)
    digest = build_digest(
        services.engine, now=now, summarizer=summarizer, sources=sources, since=since
    )
    name_people(services, digest)
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


def name_people(services: Services, digest: Digest) -> None:
    """Who acted, by display name (the digest is read by people, and must not ping them)."""
    workspace = services.workspace
    if workspace is None:
        return
    for user_id in {c.actor_id for c in digest.data.changes if c.actor_id}:
        name = workspace.display_name(user_id)
        if name:
            digest.data.people[user_id] = name


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
    now: datetime,
    *,
    key: str,
    kind: str,
    requested_by: str | None = None,
    retry: bool = False,
    sources: Sequence[DigestSource] = SOURCES,
) -> str | None:
    """Claim `key`, build, then record the run and queue its message in one transaction.
    Returns the channel, or None when the key is someone else's (already posted, being built,
    or — without `retry` — failed). A failure to build is recorded, then raised; Slack being
    down is not a failure here (the outbox delivers the digest when Slack is back)."""
    channel = digest_channel(services)
    run_id = claim_run(
        services.engine, key=key, kind=kind, now=now, requested_by=requested_by, retry=retry
    )
    if run_id is None:
        log.info("digest %s was already posted (or is being posted); skipping", key)
        return None
    try:
        digest = make_digest(services, now, sources=sources)
        message = digest_message(digest)
        with session_scope(services.engine) as session:
            if not record_queued(session, run_id, digest, now=now):
                log.info("digest %s was taken over by another run; skipping", key)
                return None
            send.post(
                session,
                services,
                channel=channel,
                message=message,
                summary="the leadership digest",
                subject=f"digest:{run_id}",
                notify=requested_by,
            )
    except Exception as error:
        record_failure(services.engine, run_id, error)
        raise
    log.info("digest %s queued for %s", key, channel)
    return channel


def scheduled_digest(
    services: Services, now: datetime, *, sources: Sequence[DigestSource] = SOURCES
) -> str | None:
    """Post the digest for the most recent due slot of the cron, at most once per slot."""
    settings = services.settings
    if not settings.accord_digest_channel:
        log.warning("ACCORD_DIGEST_CHANNEL is not set; the scheduled digest is skipped")
        return None
    slot = latest_slot(settings.accord_digest_cron, settings.accord_digest_timezone, now)
    if slot is None:
        return None
    grace = timedelta(hours=settings.accord_digest_retry_grace_hours)
    if now - slot > grace:
        # Too late for that slot: a digest days late would mislead; its failure stays recorded.
        return None
    key = slot_key(slot)
    try:
        return post_digest(services, now, key=key, kind="scheduled", retry=True, sources=sources)
    except Exception:
        log.exception(
            "digest %s failed; the clock retries it until %s UTC",
            key,
            (slot + grace).strftime("%Y-%m-%d %H:%M"),
        )
        return None


def weekly_digest_job(services: Services, notifier: SlackNotifier, now: datetime) -> None:
    """Runs at the cron's time and, as `digests.retry`, every hour: a slot whose post failed
    (or was missed) is attempted again within the grace period, and posted at most once."""
    scheduled_digest(services, now)
