"""Break glass: an executive lets one service@environment through a hold for a short time.

The exception is a row with an expiry; the gate reads it at every check, so it ends by itself
at that instant, with no job to run. It is announced (the hold's thread, the executive channel,
each CISO-side member) through `announcements`, by the adapter, in the same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel

from bot.domain.audit import record_event
from bot.domain.errors import Conflict, InvalidInput
from bot.domain.gate.announcements import OverrideGranted, announce
from bot.domain.gate.coverage import (
    ENVIRONMENT_MAX,
    EVERY_ENVIRONMENT,
    SERVICE_MAX,
    Coverage,
    parse_coverage,
)
from bot.domain.initiatives import REASON_MAX, get_initiative
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.roles import Actor
from bot.domain.validation import bounded_text

#: The longest exception one decision can grant.
OVERRIDE_MAX = timedelta(hours=72)
_DURATION = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class GateOverride(SQLModel, table=True):
    __tablename__ = "gate_override"

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiative.id", index=True)
    service: str = Field(max_length=SERVICE_MAX)
    environment: str = Field(max_length=ENVIRONMENT_MAX)
    reason: str = Field(max_length=REASON_MAX)
    granted_by: str = Field(max_length=32)
    granted_at: datetime
    expires_at: datetime = Field(index=True)


def parse_duration(text: str) -> timedelta:
    """`90m`, `2h`, `1d`: at most 72 hours."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(
            f"`{text[:20]}` is not a duration.", hint="e.g. `90m`, `2h` or `1d`", field="duration"
        )
    duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < duration <= OVERRIDE_MAX:
        raise InvalidInput(
            "An override lasts more than nothing and at most 72 hours.", field="duration"
        )
    return duration


def grant_override(
    session: Session,
    *,
    actor: Actor,
    number: int,
    target: str,
    duration: timedelta,
    reason: str,
    now: datetime,
) -> GateOverride:
    """Let exactly `target` (one service@environment) through the hold on INI-n until then."""
    ensure_allowed(actor, Permission.GATE_OVERRIDE)
    reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    cover = parse_coverage(target, field="target")
    if cover.environment == EVERY_ENVIRONMENT:
        raise InvalidInput(
            "An override is for one environment, not `*`.",
            hint="e.g. `/accord gate override INI-3 payments-api@production 2h <reason>`",
            field="target",
        )
    # Locked: a release committing at the same moment cannot slip between the check and the
    # override (the release locks the same row).
    initiative = get_initiative(session, number=number, lock=True)
    if not initiative.on_hold:
        raise Conflict(f"{initiative.ref} is not on security hold; nothing to override.")
    wildcard = Coverage(cover.service, EVERY_ENVIRONMENT)
    if cover not in initiative.covers and wildcard not in initiative.covers:
        raise Conflict(
            f"{initiative.ref} does not cover `{cover}`, so its hold does not stop it.",
            hint=f"`/accord initiative show {initiative.ref}` lists what it covers.",
        )
    override = GateOverride(
        initiative_id=number,
        service=cover.service,
        environment=cover.environment,
        reason=reason,
        granted_by=actor.user_id,
        granted_at=now,
        expires_at=now + duration,
    )
    session.add(override)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        action="gate.override_granted",
        after={"target": str(cover), "expires_at": override.expires_at.isoformat()},
        note=reason,
    )
    assert override.id is not None
    announce(session, OverrideGranted(override_id=override.id))
    return override
