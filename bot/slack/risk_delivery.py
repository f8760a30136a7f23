"""What risk acceptances send to Slack beyond the reply: approval requests and export files."""

from __future__ import annotations

import logging
import threading
from datetime import date

from sqlmodel import Session

from bot.bootstrap import build_web_client
from bot.domain.risks import RiskAcceptance
from bot.domain.roles import SIDES
from bot.services import Services
from bot.slack.blocks import risks as render
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


def notifier_for(services: Services) -> SlackNotifier:
    return SlackNotifier(build_web_client(services.settings))


def request_approvals(
    services: Services,
    session: Session,
    risk: RiskAcceptance,
    *,
    today: date,
    renewal: bool = False,
) -> str:
    """Post the Approve/Reject message, inside the caller's transaction.

    Goes to the coordination channel, or (when none is set) as a DM to every member of both
    sides except the requester. A channel the bot is not in raises `NotInChannel`, which rolls
    the whole change back. Returns where it went, for the reply.
    """
    message = render.approval_request(risk, today, renewal=renewal)
    notifier = notifier_for(services)
    channel = services.settings.accord_coordination_channel
    if channel:
        notifier.post(channel, message)
        return f"<#{channel}>"
    people = sorted(
        {
            member
            for side in SIDES
            for member in services.directory.members(session, side)
            if member != risk.requested_by
        }
    )
    for person in people:
        notifier.direct(person, message)
    return f"{len(people)} approvers by DM"


def upload_in_background(services: Services, *, user_id: str, content: str, filename: str) -> None:
    """Upload a file to the person's DM after the command has been acknowledged."""

    def upload() -> None:
        client = build_web_client(services.settings)
        try:
            dm = client.conversations_open(users=user_id)
            channel = str(dm["channel"]["id"])
            client.files_upload_v2(
                channel=channel,
                content=content,
                filename=filename,
                title=filename,
                initial_comment="Accord risk register export (all records, full approval history).",
            )
        except Exception:
            log.exception("risk export upload failed for %s", user_id)

    threading.Thread(target=upload, name="risk-export", daemon=True).start()
