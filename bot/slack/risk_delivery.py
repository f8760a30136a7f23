"""What risk acceptances send to Slack beyond the reply, always AFTER the change is committed.

* The approval request (Approve/Reject buttons) goes to the coordination channel, or — when no
  channel is configured — as a DM to every member of both sides except the round's requester.
  Where it went is stored on the round, so the message can be updated when the round is decided.
  If the channel cannot be reached (e.g. the bot was never invited) the record stays pending and
  the requester is told how to invite Accord; approvers can still decide with
  `/accord risk approve|reject`. There is deliberately no fallback to DMs: the channel is the
  agreed place for approvals, and a silent change of venue would surprise both sides.
* A decision updates the posted request (who approved, buttons removed once decided) and, when a
  round is accepted or rejected, tells the round's requester by DM (with the reason).
* The export is built and uploaded after the ack; a failure is reported to the person.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.db import session_scope
from bot.domain import risks as service
from bot.domain.risk_export import ExportFormat, export_risks
from bot.domain.risks import RiskAcceptance
from bot.domain.roles import SIDES
from bot.services import Services
from bot.slack.blocks import risks as render
from bot.slack.blocks.common import Message, user
from bot.slack.blocks.errors import notice
from bot.slack.notifier import NotInChannel, SlackNotifier

log = logging.getLogger(__name__)


def where_asked(services: Services) -> str:
    channel = services.settings.accord_coordination_channel
    return f"<#{channel}>" if channel else "a DM to every approver"


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


def post_approval_request(
    services: Services, notifier: SlackNotifier, *, number: int, round_: int
) -> Message | None:
    """Post the request for one round (after its commit); a problem comes back as a message."""
    with session_scope(services.engine) as session:
        risk = service.get_risk(session, number=number)
        row = risk.round_row(round_)
        if row is None or risk.open_round() is not row:
            return None  # decided, superseded or changed before we got here
        today = services.clock.now().date()
        message = render.approval_request(risk, today, row)
        ref = risk.ref
        people = _approvers(services, session, risk)
    refresh_round_messages(services, notifier, number=number, round_=round_ - 1)
    channel = services.settings.accord_coordination_channel
    posted: list[dict[str, str]] = []
    problem: Message | None = None
    if channel:
        try:
            done = notifier.post(channel, message)
            posted.append({"channel": done.channel, "ts": done.ts})
        except NotInChannel:
            problem = notice(
                f":warning: *{ref}* is saved and stays pending, but Accord is not a member of "
                f"<#{channel}>, so the approval request was not posted there. Open that channel "
                "and type `/invite @Accord`. Meanwhile approvers can decide with "
                f"`/accord risk approve {ref}` or `/accord risk reject {ref} <reason>`."
            )
        except SlackApiError as error:
            log.warning("approval request for %s failed: %s", ref, error.response.get("error"))
            problem = notice(
                f":warning: *{ref}* is saved and stays pending, but the approval request could "
                f"not be posted in <#{channel}>. Approvers can decide with "
                f"`/accord risk approve {ref}` or `/accord risk reject {ref} <reason>`."
            )
    else:
        missed: list[str] = []
        for member in people:
            try:
                done = notifier.direct(member, message)
                posted.append({"channel": done.channel, "ts": done.ts})
            except Exception:
                log.exception("could not DM %s the approval request for %s", member, ref)
                missed.append(member)
        if missed:
            names = ", ".join(user(m) for m in missed)
            problem = notice(
                f":warning: *{ref}* is saved and pending, but the approval request did not reach "
                f"{names}. They can still decide with `/accord risk approve {ref}`."
            )
    if posted:
        with session_scope(services.engine) as session:
            service.set_round_messages(session, number=number, round_=round_, messages=posted)
    return problem


def refresh_round_messages(
    services: Services, notifier: SlackNotifier, *, number: int, round_: int
) -> None:
    """Show a round's current state on every message that asked for it (chat.update)."""
    with session_scope(services.engine) as session:
        risk = service.get_risk(session, number=number)
        row = risk.round_row(round_)
        if row is None or not row.messages:
            return
        message = render.round_status_message(risk, services.clock.now().date(), row)
        targets = [(m["channel"], m["ts"]) for m in row.messages]
    for channel, ts in targets:
        try:
            notifier.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.block_dicts()
            )
        except SlackApiError as error:
            log.warning("could not update %s/%s: %s", channel, ts, error.response.get("error"))


def announce_decision(
    services: Services, notifier: SlackNotifier, *, number: int, round_: int, closed: bool
) -> Message | None:
    """After a decision is committed: update the request and, when this decision closed the
    round (only one decision can), tell the round's requester."""
    refresh_round_messages(services, notifier, number=number, round_=round_)
    if not closed:
        return None
    with session_scope(services.engine) as session:
        risk = service.get_risk(session, number=number)
        row = risk.round_row(round_)
        if row is None or row.state not in (
            service.RoundState.APPROVED,
            service.RoundState.REJECTED,
        ):
            return None
        outcome = render.outcome_for_requester(risk, services.clock.now().date(), row)
        requester = row.requested_by
    try:
        notifier.direct(requester, outcome)
    except Exception:
        log.exception("could not tell %s about the decision on RSK-%s", requester, number)
    return None


def upload_export(
    services: Services, notifier: SlackNotifier, *, user_id: str, fmt: ExportFormat, name: str
) -> Message | None:
    """Build the register and upload it to the person's DM (after the ack)."""
    with session_scope(services.engine) as session:
        content = export_risks(session, fmt)
    client = notifier.client
    try:
        dm = client.conversations_open(users=user_id)
        channel = str(dm["channel"]["id"])
        client.files_upload_v2(
            channel=channel,
            content=content,
            filename=name,
            title=name,
            initial_comment="Accord risk register export (all records, full approval history).",
        )
    except SlackApiError as error:
        log.warning("risk export upload failed for %s: %s", user_id, error.response.get("error"))
        return notice(
            f":warning: The export `{name}` could not be uploaded "
            f"(Slack said `{error.response.get('error')}`). Nothing was shared; try again, or "
            "ask an admin to run `accord export risks`."
        )
    return notice(f":page_facing_up: `{name}` is in your DM with Accord.")


def lead_for_request(ref: str, where: str, *, verb: str = "Requested") -> str:
    return f":white_check_mark: {verb} *{ref}*; approval is asked in {where}."
