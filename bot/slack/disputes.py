"""Slack side effects of disagreements and escalations: the executive thread and notices.

No Slack call runs while a database transaction is open. Changes prepare their posts in an
`Outbox` while the transaction is open (rendering may read the database), then the caller
commits and sends it; commands return `Deferred` so the sending happens after the ack.

Escalating (see bot/domain/escalations.py) is two transactions around one post:
1. validate and reserve the ESC row in state `posting`, render the brief, commit;
2. post the root message with no transaction open — if that fails (`NotInChannel` or any
   error) the reservation is deleted and committed, so nothing is half-done, and the error
   reaches the person (with the `/invite` explanation);
3. store channel + ts, make the escalation pending and the disagreement escalated, write the
   audit trail, commit; if that fails the root message is deleted and the reservation too.
A crash between 1 and 3 leaves a `posting` row: after `RESERVATION_STALE` the deadlines job
deletes it (the disagreement is still open), and escalating again replaces it.

Whenever what the brief shows changes (positions, facts, options, decision date, state,
overdue), the root message is re-rendered with chat.update from the stored channel/ts, so
its buttons and labels are current; a note also goes into the thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from bot.bootstrap import build_web_client
from bot.domain import escalations as esc
from bot.domain.disagreements import Disagreement
from bot.domain.errors import Conflict
from bot.domain.roles import SIDES, Actor, Role
from bot.services import Services
from bot.slack.blocks import disagreements as render
from bot.slack.blocks.common import Message, user
from bot.slack.blocks.errors import notice
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


def notifier_for(services: Services) -> SlackNotifier:
    return SlackNotifier(build_web_client(services.settings))


@dataclass
class Outbox:
    """Slack posts prepared inside a transaction, sent after it is committed."""

    #: (channel, thread_ts, message, escalation ref)
    thread: list[tuple[str, str, Message, str]] = field(default_factory=list)
    #: (channel, root ts, message, escalation ref) — chat.update of the brief
    roots: list[tuple[str, str, Message, str]] = field(default_factory=list)
    #: (user id, message)
    direct: list[tuple[str, Message]] = field(default_factory=list)

    def add(self, other: Outbox) -> Outbox:
        self.thread += other.thread
        self.roots += other.roots
        self.direct += other.direct
        return self

    def send(self, notifier: SlackNotifier) -> list[str]:
        """Send everything; each failure is logged and described for the person who acted."""
        problems: list[str] = []
        for channel, ts, message, ref in self.thread:
            try:
                notifier.post(channel, message, thread_ts=ts)
            except Exception:
                log.exception("could not post in the thread of %s", ref)
                problems.append(f"the note in the thread of {ref}")
        for channel, ts, message, ref in self.roots:
            try:
                notifier.client.chat_update(
                    channel=channel, ts=ts, text=message.text, blocks=message.block_dicts()
                )
            except Exception:
                log.exception("could not refresh the brief of %s", ref)
                problems.append(f"the refreshed brief of {ref}")
        for person, message in self.direct:
            try:
                notifier.direct(person, message)
            except Exception:
                log.exception("could not send a direct message to %s", person)
                problems.append(f"a direct message to {user(person)}")
        return problems

    def deliver(self, notifier: SlackNotifier) -> Message | None:
        """Send, and return what the person who acted should privately know (or None)."""
        return report(self.send(notifier))


def report(problems: list[str]) -> Message | None:
    if not problems:
        return None
    return notice(
        ":warning: Your change is saved, but Slack did not take "
        + ", ".join(problems)
        + ". Tell them yourself, or try again later."
    )


def commit_and_send(session: Session, notifier: SlackNotifier, outbox: Outbox) -> Message | None:
    """For buttons and forms: end the transaction, then post."""
    session.commit()
    return outbox.deliver(notifier)


# --- preparing posts (inside the transaction) ----------------------------------------------


def brief_of(
    session: Session, escalation: esc.Escalation, disagreement: Disagreement, today: date
) -> Message:
    undecided = escalation.is_open or escalation.state == esc.EscalationState.POSTING
    hold = esc.linked_hold(session, disagreement) if undecided else None
    return render.brief(disagreement, escalation, hold=hold, today=today)


def escalation_posts(
    session: Session, disagreement: Disagreement, note: Message | None, *, today: date
) -> Outbox:
    """A change on an escalated disagreement: a note in its thread and a refreshed brief."""
    outbox = Outbox()
    escalation = esc.escalation_for(session, disagreement.id)
    if escalation is None or not escalation.thread_ts:
        return outbox
    if note is not None:
        outbox.thread.append((escalation.channel_id, escalation.thread_ts, note, escalation.ref))
    root = brief_of(session, escalation, disagreement, today)
    outbox.roots.append((escalation.channel_id, escalation.thread_ts, root, escalation.ref))
    return outbox


def side_people(session: Session, services: Services, disagreement: Disagreement) -> set[str]:
    """Who speaks for each side: the position's author, or every member of a silent side."""
    people = {disagreement.raised_by}
    for side in SIDES:
        author = disagreement.author(side)
        if author:
            people.add(author)
        else:
            people |= set(services.directory.members(session, side))
    return {person for person in people if person.startswith(("U", "W"))}


def to_sides(
    session: Session, services: Services, disagreement: Disagreement, message: Message
) -> Outbox:
    people = sorted(side_people(session, services, disagreement))
    return Outbox(direct=[(person, message) for person in people])


def to_members(session: Session, services: Services, side: Role, message: Message) -> Outbox:
    people = sorted(services.directory.members(session, side))
    return Outbox(direct=[(person, message) for person in people])


def decision_posts(
    session: Session,
    services: Services,
    escalation: esc.Escalation,
    disagreement: Disagreement,
    actor_id: str,
    today: date,
) -> Outbox:
    """After an executive answer: the thread, the refreshed root message, and both sides."""
    if escalation.state == esc.EscalationState.DECIDED:
        note = render.decision_note(escalation, disagreement)
    elif escalation.state == esc.EscalationState.MORE_INFO:
        note = render.more_info_note(escalation, actor_id)
    else:
        note = render.defer_note(escalation, actor_id)
    outbox = escalation_posts(session, disagreement, note, today=today)
    return outbox.add(to_sides(session, services, disagreement, note))


# --- escalating -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalated:
    ref: str
    channel_id: str
    #: Anything Slack did not take after the escalation was recorded (for the person).
    problems: list[str]


def escalate(
    session: Session,
    services: Services,
    notifier: SlackNotifier,
    *,
    actor: Actor | None,
    request: esc.EscalationRequest,
    now: datetime,
) -> Escalated:
    """Reserve, post, record — see the module docstring. `session` is committed here."""
    channel = services.settings.accord_executive_channel
    if not channel:
        raise Conflict(
            "No executive channel is configured, so nothing was escalated.",
            hint="An admin sets ACCORD_EXECUTIVE_CHANNEL to the channel id (e.g. C0123).",
        )
    executives = services.directory.members(session, Role.EXECUTIVE)
    reserved, disagreement = esc.reserve_escalation(
        session, actor=actor, request=request, executives=executives, now=now
    )
    number, ref = reserved.id, reserved.ref
    assert number is not None
    root = brief_of(session, reserved, disagreement, now.date())
    session.commit()  # 1: the reservation (state `posting`)
    try:
        posted = notifier.post(channel, root)  # 2: no transaction is open
    except Exception:
        _release(session, number)
        raise
    try:
        escalation, disagreement = esc.attach_thread(  # 3
            session, number=number, channel_id=posted.channel, thread_ts=posted.ts, now=now
        )
        note = render.thread_note(
            f":arrow_double_up: *{disagreement.ref}* was escalated to executives as "
            f"*{escalation.ref}*; the decision will be sent to you."
        )
        dms = to_sides(session, services, disagreement, note)
        session.commit()
    except Exception:
        session.rollback()
        log.warning("escalation %s not recorded; deleting its root message", ref)
        try:
            notifier.client.chat_delete(channel=posted.channel, ts=posted.ts)
        except Exception:
            log.exception("could not delete the orphaned root message %s", posted.ts)
        _release(session, number)
        raise
    return Escalated(ref=ref, channel_id=posted.channel, problems=dms.send(notifier))


def _release(session: Session, number: int) -> None:
    """Undo step 1 in its own committed transaction (the caller's error then propagates)."""
    try:
        session.rollback()
        esc.release_reservation(session, number=number)
        session.commit()
    except Exception:
        session.rollback()
        log.exception(
            "could not release the reservation of ESC-%s; the deadlines job will clean it", number
        )
