"""Slack side effects of disagreements and escalations: the executive thread and notices.

Escalating follows one order so nothing is half-done:
1. validate and reserve the ESC row (flushed, not committed) in the caller's transaction;
2. post the root message — `NotInChannel` (or any error) propagates, the transaction rolls
   back and nothing is recorded;
3. store channel + ts on the row, mark the disagreement escalated, write the audit trail, and
   commit; if that fails the posted root message is deleted (`chat.delete`) before re-raising.
Reserving first (instead of posting first) gives the brief its ESC number.

Later posts (positions, decisions, reminders) are sent after the change is committed, into
the thread whose channel and ts are read from the row — so a restarted process still threads.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from bot.bootstrap import build_web_client
from bot.domain import escalations as esc
from bot.domain.disagreements import Disagreement
from bot.domain.errors import Conflict
from bot.domain.roles import SIDES, Actor, Role
from bot.services import Services
from bot.slack.blocks import disagreements as render
from bot.slack.blocks.common import Message
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


def notifier_for(services: Services) -> SlackNotifier:
    return SlackNotifier(build_web_client(services.settings))


def escalate(
    session: Session,
    services: Services,
    notifier: SlackNotifier,
    *,
    actor: Actor | None,
    request: esc.EscalationRequest,
    now: datetime,
) -> esc.Escalation:
    channel = services.settings.accord_executive_channel
    if not channel:
        raise Conflict(
            "No executive channel is configured, so nothing was escalated.",
            hint="An admin sets ACCORD_EXECUTIVE_CHANNEL to the channel id (e.g. C0123).",
        )
    executives = services.directory.members(session, Role.EXECUTIVE)
    escalation, disagreement = esc.reserve_escalation(
        session, actor=actor, request=request, executives=executives, now=now
    )
    hold = esc.linked_hold(session, disagreement)
    posted = notifier.post(
        channel, render.brief(disagreement, escalation, hold=hold, today=now.date())
    )
    try:
        esc.attach_thread(
            session,
            escalation,
            disagreement,
            channel_id=posted.channel,
            thread_ts=posted.ts,
            now=now,
        )
        session.commit()
    except Exception:
        log.warning("escalation %s not recorded; deleting its root message", escalation.ref)
        try:
            notifier.client.chat_delete(channel=posted.channel, ts=posted.ts)
        except Exception:
            log.exception("could not delete the orphaned root message %s", posted.ts)
        raise
    tell_sides(
        session,
        services,
        notifier,
        disagreement,
        render.thread_note(
            f":arrow_double_up: *{disagreement.ref}* was escalated to executives as "
            f"*{escalation.ref}*; the decision will be sent to you."
        ),
    )
    return escalation


def in_thread(notifier: SlackNotifier, escalation: esc.Escalation, message: Message) -> None:
    """Reply in the escalation's thread; a failure is logged, the recorded change stands."""
    try:
        notifier.post(escalation.channel_id, message, thread_ts=escalation.thread_ts)
    except Exception:
        log.exception("could not post in the thread of %s", escalation.ref)


def thread_update(
    session: Session, notifier: SlackNotifier, disagreement: Disagreement, message: Message
) -> None:
    """New facts on an escalated disagreement go to its thread (call after commit)."""
    escalation = esc.escalation_for(session, disagreement.id)
    if escalation is not None and escalation.is_open and escalation.thread_ts:
        in_thread(notifier, escalation, message)


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


def tell_sides(
    session: Session,
    services: Services,
    notifier: SlackNotifier,
    disagreement: Disagreement,
    message: Message,
) -> None:
    for person in sorted(side_people(session, services, disagreement)):
        try:
            notifier.direct(person, message)
        except Exception:
            log.exception("could not DM %s about %s", person, disagreement.ref)


def tell_members(
    session: Session, services: Services, notifier: SlackNotifier, side: Role, message: Message
) -> None:
    for person in sorted(services.directory.members(session, side)):
        try:
            notifier.direct(person, message)
        except Exception:
            log.exception("could not DM %s", person)


def announce_decision(
    session: Session,
    services: Services,
    notifier: SlackNotifier,
    escalation: esc.Escalation,
    disagreement: Disagreement,
    actor_id: str,
    now: datetime,
) -> None:
    """After a committed executive answer: the thread, the root message, and both sides."""
    if escalation.state == esc.EscalationState.DECIDED:
        note = render.decision_note(escalation, disagreement)
        in_thread(notifier, escalation, note)
        try:
            root = render.brief(disagreement, escalation, hold=None, today=now.date(), decided=True)
            notifier.client.chat_update(
                channel=escalation.channel_id,
                ts=escalation.thread_ts,
                text=root.text,
                blocks=root.block_dicts(),
            )
        except Exception:
            log.exception("could not update the root message of %s", escalation.ref)
        tell_sides(session, services, notifier, disagreement, note)
    elif escalation.state == esc.EscalationState.MORE_INFO:
        note = render.more_info_note(escalation, actor_id)
        in_thread(notifier, escalation, note)
        tell_sides(session, services, notifier, disagreement, note)
    else:
        note = render.defer_note(escalation, actor_id)
        in_thread(notifier, escalation, note)
        tell_sides(session, services, notifier, disagreement, note)
