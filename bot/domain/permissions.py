"""The one place that decides whether a user may do something to a record."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from bot.domain.errors import Forbidden, person
from bot.domain.roles import SIDES, Actor, Role


class Permission(StrEnum):
    INITIATIVE_CREATE = "create initiatives"
    INITIATIVE_EDIT = "update initiatives"
    HOLD_PLACE = "place a security hold"
    HOLD_RELEASE = "release a security hold"
    RISK_REQUEST = "request risk acceptances"
    RISK_APPROVE = "approve risk acceptances for your side"
    RISK_CHANGE = "renew, update, submit or snooze a risk acceptance"
    RISK_REVOKE = "revoke risk acceptances"
    DISAGREEMENT_RAISE = "record disagreements"
    ESCALATE = "escalate disagreements"
    ESCALATION_DECIDE = "decide escalations"
    TOUCHPOINT_MANAGE = "manage touchpoints"
    DIGEST_SEND = "send the digest now"
    MANAGE_ROLES = "manage roles"
    AUDIT_VERIFY = "verify the audit chain"
    GATE_TOKENS_MANAGE = "manage deployment gate tokens"
    GATE_OVERRIDE = "override a security hold for one deployment target"
    THREAT_RECORD = "record threat briefs"


def _on_a_side(actor: Actor) -> bool:
    return bool(actor.sides)


def _participant(actor: Actor) -> bool:
    return _on_a_side(actor) or actor.is_executive or actor.is_admin


_RULES: dict[Permission, tuple[Callable[[Actor], bool], str]] = {
    Permission.INITIATIVE_CREATE: (_participant, "Only members of the CIO or CISO side can"),
    Permission.INITIATIVE_EDIT: (_participant, "Only members of the CIO or CISO side can"),
    Permission.HOLD_PLACE: (lambda a: a.on_side(Role.CISO), "Only the CISO side can"),
    Permission.HOLD_RELEASE: (
        lambda a: a.on_side(Role.CISO) or a.is_executive,
        "Only the CISO side (or an executive decision) can",
    ),
    Permission.RISK_REQUEST: (_participant, "Only members of the CIO or CISO side can"),
    Permission.RISK_APPROVE: (_on_a_side, "Only members of the CIO or CISO side can"),
    Permission.RISK_CHANGE: (_participant, "Only members of the CIO or CISO side can"),
    # Ending an acceptance early is a security action any member of either side may take (it
    # only ever removes an exception); the record's requester and admins may too.
    Permission.RISK_REVOKE: (
        lambda a: _on_a_side(a) or a.is_admin,
        "Only members of the CIO or CISO side (or an Accord admin) can",
    ),
    Permission.DISAGREEMENT_RAISE: (_on_a_side, "Only members of the CIO or CISO side can"),
    Permission.ESCALATE: (_participant, "Only members of the CIO or CISO side can"),
    Permission.ESCALATION_DECIDE: (lambda a: a.is_executive, "Only configured executives can"),
    Permission.TOUCHPOINT_MANAGE: (_participant, "Only members of the CIO or CISO side can"),
    Permission.DIGEST_SEND: (_participant, "Only members of the CIO or CISO side can"),
    Permission.MANAGE_ROLES: (lambda a: a.is_admin, "Only Accord admins can"),
    Permission.AUDIT_VERIFY: (lambda a: a.is_admin, "Only Accord admins can"),
    Permission.GATE_OVERRIDE: (lambda a: a.is_executive, "Only configured executives can"),
    Permission.THREAT_RECORD: (
        lambda a: a.on_side(Role.CISO) or a.is_admin,
        "Only the CISO side (or an Accord admin) can",
    ),
    Permission.GATE_TOKENS_MANAGE: (
        lambda a: a.is_admin or a.on_side(Role.CISO),
        "Only Accord admins and the CISO side can",
    ),
}


class Stewarded(Protocol):
    """A record with people answerable for it (owners, requester, creator)."""

    @property
    def ref(self) -> str: ...

    @property
    def steward_ids(self) -> frozenset[str]: ...


#: Permissions that, given a record, are limited to its stewards (plus admins and executives).
_STEWARDS_ONLY = frozenset({Permission.INITIATIVE_EDIT, Permission.RISK_CHANGE})
#: Permissions a record's stewards have even when the general rule would not grant them.
_STEWARDS_ALSO = frozenset({Permission.RISK_REVOKE})


def allowed(actor: Actor, permission: Permission, record: Stewarded | None = None) -> bool:
    check, _ = _RULES[permission]
    if record is not None and permission in _STEWARDS_ALSO and actor.user_id in record.steward_ids:
        return True
    if not check(actor):
        return False
    if record is None or permission not in _STEWARDS_ONLY or not record.steward_ids:
        return True
    return actor.user_id in record.steward_ids or actor.is_admin or actor.is_executive


def ensure_allowed(actor: Actor, permission: Permission, record: Stewarded | None = None) -> None:
    """Raise `Forbidden` with a sentence that says who may do this instead."""
    check, who = _RULES[permission]
    if record is not None and allowed(actor, permission, record):
        return
    if not check(actor):
        raise Forbidden(
            f"{who} {permission.value}.",
            hint="`/accord whoami` shows your side; an Accord admin can add you.",
        )
    if record is not None and not allowed(actor, permission, record):
        answerable = ", ".join(person(user_id) for user_id in sorted(record.steward_ids))
        raise Forbidden(
            f"Only the people answerable for {record.ref} ({answerable}), an executive or an "
            f"Accord admin can "
            f"{permission.value.replace('initiatives', 'it').replace('a risk acceptance', 'it')}.",
            hint="Ask one of them to make the change.",
        )


def rights(actor: Actor) -> list[Permission]:
    """Everything this actor may do, for `/accord whoami`."""
    return [permission for permission in Permission if allowed(actor, permission)]


def side_of(actor: Actor) -> Role | None:
    """The actor's side when it is unambiguous (someone configured on both sides has none)."""
    sides = [side for side in SIDES if actor.on_side(side)]
    return sides[0] if len(sides) == 1 else None
