"""The audit trail: every change to a record, with who, what, when, before and after.

Events form one keyed hash chain (`bot.domain.audit_chain`): when a session flushes new events
it takes the chain head, numbers them (`seq`) and signs each with the previous one's hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, Integer, String, Table, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, col, select


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    # AUTOINCREMENT: SQLite never hands out the id of a deleted newest row again.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    #: Position in the chain, 1, 2, 3, … with no gaps; set at flush (see audit_chain).
    seq: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=False, unique=True, index=True)
    )
    at: datetime = Field(index=True)
    actor_id: str = Field(max_length=32)
    record_ref: str = Field(index=True, max_length=32)
    action: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    note: str | None = Field(default=None, max_length=4000)
    #: HMAC-SHA256 (hex) of the previous event, and of this event's content with that hash.
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=False))
    hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=False))


class AuditChainHead(SQLModel, table=True):
    """The one row naming the newest event of the chain: appending locks it first, so writers
    append one after another, and it shows when the newest events were deleted."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(sa_column=Column(String(64), nullable=False))


#: The "previous hash" of the first event.
GENESIS_HASH = "0" * 64


def _first_head(target: Table, connection: Connection, **_: Any) -> None:
    """A schema made without the migrations (metadata.create_all) gets its head row too."""
    connection.execute(target.insert().values(id=1, seq=0, hash=GENESIS_HASH))


event.listen(SQLModel.metadata.tables["audit_chain_head"], "after_create", _first_head)


@event.listens_for(OrmSession, "before_flush")  # every ORM session, SQLModel's included
def _chain_new_events(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Every new event, however it was added, joins the chain as it is written."""
    new = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if new:
        from bot.domain.audit_chain import append_to_chain

        append_to_chain(session, new)


def record_event(
    session: Session,
    *,
    at: datetime,
    actor_id: str,
    record_ref: str,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction, so the change and its trace commit together."""
    event = AuditEvent(
        at=at,
        actor_id=actor_id,
        record_ref=record_ref,
        action=action,
        before=before,
        after=after,
        note=note,
    )
    session.add(event)
    return event


def changed_fields(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, so the trail shows what actually changed."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def list_events(
    session: Session, *, record_ref: str | None = None, limit: int = 20, offset: int = 0
) -> list[AuditEvent]:
    """Newest first; optionally for one record."""
    query = select(AuditEvent)
    if record_ref:
        query = query.where(AuditEvent.record_ref == record_ref)
    query = query.order_by(col(AuditEvent.seq).desc()).offset(offset).limit(limit)
    return list(session.exec(query))
