"""What a record learns when its message reaches Slack: the channel and ts, stored in the
transaction that marks the outbox row sent (see `bot.domain.outbox.on_sent`).

Subjects name the record: `risk:<id>:round:<n>`, `escalation:<id>:brief`,
`occurrence:<id>:agenda|late`, `digest:<run id>`, `hold:<initiative id>` (a hold's announcement).
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.domain import escalations as esc
from bot.domain import initiatives, risks
from bot.domain import touchpoints as tp
from bot.domain.digest import DigestRun
from bot.domain.outbox import OutboxKind, OutboxMessage, on_given_up, on_permalink, on_sent


def _parts(row: OutboxMessage, count: int) -> list[str] | None:
    parts = (row.subject or "").split(":")
    if len(parts) != count or row.kind != OutboxKind.POST or not row.result_ts:
        return None
    if not parts[1].isdecimal():
        return None
    return parts


@on_sent("risk")
def round_request_posted(session: Session, row: OutboxMessage) -> None:
    """Where a round's approval request was posted, for later updates of its card."""
    parts = _parts(row, 4)
    if parts is None or not parts[3].isdecimal():
        return
    risks.set_round_messages(
        session,
        number=int(parts[1]),
        round_=int(parts[3]),
        messages=[{"channel": str(row.result_channel), "ts": str(row.result_ts)}],
    )


@on_sent("escalation")
def brief_posted(session: Session, row: OutboxMessage) -> None:
    """The brief's ts is the executive thread."""
    parts = _parts(row, 3)
    if parts is None:
        return
    escalation = session.get(esc.Escalation, int(parts[1]))
    if escalation is not None:
        escalation.channel_id = str(row.result_channel or escalation.channel_id)
        escalation.thread_ts = str(row.result_ts)


@on_sent("occurrence")
def agenda_posted(session: Session, row: OutboxMessage) -> None:
    """The agenda is in the channel: the occurrence is posted and its thread is known."""
    parts = _parts(row, 3)
    if parts is None:
        return
    occurrence = session.get(tp.TouchpointOccurrence, int(parts[1]))
    if occurrence is None:
        return
    if occurrence.status != tp.OccurrenceStatus.SKIPPED:  # skipped while it was queued
        late = parts[2] == "late"
        occurrence.status = tp.OccurrenceStatus.POSTED_LATE if late else tp.OccurrenceStatus.POSTED
    occurrence.attempts += 1
    occurrence.channel_id = str(row.result_channel)
    occurrence.message_ts = str(row.result_ts)


@on_given_up("occurrence")
def agenda_given_up(session: Session, row: OutboxMessage) -> None:
    """Slack refused the agenda for good: the meeting is abandoned (the organiser is told by
    the outbox) and its topics wait for the next agenda."""
    parts = (row.subject or "").split(":")
    if len(parts) != 3 or not parts[1].isdecimal():
        return
    occurrence = session.get(tp.TouchpointOccurrence, int(parts[1]))
    if occurrence is None or occurrence.status != tp.OccurrenceStatus.CLAIMED:
        return
    occurrence.status = tp.OccurrenceStatus.ABANDONED
    occurrence.attempts += 1
    occurrence.note = (row.last_error or "unknown")[:300]
    for topic in session.exec(
        select(tp.TouchpointTopic).where(tp.TouchpointTopic.occurrence_id == occurrence.id)
    ):
        topic.occurrence_id = None


@on_sent("digest")
def digest_posted(session: Session, row: OutboxMessage) -> None:
    parts = _parts(row, 2)
    if parts is None:
        return
    run = session.get(DigestRun, int(parts[1]))
    if run is not None:
        run.channel = str(row.result_channel)
        run.ts = str(row.result_ts)


@on_sent("hold")
def hold_announced(session: Session, row: OutboxMessage) -> None:
    """Where the hold's announcement is: later messages about the hold reply in its thread."""
    parts = _parts(row, 2)
    if parts is None or row.id is None:
        return
    initiatives.hold_announcement_posted(
        session,
        number=int(parts[1]),
        message_id=row.id,
        channel=str(row.result_channel),
        ts=str(row.result_ts),
    )


@on_given_up("hold")
def hold_announcement_given_up(session: Session, row: OutboxMessage) -> None:
    parts = (row.subject or "").split(":")
    if len(parts) != 2 or not parts[1].isdecimal() or row.id is None:
        return
    initiatives.hold_announcement_lost(session, number=int(parts[1]), message_id=row.id)


@on_permalink("hold")
def hold_permalink(session: Session, row: OutboxMessage, link: str) -> None:
    """The gate API and GitHub's comments link to the hold's announcement."""
    parts = (row.subject or "").split(":")
    if len(parts) != 2 or not parts[1].isdecimal() or row.id is None:
        return
    initiatives.hold_permalink_known(session, number=int(parts[1]), message_id=row.id, link=link)
