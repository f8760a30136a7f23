"""What risk acceptances send to Slack beyond the reply: outbox rows written in the transaction
of the change (see bot/domain/outbox.py), delivered after it commits.

* The approval request (Approve/Reject buttons) goes to the coordination channel, or — when no
  channel is configured — as a DM to every member of both sides except the round's requester.
  Each post is an outbox row about `risk:<id>:round:<n>`; when Slack answers, its channel/ts is
  stored on the round. If the channel cannot be reached (e.g. the bot was never invited) the
  record stays pending and the requester is told how to invite Accord; approvers can still decide
  with `/accord risk approve|reject`. There is deliberately no fallback to DMs: the channel is the
  agreed place for approvals, and a silent change of venue would surprise both sides.
* Every change of a round's record (a decision, a revocation, expiry, a lapse, a newer round)
  updates each posted request in place, so a card always shows its record's current state.
* When a round is accepted or rejected, and when an acceptance is revoked, the requester is told
  by DM (with the reason).
* The export is built in the request and uploaded to the person's DM through the outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.domain import outbox
from bot.domain import risks as service
from bot.domain.risk_export import ExportFormat, export_register
from bot.domain.risks import RiskAcceptance, RiskRound
from bot.domain.roles import SIDES, Actor
from bot.services import Services
from bot.slack import send
from bot.slack.blocks import risks as render
from bot.slack.blocks.common import Message


def where_asked(services: Services) -> str:
    channel = services.settings.accord_coordination_channel
    return f"<#{channel}>" if channel else "a DM to every approver"


def round_subject(risk: RiskAcceptance, round_: int) -> str:
    return f"risk:{risk.id}:round:{round_}"


def _approvers(services: Services, session: Session, risk: RiskAcceptance) -> list[str]:
    requester = risk.round_requester
    return sorted(
        {
            member
            for side in SIDES
            for member in services.directory.members(session, side)
            if member != requester
        }
    )


def request_approval(
    session: Session, services: Services, *, risk: RiskAcceptance, now: datetime
) -> None:
    """Queue the request for the open round, and refresh the previous round's cards."""
    session.flush()
    row = risk.open_round()
    if row is None:
        return
    refresh_round_cards(session, services, risk=risk, round_=row.round - 1, now=now)
    message = render.approval_request(risk, now.date(), row)
    subject = round_subject(risk, row.round)
    summary = f"the approval request of {risk.ref}"
    channel = services.settings.accord_coordination_channel
    if channel:
        send.post(
            session,
            services,
            channel=channel,
            message=message,
            summary=summary,
            subject=subject,
            notify=row.requested_by,
        )
        return
    for member in _approvers(services, session, risk):
        send.post(
            session,
            services,
            channel=member,
            message=message,
            summary=summary,
            subject=subject,
            notify=row.requested_by,
        )


def refresh_round_cards(
    session: Session, services: Services, *, risk: RiskAcceptance, round_: int, now: datetime
) -> None:
    """Show a round's current state on every message that asked for it (chat.update)."""
    row = risk.round_row(round_)
    if row is None:
        return
    session.flush()
    message = render.round_status_message(risk, now.date(), row)
    posts = outbox.posts_for(session, round_subject(risk, round_))
    known = {post.result_ts for post in posts if post.result_ts}
    for post in posts:
        send.update(session, services, target=post, message=message, summary=f"{risk.ref}'s card")
    for legacy in row.messages:  # posted before the outbox existed
        if legacy.get("ts") and legacy["ts"] not in known:
            send.update_ts(
                session,
                services,
                channel=legacy["channel"],
                ts=legacy["ts"],
                message=message,
                summary=f"{risk.ref}'s card",
            )


def announce_decision(
    session: Session,
    services: Services,
    *,
    risk: RiskAcceptance,
    round_: int,
    closed: bool,
    now: datetime,
) -> None:
    """After a decision: update the request and, when this decision closed the round (only one
    decision can), tell the round's requester."""
    refresh_round_cards(session, services, risk=risk, round_=round_, now=now)
    row = risk.round_row(round_)
    if not closed or row is None:
        return
    if row.state not in (service.RoundState.APPROVED, service.RoundState.REJECTED):
        return
    _tell_requester(
        session,
        services,
        risk=risk,
        row=row,
        message=render.outcome_for_requester(risk, now.date(), row),
    )


def announce_closure(
    session: Session, services: Services, *, risk: RiskAcceptance, message: Message, now: datetime
) -> None:
    """A revocation, expiry or lapse: every card of the current round shows it, the
    coordination channel (or the requester) hears of it."""
    refresh_round_cards(session, services, risk=risk, round_=risk.round, now=now)
    channel = services.settings.accord_coordination_channel
    send.post(
        session,
        services,
        channel=channel or risk.requested_by,
        message=message,
        summary=f"the announcement about {risk.ref}",
    )


def tell_requester_of_revocation(
    session: Session, services: Services, *, risk: RiskAcceptance, actor_id: str, message: Message
) -> None:
    if risk.requested_by != actor_id:
        send.post(
            session,
            services,
            channel=risk.requested_by,
            message=message,
            summary=f"the revocation notice of {risk.ref}",
        )


def _tell_requester(
    session: Session, services: Services, *, risk: RiskAcceptance, row: RiskRound, message: Message
) -> None:
    send.post(
        session,
        services,
        channel=row.requested_by,
        message=message,
        summary=f"the outcome of {risk.ref} for its requester",
    )


def queue_export(
    session: Session,
    services: Services,
    *,
    actor: Actor,
    fmt: ExportFormat,
    name: str,
    now: datetime,
) -> None:
    """Build the register now (an audited export) and upload it to the person's DM."""
    workspace = services.workspace
    content = export_register(
        session,
        actor=actor,
        fmt=fmt,
        name=name,
        now=now,
        names=workspace.display_name if workspace is not None else lambda _user: None,
    )
    send.upload(
        session,
        services,
        user_id=actor.user_id,
        filename=name,
        content=content,
        comment="Accord risk register export (all records, full approval history).",
    )


def lead_for_request(ref: str, where: str, *, verb: str = "Requested") -> str:
    return f":white_check_mark: {verb} *{ref}*; approval is asked in {where}."
