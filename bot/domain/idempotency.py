"""Slack may deliver the same request twice; a persisted key makes the second one a no-op."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel


class ProcessedRequest(SQLModel, table=True):
    __tablename__ = "processed_request"

    key: str = Field(primary_key=True, max_length=255)
    at: datetime


def claim_request(session: Session, *, key: str, at: datetime) -> bool:
    """Claim `key` in the caller's transaction; False when it was already processed.

    A concurrent duplicate that slips past the check fails on the primary key at commit,
    which rolls its whole unit of work back.
    """
    if session.get(ProcessedRequest, key) is not None:
        return False
    session.add(ProcessedRequest(key=key[:255], at=at))
    session.flush()
    return True
