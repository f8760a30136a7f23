"""The tamper-evident audit chain.

Every audit event carries `seq` (1, 2, 3, … without gaps), the previous event's hash, and
`hash` = HMAC-SHA256(ACCORD_AUDIT_KEY, canonical JSON of its content and the previous hash).
The key is never in the database, so whoever can write the database but does not hold the key
cannot change, remove or insert an event without `verify_chain` naming it. Whoever does hold
the key (or when the public development key is in use) could rewrite the whole chain: the chain
head published outside the database (each digest, `accord audit head`) shows that.

Appending is serialised by the one `audit_chain_head` row: the first statement of an append is
an UPDATE of that row, which on PostgreSQL locks it until the transaction ends and on SQLite
takes the database's write lock, so two writers never number or link events from the same head.
The lock is taken at the first flush that holds a new event and kept until commit, so keep the
service order "lock the records, change them, record the events": a transaction that locks
another record after its first event has been flushed can deadlock with one that locked that
record first (PostgreSQL then aborts one of the two).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import inspect, update
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from bot.db import AuditKey, audit_key_for
from bot.domain.audit import GENESIS_HASH, AuditChainHead, AuditEvent
from bot.domain.errors import InvalidInput

#: Bump when the hashed content changes; verification then needs to know both forms.
CHAIN_FORMAT = 1
#: Published heads are checked on at least this many hex digits of the hash.
MIN_HEAD_DIGITS = 12


class ChainHeadMissing(RuntimeError):
    """The head row is gone: nothing more is appended until someone looks (fail closed)."""


def _plain(value: Any) -> Any:
    """What the JSON column gives back for `value` (tuples → lists, enums → strings)."""
    return None if value is None else json.loads(json.dumps(value))


def _utc(at: datetime) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    key: AuditKey,
    *,
    seq: int,
    at: datetime,
    actor_id: str,
    record_ref: str,
    action: str,
    before: Any,
    after: Any,
    note: str | None,
    prev_hash: str,
) -> str:
    """HMAC-SHA256 over every field that matters, as canonical JSON (sorted keys, ASCII)."""
    content = {
        "v": CHAIN_FORMAT,
        "seq": seq,
        "at": _utc(at),
        "actor": actor_id,
        "record": record_ref,
        "action": action,
        "before": _plain(before),
        "after": _plain(after),
        "note": note,
        "prev": prev_hash,
    }
    data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key.secret, data.encode("ascii"), hashlib.sha256).hexdigest()


def _insert_order(event: AuditEvent) -> int:
    order = getattr(inspect(event), "insert_order", None)
    return order if isinstance(order, int) else 0


def append_to_chain(session: OrmSession, events: Sequence[AuditEvent]) -> None:
    """Number, link and sign `events` (in the order they were added) from the locked head."""
    ordered = sorted(events, key=_insert_order)
    connection = session.connection()
    moved = connection.execute(
        update(AuditChainHead)
        .where(col(AuditChainHead.id) == 1)
        .values(seq=col(AuditChainHead.seq) + len(ordered))
        .returning(col(AuditChainHead.seq), col(AuditChainHead.hash))
    ).one_or_none()
    if moved is None:
        raise ChainHeadMissing(
            "the audit chain head row is missing; run `accord audit verify` and restore it"
        )
    key = audit_key_for(connection)
    seq, prev = int(moved[0]) - len(ordered), str(moved[1])
    for event in ordered:
        seq += 1
        event.seq = seq
        event.prev_hash = prev
        event.hash = event_hash(
            key,
            seq=seq,
            at=event.at,
            actor_id=event.actor_id,
            record_ref=event.record_ref,
            action=event.action,
            before=event.before,
            after=event.after,
            note=event.note,
            prev_hash=prev,
        )
        prev = event.hash
    connection.execute(update(AuditChainHead).where(col(AuditChainHead.id) == 1).values(hash=prev))


# -- the head ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainHead:
    """Event number and hash of the newest event (or a published prefix of that hash)."""

    seq: int
    hash: str

    def short(self, digits: int = 16) -> str:
        return f"#{self.seq} {self.hash[:digits]}…"

    def token(self, digits: int = 16) -> str:
        """The form `accord audit verify --head` takes."""
        return f"{self.seq}:{self.hash[:digits]}"


_HEAD = re.compile(r"#?(\d{1,18})[:\s]+([0-9a-fA-F]+)…?")


def parse_head(text: str) -> ChainHead:
    """`42:3f2a9c1b0d4e5f60` (or `#42 3f2a…` as the digest shows it) → ChainHead."""
    match = _HEAD.fullmatch(text.strip())
    if match is None or len(match.group(2)) < MIN_HEAD_DIGITS:
        raise InvalidInput(
            f"`{text[:40]}` is not a chain head.",
            hint=f"e.g. `42:3f2a9c1b0d4e5f60` (event number, then {MIN_HEAD_DIGITS}+ hex digits)",
        )
    return ChainHead(seq=int(match.group(1)), hash=match.group(2).lower())


def chain_head(session: Session) -> ChainHead | None:
    row = session.exec(select(AuditChainHead).where(AuditChainHead.id == 1)).first()
    return ChainHead(seq=row.seq, hash=row.hash) if row else None


# -- verification -----------------------------------------------------------------------------

ProblemKind = Literal["changed", "removed", "inserted", "head", "rewritten"]


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: ChainHead
    problem: ChainProblem | None
    #: Events whose own hash does not match their content (all of them: the wrong key).
    mismatched: int
    development_key: bool

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line for the CLI and Slack."""
        if self.problem is None and self.head.seq == 0:
            line = "0 events verified, head #0 (the chain is empty)"
        elif self.problem is None:
            events = f"{self.events} event{'s' if self.events != 1 else ''}"
            line = f"{events} verified, head #{self.head.seq} {self.head.hash}"
        else:
            line = f"audit chain broken: {self.problem.message}"
            if self.events and self.mismatched == self.events:
                line += (
                    " — no event matches its hash: ACCORD_AUDIT_KEY is not the key this chain "
                    "was written with, or the whole chain was rewritten"
                )
            elif self.mismatched > 1:
                line += f" ({self.mismatched} events in all do not match their hash)"
        if self.development_key:
            line += " [public development key: set ACCORD_AUDIT_KEY]"
        return line


class ChainRow(Protocol):
    seq: int
    at: datetime
    actor_id: str
    record_ref: str
    action: str
    before: Any
    after: Any
    note: str | None
    prev_hash: str
    hash: str


def _describe(row: ChainRow) -> str:
    return f"#{row.seq} ({row.action} on {row.record_ref} by {row.actor_id} at {_utc(row.at)[:16]})"


def check_rows(
    rows: Iterable[ChainRow],
    *,
    key: AuditKey,
    stored_head: ChainHead | None,
    published: ChainHead | None = None,
) -> ChainReport:
    """Walk the chain in `seq` order; the first problem found is the one reported."""
    problem: ChainProblem | None = None
    expected, link, count, mismatched = 1, GENESIS_HASH, 0, 0
    published_hash: str | None = None

    def found(seq: int, kind: ProblemKind, message: str) -> None:
        nonlocal problem
        if problem is None:
            problem = ChainProblem(seq, kind, message)

    for row in rows:
        count += 1
        own = event_hash(
            key,
            seq=row.seq,
            at=row.at,
            actor_id=row.actor_id,
            record_ref=row.record_ref,
            action=row.action,
            before=row.before,
            after=row.after,
            note=row.note,
            prev_hash=row.prev_hash,
        )
        signed = hmac.compare_digest(own, row.hash)
        mismatched += not signed
        if row.seq > expected:
            gap = f"#{expected}" if row.seq == expected + 1 else f"#{expected}–#{row.seq - 1}"
            found(expected, "removed", f"event {gap} was removed (the chain jumps to #{row.seq})")
        beyond_head = stored_head is not None and row.seq > stored_head.seq
        if row.seq < expected:
            found(row.seq, "inserted", f"event {_describe(row)} was inserted out of sequence")
        elif not signed and beyond_head:
            found(
                row.seq,
                "inserted",
                f"event {_describe(row)} was inserted: it is past the chain head "
                f"#{stored_head.seq if stored_head else 0} and not signed with the audit key",
            )
        elif not signed:
            found(
                row.seq,
                "changed",
                f"event {_describe(row)} was changed: its content no longer matches its hash",
            )
        elif row.prev_hash != link and row.seq == expected:
            found(
                row.seq - 1,
                "changed",
                f"event #{row.seq - 1} was replaced: event #{row.seq} was written after a "
                "different one",
            )
        if published is not None and row.seq == published.seq:
            published_hash = row.hash
        expected, link = max(expected, row.seq + 1), row.hash
    last = ChainHead(seq=expected - 1, hash=link)
    if stored_head is None:
        found(last.seq, "head", "the chain head record is missing")
    elif stored_head.seq > last.seq:
        removed = f"#{last.seq + 1}" + (
            f"–#{stored_head.seq}" if stored_head.seq > last.seq + 1 else ""
        )
        found(
            last.seq + 1,
            "removed",
            f"event {removed} was removed (the chain head records #{stored_head.seq})",
        )
    elif stored_head.seq < last.seq:
        found(
            stored_head.seq + 1,
            "inserted",
            f"event #{stored_head.seq + 1} was inserted after the chain head #{stored_head.seq}",
        )
    elif stored_head.hash != last.hash:
        found(last.seq, "head", f"the chain head record does not match event #{last.seq}")
    if published is not None:
        if published_hash is None:
            found(
                published.seq,
                "removed",
                f"the published head #{published.seq} is not in the chain (it ends at "
                f"#{last.seq}): events were removed",
            )
        elif not published_hash.startswith(published.hash):
            found(
                published.seq,
                "rewritten",
                f"event #{published.seq} has hash {published_hash[:16]}…, not the published "
                f"{published.hash[:16]}…: the chain was rewritten after that head was published",
            )
    return ChainReport(
        events=count,
        head=last,
        problem=problem,
        mismatched=mismatched,
        development_key=key.development,
    )


def verify_chain(
    session: Session, *, key: AuditKey | None = None, published: ChainHead | None = None
) -> ChainReport:
    """Recompute the whole chain (streamed in `seq` order) with the session's audit key."""
    key = key or audit_key_for(session.connection())
    columns = [
        col(AuditEvent.seq),
        col(AuditEvent.at),
        col(AuditEvent.actor_id),
        col(AuditEvent.record_ref),
        col(AuditEvent.action),
        col(AuditEvent.before),
        col(AuditEvent.after),
        col(AuditEvent.note),
        col(AuditEvent.prev_hash),
        col(AuditEvent.hash),
    ]
    rows = session.execute(
        sql_select(*columns).order_by(col(AuditEvent.seq)).execution_options(yield_per=2000)
    )
    return check_rows(
        rows,
        key=key,
        stored_head=chain_head(session),
        published=published,
    )
