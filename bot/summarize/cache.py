"""Summaries cached by the content they were made from, so unchanged input is never resent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from bot.db import session_scope

LOOKUP_BATCH = 500


class SummaryCacheEntry(SQLModel, table=True):
    __tablename__ = "summary_cache"

    content_hash: str = Field(primary_key=True, max_length=64)
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model: str = Field(max_length=100)
    prompt_version: str = Field(max_length=100)
    created_at: datetime


class SummaryCache:
    """Reads and writes in their own short transactions (never around an LLM call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_many(self, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, dict[str, Any]] = {}
        with session_scope(self.engine) as session:
            for start in range(0, len(wanted), LOOKUP_BATCH):
                batch = wanted[start : start + LOOKUP_BATCH]
                rows = session.exec(
                    select(SummaryCacheEntry).where(col(SummaryCacheEntry.content_hash).in_(batch))
                )
                found.update({row.content_hash: row.summary for row in rows})
        return found

    def put_many(
        self,
        entries: dict[str, dict[str, Any]],
        *,
        model: str,
        prompt_version: str,
        at: datetime,
    ) -> None:
        for content_hash, summary in entries.items():
            try:
                with session_scope(self.engine) as session:
                    if session.get(SummaryCacheEntry, content_hash) is None:
                        session.add(
                            SummaryCacheEntry(
                                content_hash=content_hash,
                                summary=summary,
                                model=model,
                                prompt_version=prompt_version,
                                created_at=at,
                            )
                        )
            except IntegrityError:  # another process cached the same content meanwhile
                continue
