"""Slack side effects of disagreements and escalations: the executive thread and notices.

Every message is an outbox row written in the transaction of the change (bot/domain/outbox.py);
nothing is sent before that transaction commits, and nothing is lost when Slack is down.

Escalating is one transaction: the escalation is recorded (pending), the disagreement marked
escalated, the audit event written, and the brief queued as the root message of the executive
thread (`escalation:<id>:brief`). When Slack answers, the brief's channel/ts is stored on the
escalation. Everything said later goes into that thread (a reply to the brief's outbox row, so
it waits for the brief however late that is), and whenever what the brief shows changes
(positions, facts, options, decision date, state, overdue) the brief is updated in place.
A brief Slack refuses for good (e.g. Accord is not in the channel) is reported to the person
who escalated, and the thread's later notes with it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from bot.domain import escalations as esc
from bot.domain import outbox
from bot.domain.disagreements import Disagreement
from bot.domain.errors import Conflict
from bot.domain.outbox import OutboxMessage
from bot.domain.roles import SIDES, Actor, Role
from bot.services import Services
from bot.slack import send
from bot.slack.blocks import disagreements as render
from bot.slack.blocks.common import Message
from bot.slack.notifier import NotInChannel


def brief_subject(escalation: esc.Escalation) -> str:
    return f"escalation:{escalation.id}:brief"


# --- messages (inside the transaction of the change) ----------------------------------------


def brief_of(
    session: Session, escalation: esc.Escalation, disagreement: Disagreement, today: date
) -> Message:
    # The hold as it is now: still shown after a decision that left it on.
    hold = esc.linked_hold(session, disagreement)
    return render.brief(disagreement, escalation, hold=hold, today=today)


def _brief_row(session: Session, escalation: esc.Escalation) -> OutboxMessage | None:
    return outbox.latest_for(session, brief_subject(escalation))


def escalation_posts(
    session: Session,
    services: Services,
    disagreement: Disagreement,
    note: Message | None,
    *,
    today: date,
    notify: str | None = None,
) -> None:
    """A change on an escalated disagreement: a note in its thread and a refreshed brief."""
    escalation = esc.escalation_for(session, disagreement.id)
    if escalation is None:
        return
    parent = _brief_row(session, escalation)
    if parent is None and not escalation.thread_ts:
        return
    channel = escalation.channel_id
    if note is not None:
        send.reply(
            session,
            services,
            parent=parent,
            channel=channel,
            thread_ts=escalation.thread_ts,
            message=note,
            summary=f"the note in the thread of {escalation.ref}",
            notify=notify,
        )
    root = brief_of(session, escalation, disagreement, today)
    summary = f"the refreshed brief of {escalation.ref}"
    if parent is not None:
        send.update(session, services, target=parent, message=root, summary=summary)
    else:
        send.update_ts(
            session,
            services,
            channel=channel,
            ts=escalation.thread_ts,
            message=root,
            summary=summary,
        )


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


def _direct(
    session: Session, services: Services, people: list[str], message: Message, about: str
) -> None:
    for person in people:
        send.post(
            session, services, channel=person, message=message, summary=f"a note about {about}"
        )


def to_sides(
    session: Session, services: Services, disagreement: Disagreement, message: Message
) -> None:
    people = sorted(side_people(session, services, disagreement))
    _direct(session, services, people, message, disagreement.ref)


def to_members(
    session: Session, services: Services, side: Role, message: Message, *, about: str
) -> None:
    people = sorted(services.directory.members(session, side))
    _direct(session, services, people, message, about)


def decision_posts(
    session: Session,
    services: Services,
    escalation: esc.Escalation,
    disagreement: Disagreement,
    actor_id: str,
    today: date,
) -> None:
    """After an executive answer: the thread, the refreshed root message, and both sides."""
    if escalation.state == esc.EscalationState.DECIDED:
        note = render.decision_note(escalation, disagreement)
    elif escalation.state == esc.EscalationState.MORE_INFO:
        note = render.more_info_note(escalation, actor_id)
    else:
        note = render.defer_note(escalation, actor_id)
    escalation_posts(session, services, disagreement, note, today=today, notify=actor_id)
    to_sides(session, services, disagreement, note)


# --- escalating -----------------------------------------------------------------------------


def escalate(
    session: Session,
    services: Services,
    *,
    actor: Actor | None,
    request: esc.EscalationRequest,
    now: datetime,
) -> esc.Escalation:
    """Record the escalation and queue its brief and the sides' notes, in the caller's
    transaction (see the module docstring)."""
    channel = services.settings.accord_executive_channel
    if not channel:
        raise Conflict(
            "No executive channel is configured, so nothing was escalated.",
            hint="An admin sets ACCORD_EXECUTIVE_CHANNEL to the channel id (e.g. C0123).",
        )
    if services.workspace is not None and services.workspace.is_member(channel) is False:
        raise NotInChannel(channel)
    directory = services.directory
    # Who can decide at all: executives on neither side (`to:`/`delegate:` must name one).
    executives = directory.members(session, Role.EXECUTIVE) - (
        directory.members(session, Role.CIO) | directory.members(session, Role.CISO)
    )
    reserved, disagreement = esc.reserve_escalation(
        session, actor=actor, request=request, executives=executives, now=now
    )
    assert reserved.id is not None
    escalation, disagreement = esc.attach_thread(
        session, number=reserved.id, channel_id=channel, thread_ts="", now=now
    )
    send.post(
        session,
        services,
        channel=channel,
        message=brief_of(session, escalation, disagreement, now.date()),
        summary=f"the brief of {escalation.ref}",
        subject=brief_subject(escalation),
        notify=actor.user_id if actor else None,
    )
    note = render.thread_note(
        f":arrow_double_up: *{disagreement.ref}* was escalated to executives as "
        f"*{escalation.ref}*; the decision will be sent to you."
    )
    to_sides(session, services, disagreement, note)
    return escalation
