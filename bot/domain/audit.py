"""The audit trail: every change to a record, with who, what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_id: str = Field(max_length=32)
    record_ref: str = Field(index=True, max_length=32)
    action: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    note: str | None = Field(default=None, max_length=4000)


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
    query = query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query))
