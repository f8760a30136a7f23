"""Telling people about a change that concerns them, in the change's own transaction.

A use case calls `tell(...)` while it changes a record; the notices wait in the session and the
adapter turns them into direct messages through the outbox just before the unit of work commits
(bot/slack/notices.py), so a notice leaves exactly when its change is committed, and never for a
change that was rolled back. Nobody is told about their own change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

_KEY = "accord_notices"


@dataclass(frozen=True)
class Notice:
    """One direct message: `text` may name people with `errors.person()`; record text the
    user typed (titles, reasons) is escaped by the adapter like any other user text."""

    to: str
    actor_id: str
    record_ref: str
    text: str
    detail: str | None = None


def tell(
    session: Session,
    *,
    to: Iterable[str | None],
    actor_id: str,
    record_ref: str,
    text: str,
    detail: str | None = None,
) -> None:
    """Queue `text` for each of `to` but the actor (one notice per person)."""
    waiting: list[Notice] = session.info.setdefault(_KEY, [])
    already = {(notice.to, notice.record_ref, notice.text) for notice in waiting}
    for user_id in dict.fromkeys(u for u in to if u and u != actor_id):
        if (user_id, record_ref, text) not in already:
            waiting.append(Notice(user_id, actor_id, record_ref, text, detail))


def take(session: Session) -> list[Notice]:
    """The notices waiting in `session`, removed from it (the adapter sends each once)."""
    waiting: list[Notice] = session.info.pop(_KEY, [])
    return waiting


def quoted(text: str, limit: int = 80) -> str:
    """A record's title inside a sentence: “Rotate the VPN keys”."""
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"
