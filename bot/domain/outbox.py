"""The transactional outbox: every message Accord sends is a row written in the same transaction
as the change that causes it, and leaves only after that transaction commits.

A row names what to do (post, thread reply, update, ephemeral, file) and where; its payload is
already rendered (a JSON object the transport understands), so the domain needs to know nothing
of the chat system. Rows that belong together share a *lane* (the channel or person they go to)
and are delivered in id order within it, so a thread reply never overtakes its root and an update
never overtakes the post it updates. A row may refer to an earlier row as its thread parent or as
the message it updates: the parent's `ts` is stored the moment the transport answers, so replies
find it however late it went out.

Delivery (see `bot/slack/deliver.py`) claims due rows with a lease, sends, and records the result.
A failed attempt is retried with backoff (honouring Retry-After) until `give_up_at`; then the row
is `failed` and a notice goes to whoever acted, or to the coordination channel.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, col, select

from bot.clock import as_utc
from bot.domain.columns import enum_column

#: How long a claimed row stays with the deliverer that took it (the default of
#: `ACCORD_OUTBOX_LEASE_SECONDS`); a deliverer killed mid-send loses its lease and another one
#: finishes the row (looking it up in Slack first).
LEASE = timedelta(seconds=60)
#: The default delivery window: after this, Accord stops trying and says what was not delivered.
DEFAULT_WINDOW = timedelta(hours=24)
MAX_BACKOFF = timedelta(minutes=5)


class OutboxKind(StrEnum):
    POST = "post"  # chat.postMessage (a channel, a thread reply, or a DM to a user id)
    UPDATE = "update"  # chat.update of an earlier post
    EPHEMERAL = "ephemeral"  # chat.postEphemeral (falls back to a DM)
    UPLOAD = "upload"  # files_upload_v2 into a person's DM


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # given up: permanent error or past the window


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_due", "state", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: OutboxKind = Field(sa_column=enum_column(OutboxKind))
    #: Delivery order is kept per lane: the destination channel, or the person for a DM.
    lane: str = Field(index=True, max_length=64)
    channel: str = Field(max_length=64)
    #: For ephemerals: who sees it.
    user_id: str | None = Field(default=None, max_length=32)
    #: A thread reply: the parent row (its ts once sent) or a known thread ts.
    thread_of: int | None = Field(default=None, foreign_key="outbox_message.id")
    thread_ts: str | None = Field(default=None, max_length=32)
    #: An update: the row whose message is updated, or a known message ts.
    target_of: int | None = Field(default=None, foreign_key="outbox_message.id")
    target_ts: str | None = Field(default=None, max_length=32)
    #: What the message is about, e.g. `escalation:3:brief`; records find their message by it.
    subject: str | None = Field(default=None, index=True, max_length=96)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: Said in the notice when delivery is given up ("the approval request of RSK-3").
    summary: str = Field(max_length=300)
    #: Who to tell when delivery is given up (the person who acted); else the coordination channel.
    notify: str | None = Field(default=None, max_length=32)
    state: OutboxState = Field(
        default=OutboxState.PENDING, sa_column=enum_column(OutboxState, index=True)
    )
    attempts: int = 0
    created_at: datetime
    not_before: datetime
    give_up_at: datetime
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    result_channel: str | None = Field(default=None, max_length=64)
    result_ts: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=300)


# -- writing (inside the caller's transaction) -------------------------------------------------


def enqueue(
    session: Session,
    *,
    now: datetime,
    kind: OutboxKind,
    channel: str,
    payload: dict[str, Any],
    summary: str,
    subject: str | None = None,
    user_id: str | None = None,
    thread_of: int | None = None,
    thread_ts: str | None = None,
    target_of: int | None = None,
    target_ts: str | None = None,
    notify: str | None = None,
    window: timedelta = DEFAULT_WINDOW,
) -> OutboxMessage:
    """Add one message to the caller's transaction; it leaves when that transaction commits."""
    row = OutboxMessage(
        kind=kind,
        lane=channel,
        channel=channel,
        user_id=user_id,
        thread_of=thread_of,
        thread_ts=thread_ts,
        target_of=target_of,
        target_ts=target_ts,
        subject=subject,
        payload=payload,
        summary=summary[:300],
        notify=notify,
        created_at=now,
        not_before=now,
        give_up_at=now + window,
    )
    session.add(row)
    session.flush()
    session.info["outbox_written"] = True
    return row


def latest_for(session: Session, subject: str) -> OutboxMessage | None:
    """The newest post about `subject` (not given up), e.g. the brief of an escalation."""
    return session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.subject == subject,
            OutboxMessage.kind == OutboxKind.POST,
            col(OutboxMessage.state) != OutboxState.FAILED,
        )
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    ).first()


def posts_for(session: Session, subject: str) -> list[OutboxMessage]:
    """Every post about `subject` that was or will be delivered (e.g. one DM per approver)."""
    return list(
        session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.subject == subject,
                OutboxMessage.kind == OutboxKind.POST,
                col(OutboxMessage.state) != OutboxState.FAILED,
            )
            .order_by(col(OutboxMessage.id))
        )
    )


def has_subject(session: Session, subject: str) -> bool:
    return latest_for(session, subject) is not None


# -- waking the deliverer after a commit ----------------------------------------------------

#: Weak on both sides, so that registering keeps neither the engine nor the deliverer (and all
#: they hold: services, the engine's compiled statements) alive once their process part is gone.
_WAKE: weakref.WeakKeyDictionary[Engine, weakref.WeakMethod[Callable[[], None]]] = (
    weakref.WeakKeyDictionary()
)


def wake_on_commit(engine: Engine, wake: Callable[[], None] | None) -> None:
    """Call `wake`, a bound method (the deliverer's `kick`), after every commit on `engine`
    that wrote outbox rows (None: stop)."""
    if wake is None:
        _WAKE.pop(engine, None)
    else:
        _WAKE[engine] = weakref.WeakMethod(wake)


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    if not session.info.pop("outbox_written", False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    held = _WAKE.get(engine) if engine is not None else None
    wake = held() if held is not None else None
    if wake is not None:
        wake()


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session: OrmSession) -> None:
    session.info.pop("outbox_written", None)


# -- delivering ---------------------------------------------------------------------------------

#: The deliverer locks a row `FOR NO KEY UPDATE` (PostgreSQL's own lock for an UPDATE that
#: changes no key), not `FOR UPDATE`: a change queuing a reply or an update of this message
#: takes a KEY SHARE lock on it through the foreign key, while holding its record locked, and
#: the deliverer's hooks then write to that record. With FOR UPDATE the two deadlock and
#: PostgreSQL fails one of them (seen: an approval lost as the request was marked sent).
_ROW_LOCK = {"key_share": True}


@functools.cache
def _due_rows(limit: int) -> Any:
    """The rows due at `:now`, first in their lane, locked on PostgreSQL (built once: making
    the aliased subquery anew took more time than running it)."""
    now: sa.BindParameter[datetime] = sa.bindparam("now")
    earlier = sa.orm.aliased(OutboxMessage)
    blocked = (
        select(earlier.id)
        .where(
            earlier.lane == OutboxMessage.lane,
            col(earlier.id) < col(OutboxMessage.id),
            col(earlier.state).in_([OutboxState.PENDING, OutboxState.SENDING]),
        )
        .exists()
    )
    lease_over = col(OutboxMessage.lease_until).is_(None) | (col(OutboxMessage.lease_until) <= now)
    return (
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(
            col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]),
            col(OutboxMessage.not_before) <= now,
            lease_over,
            ~blocked,
        )
        .order_by(col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxMessage, key_share=True)
    )


#: Takes one candidate row, unless another deliverer took it since it was read.
_TAKE_ROW = (
    sa.update(OutboxMessage)
    .where(
        col(OutboxMessage.id) == sa.bindparam("row_id"),
        col(OutboxMessage.attempts) == sa.bindparam("seen_attempts"),
        col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]),
    )
    .values(
        state=OutboxState.SENDING,
        attempts=sa.bindparam("tries"),
        lease_until=sa.bindparam("until"),
    )
)


def claim_due(
    session: Session, *, now: datetime, limit: int = 20, lease: timedelta = LEASE
) -> list[OutboxMessage]:
    """Take up to `limit` rows that are due and first in their lane, with a lease.

    On PostgreSQL the candidates are locked with SKIP LOCKED, so several deliverers (web
    replicas and clocks) look at different rows. Each row is then taken with a guarded UPDATE
    (its `attempts` must still be what was read), so even where a lock is not available
    (SQLite reads outside a transaction) two deliverers can never take the same row. A row whose
    earlier lane-mate is still pending or being sent waits, which keeps order per channel and
    thread.
    """
    candidates = session.exec(_due_rows(limit), params={"now": now}).all()
    taken: list[int] = []
    for row_id, attempts in candidates:
        result = session.execute(
            _TAKE_ROW,
            {
                "row_id": row_id,
                "seen_attempts": attempts,
                "tries": attempts + 1,
                "until": now + lease,
            },
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(int(row_id))
    if not taken:
        return []
    return list(
        session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id).in_(taken))
            .order_by(col(OutboxMessage.id))
            .execution_options(populate_existing=True)
        )
    )


def parent_ts(session: Session, row: OutboxMessage) -> tuple[str | None, str | None, bool]:
    """(thread ts, update target ts, parent lost) for a row about to be sent."""
    thread, target, lost = row.thread_ts, row.target_ts, False
    if row.thread_of is not None:
        parent = session.get(OutboxMessage, row.thread_of)
        thread = parent.result_ts if parent else None
        lost = lost or thread is None
    if row.target_of is not None:
        parent = session.get(OutboxMessage, row.target_of)
        target = parent.result_ts if parent else None
        lost = lost or target is None
    return thread, target, lost


#: Hooks run in the transaction that marks a post sent, keyed by the subject's first part
#: (`escalation`, `occurrence`, ...): they store the ts on the record the message belongs to.
SentHook = Callable[[Session, OutboxMessage], None]
_SENT_HOOKS: dict[str, SentHook] = {}


def on_sent(prefix: str) -> Callable[[SentHook], SentHook]:
    def register(hook: SentHook) -> SentHook:
        _SENT_HOOKS[prefix] = hook
        return hook

    return register


_GIVEN_UP_HOOKS: dict[str, SentHook] = {}


def on_given_up(prefix: str) -> Callable[[SentHook], SentHook]:
    """Like `on_sent`, for a post that will never be delivered (its record may undo a claim)."""

    def register(hook: SentHook) -> SentHook:
        _GIVEN_UP_HOOKS[prefix] = hook
        return hook

    return register


#: Hooks for posts that asked for their permalink (`payload["permalink"]`): the deliverer asks
#: Slack for it once the post is sent, and the hook keeps it on the record.
PermalinkHook = Callable[[Session, OutboxMessage, str], None]
_PERMALINK_HOOKS: dict[str, PermalinkHook] = {}


def on_permalink(prefix: str) -> Callable[[PermalinkHook], PermalinkHook]:
    def register(hook: PermalinkHook) -> PermalinkHook:
        _PERMALINK_HOOKS[prefix] = hook
        return hook

    return register


def record_permalink(session: Session, row_id: int, *, link: str) -> None:
    row = session.get(OutboxMessage, row_id)
    if row is None or not row.subject:
        return
    import bot.domain.delivered  # noqa: F401  (registers the hooks)

    hook = _PERMALINK_HOOKS.get(row.subject.split(":", 1)[0])
    if hook is not None:
        hook(session, row, link)


def mark_sent(
    session: Session, row_id: int, *, now: datetime, channel: str | None, ts: str | None
) -> None:
    row = session.get(OutboxMessage, row_id, with_for_update=_ROW_LOCK)
    if row is None or row.state == OutboxState.SENT:
        return
    row.state = OutboxState.SENT
    row.sent_at = now
    row.lease_until = None
    row.result_channel = channel
    row.result_ts = ts
    row.last_error = None
    if row.subject and ts:
        import bot.domain.delivered  # noqa: F401  (registers the hooks)

        hook = _SENT_HOOKS.get(row.subject.split(":", 1)[0])
        if hook is not None:
            hook(session, row)


def mark_retry(
    session: Session, row_id: int, *, now: datetime, error: str, retry_after: float | None
) -> OutboxMessage | None:
    """Schedule the next attempt, or give up when the window is over (returns the row then)."""
    row = session.get(OutboxMessage, row_id, with_for_update=_ROW_LOCK)
    if row is None or row.state in (OutboxState.SENT, OutboxState.FAILED):
        return None
    row.last_error = error[:300]
    row.lease_until = None
    backoff = timedelta(seconds=min(2 ** min(row.attempts, 16), MAX_BACKOFF.total_seconds()))
    if retry_after is not None:
        backoff = max(backoff, timedelta(seconds=retry_after))
    due = now + backoff
    if due > as_utc(row.give_up_at):
        return _give_up(session, row, now=now)
    row.state = OutboxState.PENDING
    row.not_before = due
    return None


def mark_failed(
    session: Session, row_id: int, *, now: datetime, error: str
) -> OutboxMessage | None:
    """A permanent refusal (e.g. not in the channel): give up now, not after a day."""
    row = session.get(OutboxMessage, row_id, with_for_update=_ROW_LOCK)
    if row is None or row.state in (OutboxState.SENT, OutboxState.FAILED):
        return None
    row.last_error = error[:300]
    return _give_up(session, row, now=now)


def _give_up(session: Session, row: OutboxMessage, *, now: datetime) -> OutboxMessage:
    row.state = OutboxState.FAILED
    row.lease_until = None
    row.sent_at = now
    if row.subject:
        import bot.domain.delivered  # noqa: F401  (registers the hooks)

        hook = _GIVEN_UP_HOOKS.get(row.subject.split(":", 1)[0])
        if hook is not None:
            hook(session, row)
    # What depended on this row (its thread replies and updates) cannot be delivered either.
    dependants = session.exec(
        select(OutboxMessage).where(
            (col(OutboxMessage.thread_of) == row.id) | (col(OutboxMessage.target_of) == row.id),
            col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]),
        )
    )
    for dependant in dependants:
        dependant.state = OutboxState.FAILED
        dependant.last_error = f"its parent message could not be delivered ({row.last_error})"
        dependant.sent_at = now
    return row


def pending_count(session: Session) -> int:
    return int(
        session.exec(
            select(sa.func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]))
        ).one()
    )


def next_due(session: Session) -> datetime | None:
    moment = session.exec(
        select(sa.func.min(OutboxMessage.not_before)).where(
            col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING])
        )
    ).one()
    return as_utc(moment) if moment is not None else None


def rows(session: Session, ids: Sequence[int]) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))))
