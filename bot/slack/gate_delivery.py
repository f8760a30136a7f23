"""What holds and the deployment gate send to Slack: outbox rows written in the transaction of
the change (see bot/domain/gate/announcements.py), delivered after it commits.

* A hold is announced in the coordination channel with what it blocks (subject `hold:<id>`);
  when Slack has it, its channel, ts and permalink are kept on the initiative, and everything
  later about that hold replies in its thread.
* Each blocked deployment is one reply per held initiative and deployment: a redelivered GitHub
  webhook or a pipeline asking again about the same run finds its reply (by subject) and adds none.
* The release replies in the thread, and so does a change of what the held initiative covers.
* An override (break glass) replies in the thread, is posted in the executive channel, and each
  CISO-side member (user groups resolved) is told by DM.
Without a coordination channel, holds are told to the owners by DM only (bot/domain/notices).
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.db import lock_key
from bot.domain import outbox
from bot.domain.gate.announcements import (
    DeploymentBlocked,
    GateEvent,
    HoldCoversChanged,
    HoldPlaced,
    HoldReleased,
    OverrideGranted,
    take,
)
from bot.domain.gate.models import GateCheck
from bot.domain.gate.overrides import GateOverride
from bot.domain.initiatives import Initiative, set_hold_announcement
from bot.domain.outbox import OutboxMessage
from bot.domain.refs import Kind, parse_ref
from bot.domain.roles import Role
from bot.services import Services
from bot.slack import send
from bot.slack.blocks import gate as render
from bot.slack.blocks.common import Message


def hold_subject(number: int) -> str:
    return f"hold:{number}"


def queue_gate_messages(session: Session, services: Services) -> int:
    """Queue what the change announced, in its transaction; how many events there were."""
    events = take(session)
    for event in events:
        _queue(session, services, event)
    return len(events)


def _queue(session: Session, services: Services, event: GateEvent) -> None:
    if isinstance(event, HoldPlaced):
        _hold_placed(session, services, event)
    elif isinstance(event, HoldReleased):
        _hold_released(session, services, event)
    elif isinstance(event, HoldCoversChanged):
        _hold_covers_changed(session, services, event)
    elif isinstance(event, DeploymentBlocked):
        _deployment_blocked(session, services, event)
    else:
        _override_granted(session, services, event)


def _hold_placed(session: Session, services: Services, event: HoldPlaced) -> None:
    channel = services.settings.accord_coordination_channel
    initiative = session.get(Initiative, event.number)
    if not channel or initiative is None:
        return
    row = send.post(
        session,
        services,
        channel=channel,
        message=render.hold_announcement(initiative),
        summary=f"the security hold announcement of {initiative.ref}",
        subject=hold_subject(event.number),
        notify=initiative.hold_by,
        permalink=True,
    )
    assert row.id is not None
    set_hold_announcement(session, number=event.number, message_id=row.id)


def _in_hold_thread(
    session: Session,
    services: Services,
    *,
    message_id: int | None,
    channel: str | None,
    ts: str | None,
    message: Message,
    summary: str,
    subject: str | None = None,
) -> None:
    """A reply in the hold's thread; a post in the coordination channel when it has none."""
    coordination = services.settings.accord_coordination_channel
    parent = session.get(OutboxMessage, message_id) if message_id is not None else None
    if parent is not None and parent.state == outbox.OutboxState.FAILED:
        parent = None
    if parent is not None or (channel and ts):
        send.reply(
            session,
            services,
            parent=parent,
            channel=str(channel),
            thread_ts=ts,
            message=message,
            summary=summary,
            subject=subject,
        )
    elif coordination:
        send.post(
            session,
            services,
            channel=coordination,
            message=message,
            summary=summary,
            subject=subject,
        )


def _hold_released(session: Session, services: Services, event: HoldReleased) -> None:
    initiative = session.get(Initiative, event.number)
    if initiative is None:
        return
    _in_hold_thread(
        session,
        services,
        message_id=event.message_id,
        channel=event.channel,
        ts=event.ts,
        message=render.hold_released(
            initiative, actor_id=event.actor_id, reason=event.reason, via=event.via
        ),
        summary=f"the release of the hold on {initiative.ref}",
    )


def _hold_covers_changed(session: Session, services: Services, event: HoldCoversChanged) -> None:
    initiative = session.get(Initiative, event.number)
    if initiative is None:
        return
    _in_hold_thread(
        session,
        services,
        message_id=initiative.hold_message_id,
        channel=initiative.hold_channel,
        ts=initiative.hold_ts,
        message=render.hold_covers_changed(initiative, actor_id=event.actor_id),
        summary=f"what the hold on {initiative.ref} blocks now",
    )


def _deployment_blocked(session: Session, services: Services, event: DeploymentBlocked) -> None:
    check = session.get(GateCheck, event.check_id)
    if check is None:
        return
    for ref in check.held_by:
        if event.deployment_key:
            # Two deliveries of one deployment at once (a webhook redelivered, a pipeline
            # asking again): a lock per held initiative serialises them; the second sees the first's
            # post below and adds none.
            lock_key(session, f"gatecheck:{ref}")
        # plain columns: on a deployment's path, and the record's tags and covers are not needed
        found = session.exec(
            select(Initiative.hold_message_id, Initiative.hold_channel, Initiative.hold_ts).where(
                Initiative.id == parse_ref(ref, Kind.INITIATIVE)
            )
        ).first()
        if found is None:
            continue
        message_id, channel, ts = found
        subject = None
        if event.deployment_key:
            subject = f"gatecheck:{ref}:{message_id or 0}:{event.deployment_key}"
            if outbox.has_subject(session, subject):
                continue  # this deployment is already in the hold's thread
        _in_hold_thread(
            session,
            services,
            message_id=message_id,
            channel=channel,
            ts=ts,
            message=render.deployment_blocked(
                check, ref=ref, requested_by=event.requested_by, git_ref=event.ref
            ),
            summary=f"the blocked deployment {check.ref} in the thread of {ref}",
            subject=subject,
        )


def _override_granted(session: Session, services: Services, event: OverrideGranted) -> None:
    override = session.get(GateOverride, event.override_id)
    initiative = session.get(Initiative, override.initiative_id) if override else None
    if override is None or initiative is None:
        return
    message = render.override_announcement(override, title=initiative.title)
    summary = f"the override on {initiative.ref}"
    _in_hold_thread(
        session,
        services,
        message_id=initiative.hold_message_id,
        channel=initiative.hold_channel,
        ts=initiative.hold_ts,
        message=message,
        summary=summary,
    )
    executive = services.settings.accord_executive_channel
    if executive:
        send.post(
            session,
            services,
            channel=executive,
            message=message,
            summary=summary,
            notify=override.granted_by,
        )
    for member in sorted(services.directory.members(session, Role.CISO) - {override.granted_by}):
        send.post(session, services, channel=member, message=message, summary=summary)
