"""What the gate and holds announce, queued in the change's own transaction.

Like `bot.domain.notices.tell`, a use case calls `announce(...)` while it changes a record; the
adapter (bot/slack/gate_delivery.py) turns the waiting events into outbox rows just before the
unit of work commits, so an announcement leaves exactly when its change is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

_KEY = "accord_gate_events"


@dataclass(frozen=True)
class HoldPlaced:
    number: int


@dataclass(frozen=True)
class HoldReleased:
    """The thread of the hold that ended (its fields are cleared on the record)."""

    number: int
    actor_id: str
    reason: str
    via: str | None
    message_id: int | None
    channel: str | None
    ts: str | None


@dataclass(frozen=True)
class HoldCoversChanged:
    """What a hold blocks changed while it is on (the initiative's covered systems)."""

    number: int
    actor_id: str


@dataclass(frozen=True)
class DeploymentBlocked:
    check_id: int
    #: The same deployment asked again (a redelivered webhook, a pipeline retrying) has the
    #: same key and is posted once per hold; None: every check is a deployment of its own.
    deployment_key: str | None
    requested_by: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class OverrideGranted:
    override_id: int


GateEvent = HoldPlaced | HoldReleased | HoldCoversChanged | DeploymentBlocked | OverrideGranted


def announce(session: Session, event: GateEvent) -> None:
    session.info.setdefault(_KEY, []).append(event)


def take(session: Session) -> list[GateEvent]:
    """The events waiting in `session`, removed from it (the adapter sends each once)."""
    waiting: list[GateEvent] = session.info.pop(_KEY, [])
    return waiting
