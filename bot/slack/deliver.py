"""Outbox row → Web API call. The only place Accord's messages leave for Slack.

Every web process runs a `Deliverer` thread that is woken after each commit that wrote outbox
rows (and every few seconds regardless); the clock runs the same pass as a sweeper. A pass
claims due rows with a lease (SKIP LOCKED on PostgreSQL, so replicas never take the same row),
sends each, and records what Slack answered in its own short transaction:

* success → `sent`, with the channel and `ts` stored at once (thread replies and updates of that
  message find their parent through it);
* 429 → retried after `Retry-After`; 5xx, timeouts, connection errors → retried with backoff;
* a refusal no retry can fix (`not_in_channel`, `invalid_blocks`, …) → given up at once;
* still failing when the delivery window ends → given up; either way the person who acted (or the
  coordination channel) is told what did not arrive.

A root post carries `metadata` with its outbox id. When a row is tried again after an attempt
whose outcome is unknown (the process died between Slack's answer and the commit), the channel's
history since the row was created is searched for that id first (every page of it), so the
message is recorded, not posted twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.clock import as_utc
from bot.db import session_scope
from bot.domain import outbox
from bot.domain.outbox import OutboxKind, OutboxMessage
from bot.services import Services
from bot.slack.blocks.errors import notice

log = logging.getLogger(__name__)

METADATA_TYPE = "accord_outbox"
#: How many pages of history (200 messages each) a retried post searches for itself.
HISTORY_PAGES = 50
#: Slack's `ok: false` errors that a later attempt may get past; every other `ok: false` is a
#: refusal no retry can fix (`not_in_channel`, `invalid_blocks`, `user_not_found`, …).
TRANSIENT = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


@dataclass(frozen=True)
class _Job:
    """A claimed row, detached from its session, with its parents resolved."""

    id: int
    kind: OutboxKind
    channel: str
    user_id: str | None
    thread_ts: str | None
    target_ts: str | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    parent_lost: bool


class Deliverer:
    """Sends outbox rows. `deliver_due()` is one pass (the clock's sweeper calls it too);
    `start()` runs passes on a thread, woken by `kick()` after a commit."""

    def __init__(self, services: Services, client: WebClient, *, idle_seconds: float = 5.0):
        self.services = services
        self.client = client
        self.idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()

    # -- running ------------------------------------------------------------------------------
    def kick(self) -> None:
        self._wake.set()

    def start(self) -> Deliverer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="accord-deliverer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.idle_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                while self.deliver_due() and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("outbox pass failed; retrying in %s s", self.idle_seconds)

    # -- one pass -------------------------------------------------------------------------------
    def deliver_due(self, *, limit: int = 20) -> int:
        """Send what is due now; the number of rows handled (0 when nothing was due)."""
        with self._pass_lock:
            jobs = self._claim(limit)
            for job in jobs:
                self._send(job)
            return len(jobs)

    def drain(self, *, passes: int = 50) -> None:
        """Deliver until nothing is due (tests and the shell use it to see the result at once)."""
        for _ in range(passes):
            if not self.deliver_due():
                return

    def _now(self) -> datetime:
        return self.services.clock.now()

    def _claim(self, limit: int) -> list[_Job]:
        now = self._now()
        with session_scope(self.services.engine) as session:
            claimed = outbox.claim_due(
                session, now=now, limit=limit, lease=self.services.settings.outbox_lease
            )
            jobs: list[_Job] = []
            lanes: set[str] = set()
            for row in claimed:
                if row.lane in lanes:
                    # One row per lane per pass: the next waits until this one is settled.
                    row.state = outbox.OutboxState.PENDING
                    row.attempts -= 1
                    row.lease_until = None
                    continue
                lanes.add(row.lane)
                jobs.append(_job(session, row))
        return jobs

    def _send(self, job: _Job) -> None:
        now = self._now()
        if job.parent_lost:
            self._settle_retry(job, "its parent message is not delivered yet", None)
            return
        try:
            channel, ts = self._call(job)
        except SlackApiError as error:
            response = error.response
            code = str(response.get("error") or f"http_{response.status_code}")
            if response.status_code == 429 or code == "ratelimited":
                after = _retry_after(response.headers)
                self._settle_retry(job, code, after)
            elif response.status_code >= 500 or code in TRANSIENT or not response.get("error"):
                self._settle_retry(job, code, None)
            else:
                self._settle_failed(job, code)
            return
        except (SlackRequestError, OSError, TimeoutError) as error:
            self._settle_retry(job, type(error).__name__, None)
            return
        with session_scope(self.services.engine) as session:
            outbox.mark_sent(session, job.id, now=now, channel=channel, ts=ts)
        log.info("outbox %s delivered (%s to %s)", job.id, job.kind.value, channel)
        if job.payload.get("permalink") and channel and ts:
            self._keep_permalink(job, channel, ts)

    def _keep_permalink(self, job: _Job, channel: str, ts: str) -> None:
        """Ask Slack for the post's permalink once; without it, links name the channel."""
        try:
            link = str(self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except (SlackApiError, SlackRequestError, OSError, TimeoutError, KeyError) as error:
            log.warning("outbox %s: no permalink (%s)", job.id, type(error).__name__)
            return
        with session_scope(self.services.engine) as session:
            outbox.record_permalink(session, job.id, link=link)

    def _settle_retry(self, job: _Job, error: str, retry_after: float | None) -> None:
        log.warning("outbox %s not delivered (%s); will retry", job.id, error)
        with session_scope(self.services.engine) as session:
            given_up = outbox.mark_retry(
                session, job.id, now=self._now(), error=error, retry_after=retry_after
            )
            if given_up is not None:
                self._tell_given_up(session, given_up)

    def _settle_failed(self, job: _Job, error: str) -> None:
        log.warning("outbox %s refused by Slack (%s); giving up", job.id, error)
        with session_scope(self.services.engine) as session:
            given_up = outbox.mark_failed(session, job.id, now=self._now(), error=error)
            if given_up is not None:
                self._tell_given_up(session, given_up)

    def _tell_given_up(self, session: Any, row: OutboxMessage) -> None:
        """Say what could not be delivered, once, through the outbox itself."""
        if row.subject == "outbox:failure":
            return  # a notice about a notice would never end
        where = f"<#{row.channel}>" if row.channel.startswith(("C", "G")) else "a direct message"
        reason = _reason(row.last_error)
        message = notice(
            f":warning: Accord could not deliver {row.summary} to {where}: {reason}. "
            "The change it announced is saved; tell the people concerned yourself, or check "
            "Accord's access to that channel."
        )
        target = row.notify or self.services.settings.accord_coordination_channel
        if not target:
            log.error("outbox %s given up and nobody to tell: %s", row.id, row.summary)
            return
        outbox.enqueue(
            session,
            now=self._now(),
            kind=OutboxKind.POST,
            channel=target,
            payload=message.payload(),
            summary="a delivery failure notice",
            subject="outbox:failure",
        )

    # -- the Web API calls ----------------------------------------------------------------------
    def _call(self, job: _Job) -> tuple[str | None, str | None]:
        payload = job.payload
        text = str(payload.get("text") or "")
        blocks = payload.get("blocks")
        if job.kind == OutboxKind.POST:
            if job.attempts > 1:
                found = self._find_earlier_post(job)
                if found is not None:
                    log.info("outbox %s was already posted (ts %s); recorded", job.id, found[1])
                    return found
            response = self.client.chat_postMessage(
                channel=job.channel,
                text=text,
                blocks=blocks,
                thread_ts=job.thread_ts,
                unfurl_links=False,
                metadata={"event_type": METADATA_TYPE, "event_payload": {"id": job.id}},
            )
            return str(response["channel"]), str(response["ts"])
        if job.kind == OutboxKind.UPDATE:
            response = self.client.chat_update(
                channel=job.channel, ts=str(job.target_ts), text=text, blocks=blocks
            )
            return str(response.get("channel") or job.channel), str(response.get("ts") or "")
        if job.kind == OutboxKind.EPHEMERAL:
            user = str(job.user_id)
            try:
                self.client.chat_postEphemeral(
                    channel=job.channel, user=user, text=text, blocks=blocks
                )
                return job.channel, None
            except SlackApiError as error:
                if error.response.status_code == 429 or error.response.status_code >= 500:
                    raise
            response = self.client.chat_postMessage(channel=user, text=text, blocks=blocks)
            return str(response["channel"]), str(response["ts"])
        # UPLOAD: a file into the person's DM
        dm = self.client.conversations_open(users=job.channel)
        channel = str(dm["channel"]["id"])
        self.client.files_upload_v2(
            channel=channel,
            content=str(payload["content"]),
            filename=str(payload["filename"]),
            title=str(payload.get("title") or payload["filename"]),
            initial_comment=text or None,
        )
        return channel, None

    def _find_earlier_post(self, job: _Job) -> tuple[str, str] | None:
        """A previous attempt may have reached Slack: look for our metadata in the history.

        History comes a page at a time (newest first; a page may be as small as 15 messages
        for some apps), so every page back to the row's creation is read: in a busy channel the
        earlier post can be several pages down, and missing it would post the message twice.
        """
        channel = job.channel
        if channel.startswith(("U", "W")):
            channel = str(self.client.conversations_open(users=channel)["channel"]["id"])
        oldest = f"{(as_utc(job.created_at) - timedelta(minutes=5)).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if job.thread_ts:
                response = self.client.conversations_replies(
                    channel=channel,
                    ts=job.thread_ts,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                response = self.client.conversations_history(
                    channel=channel,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == METADATA_TYPE and payload.get("id") == job.id:
                    return channel, str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        log.warning("outbox %s: no earlier post in %s pages of history", job.id, HISTORY_PAGES)
        return None


def _job(session: Any, row: OutboxMessage) -> _Job:
    thread, target, lost = outbox.parent_ts(session, row)
    channel = row.channel
    parent_id = row.target_of or row.thread_of
    if parent_id is not None:
        parent = session.get(OutboxMessage, parent_id)
        if parent is not None and parent.result_channel:
            channel = parent.result_channel  # a DM's D… id, as Slack answered
    assert row.id is not None
    return _Job(
        id=row.id,
        kind=row.kind,
        channel=channel,
        user_id=row.user_id,
        thread_ts=thread,
        target_ts=target,
        payload=dict(row.payload),
        attempts=row.attempts,
        created_at=row.created_at,
        parent_lost=lost,
    )


def _retry_after(headers: Any) -> float | None:
    try:
        values = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(values, list):
            values = values[0]
        return float(values) if values is not None else None
    except (TypeError, ValueError):
        return None


def _reason(error: str | None) -> str:
    known = {
        "not_in_channel": "Accord is not a member of that channel (type `/invite @Accord` there)",
        "channel_not_found": "the channel does not exist or Accord cannot see it",
        "is_archived": "the channel is archived",
        "ratelimited": "Slack kept answering 'rate limited' for the whole delivery window",
    }
    if error in known:
        return known[error]
    if error and error.startswith("its parent"):
        return error
    return f"Slack kept refusing it (`{error}`)" if error else "Slack kept refusing it"
