"""Run-time role changes: admins grant and remove roles, never their own, and a change to a
side's membership (CIO or CISO side) waits for a second admin to confirm it (two-person rule).

Each service function is one unit: lock, check the policy, change, audit; the Slack layer adds
the coordination-channel announcement to the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.db import lock_key, lock_row
from bot.domain.audit import record_event
from bot.domain.errors import Conflict, NotFound
from bot.domain.permissions import (
    Permission,
    ensure_allowed,
    ensure_may_change_role,
    ensure_may_confirm_role_change,
)
from bot.domain.roles import (
    ROLE_LABELS,
    SIDES,
    Actor,
    Directory,
    Role,
    RoleChange,
    RoleChangeKind,
    RoleChangeState,
    RoleGrant,
    grant_role,
    revoke_role,
)


@dataclass(frozen=True)
class RoleChangeResult:
    """What a request did: applied at once (executive/admin roles) or waiting (`pending`)."""

    kind: RoleChangeKind
    role: Role
    subject_id: str
    pending: RoleChange | None = None

    @property
    def applied(self) -> bool:
        return self.pending is None


def _trail(subject_id: str) -> str:
    return f"USER-{subject_id}"


def _check_possible(
    session: Session, directory: Directory, *, kind: RoleChangeKind, role: Role, subject_id: str
) -> None:
    # Two admins proposing, or confirming, a change of one person's role at once: the second
    # waits here and then sees the first's grant or pending change, never a duplicate.
    lock_key(session, f"role:{role.value}:{subject_id}")
    grant = session.exec(
        select(RoleGrant).where(RoleGrant.role == role, RoleGrant.subject_id == subject_id)
    ).first()
    if kind == RoleChangeKind.GRANT:
        if grant is not None or directory.actor(session, subject_id).on_side(role):
            raise Conflict(f"That user already has the {ROLE_LABELS[role]} role.")
    elif grant is None:
        raise NotFound(
            f"No run-time grant of {ROLE_LABELS[role]} for that user.",
            hint="Roles set in the configuration are changed there, not here.",
        )


def request_role_change(
    session: Session,
    *,
    actor: Actor,
    directory: Directory,
    kind: RoleChangeKind,
    role: Role,
    subject_id: str,
    now: datetime,
) -> RoleChangeResult:
    """Grant or remove a role; a side's membership change waits for a second admin."""
    ensure_may_change_role(actor, subject_id=subject_id)
    _check_possible(session, directory, kind=kind, role=role, subject_id=subject_id)
    if role in SIDES:
        waiting = session.exec(
            select(RoleChange).where(
                RoleChange.role == role,
                RoleChange.subject_id == subject_id,
                RoleChange.state == RoleChangeState.PENDING,
            )
        ).first()
        if waiting is not None:
            raise Conflict(
                f"A change of that user's {ROLE_LABELS[role]} role is already waiting as "
                f"{waiting.ref}.",
                hint=f"A second admin confirms it: `/accord roles confirm {waiting.id}`.",
            )
        change = RoleChange(
            kind=kind, role=role, subject_id=subject_id, proposed_by=actor.user_id, proposed_at=now
        )
        session.add(change)
        session.flush()
        record_event(
            session,
            at=now,
            actor_id=actor.user_id,
            record_ref=_trail(subject_id),
            action="role.change_proposed",
            after={"change": change.id, "kind": kind.value, "role": role.value, "user": subject_id},
            note="a side's membership: waits for a second admin to confirm",
        )
        return RoleChangeResult(kind=kind, role=role, subject_id=subject_id, pending=change)
    _apply(session, kind=kind, role=role, subject_id=subject_id, by=actor.user_id, now=now)
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=_trail(subject_id),
        action="role.granted" if kind == RoleChangeKind.GRANT else "role.revoked",
        after={"role": role.value, "user": subject_id},
    )
    return RoleChangeResult(kind=kind, role=role, subject_id=subject_id)


def _apply(
    session: Session,
    *,
    kind: RoleChangeKind,
    role: Role,
    subject_id: str,
    by: str,
    now: datetime,
    confirmed_by: str | None = None,
    change_id: int | None = None,
) -> None:
    if kind == RoleChangeKind.GRANT:
        grant_role(
            session,
            role=role,
            subject_id=subject_id,
            granted_by=by,
            at=now,
            confirmed_by=confirmed_by,
            change_id=change_id,
        )
    else:
        revoke_role(session, role=role, subject_id=subject_id)
    session.flush()


def _pending(session: Session, number: int) -> RoleChange:
    change = lock_row(session, RoleChange, number)
    if change is None:
        raise NotFound(
            f"There is no role change #{number}.", hint="`/accord roles list` shows those waiting."
        )
    if change.state != RoleChangeState.PENDING:
        raise Conflict(
            f"{change.ref} is already {change.state.value}"
            + (f" (by {change.decided_by})" if change.decided_by else "")
            + "; nothing changed."
        )
    return change


def confirm_role_change(
    session: Session, *, actor: Actor, directory: Directory, number: int, now: datetime
) -> RoleChange:
    """The second admin confirms a side change; only then does it take effect."""
    ensure_allowed(actor, Permission.MANAGE_ROLES)
    change = _pending(session, number)
    ensure_may_confirm_role_change(
        actor, proposed_by=change.proposed_by, subject_id=change.subject_id
    )
    kind, role = RoleChangeKind(change.kind), Role(change.role)
    _check_possible(session, directory, kind=kind, role=role, subject_id=change.subject_id)
    _apply(
        session,
        kind=kind,
        role=role,
        subject_id=change.subject_id,
        by=change.proposed_by,
        now=now,
        confirmed_by=actor.user_id,
        change_id=change.id,
    )
    change.state, change.decided_by, change.decided_at = (
        RoleChangeState.CONFIRMED,
        actor.user_id,
        now,
    )
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=_trail(change.subject_id),
        action="role.granted" if kind == RoleChangeKind.GRANT else "role.revoked",
        after={"change": change.id, "role": role.value, "user": change.subject_id},
        note=f"{change.ref}: proposed by {change.proposed_by}, confirmed by {actor.user_id}",
    )
    return change


def cancel_role_change(session: Session, *, actor: Actor, number: int, now: datetime) -> RoleChange:
    """Any admin may drop a waiting change (its proposer too): nothing takes effect."""
    ensure_allowed(actor, Permission.MANAGE_ROLES)
    change = _pending(session, number)
    change.state, change.decided_by, change.decided_at = (
        RoleChangeState.CANCELLED,
        actor.user_id,
        now,
    )
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=_trail(change.subject_id),
        action="role.change_cancelled",
        after={"change": change.id, "role": Role(change.role).value, "user": change.subject_id},
    )
    return change


def pending_changes(session: Session) -> list[RoleChange]:
    query = select(RoleChange).where(RoleChange.state == RoleChangeState.PENDING)
    return list(session.exec(query.order_by(col(RoleChange.id))))
