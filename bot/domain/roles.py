"""Who is on which side: the CIO side, the CISO side, executives and admins.

Membership comes from the configuration (user ids `U…` and user-group ids `S…`) plus grants that
admins add at run time. User groups are resolved through a `GroupMembers` port (Slack's
`usergroups.users.list` in production, a static directory in the shell) and cached.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlmodel import Field, Session, SQLModel, select

from bot.clock import Clock
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)


class Role(StrEnum):
    CIO = "cio"
    CISO = "ciso"
    EXECUTIVE = "executive"
    ADMIN = "admin"


SIDES: tuple[Role, Role] = (Role.CIO, Role.CISO)
ROLE_LABELS: Mapping[Role, str] = {
    Role.CIO: "CIO side",
    Role.CISO: "CISO side",
    Role.EXECUTIVE: "Executive",
    Role.ADMIN: "Admin",
}


def parse_role(text: str) -> Role:
    aliases = {"exec": Role.EXECUTIVE, "executives": Role.EXECUTIVE, "admins": Role.ADMIN}
    key = text.strip().lower()
    if key in aliases:
        return aliases[key]
    try:
        return Role(key)
    except ValueError:
        raise InvalidInput(
            f"`{text[:30]}` is not a role.", hint="Roles are `cio`, `ciso`, `executive`, `admin`."
        ) from None


@dataclass(frozen=True)
class Actor:
    """A Slack user together with the roles Accord resolved for them."""

    user_id: str
    roles: frozenset[Role]
    #: Roles held only through a run-time grant, with the grant described for audit trails.
    grants: tuple[tuple[Role, str], ...] = ()

    @property
    def sides(self) -> frozenset[Role]:
        return frozenset(role for role in self.roles if role in SIDES)

    @property
    def is_executive(self) -> bool:
        return Role.EXECUTIVE in self.roles

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def on_side(self, side: Role) -> bool:
        return side in self.roles


class RoleGrant(SQLModel, table=True):
    """A role given at run time by an admin, on top of the configuration."""

    __tablename__ = "role_grant"

    id: int | None = Field(default=None, primary_key=True)
    role: Role = Field(sa_column=enum_column(Role))
    subject_id: str = Field(max_length=32, index=True)
    granted_by: str = Field(max_length=32)
    granted_at: datetime
    #: The second admin who confirmed a side grant (two-person rule); None for other roles.
    confirmed_by: str | None = Field(default=None, max_length=32)
    #: The role change that made this grant, for audit trails ("role change #3").
    change_id: int | None = None

    def describe(self) -> str:
        """How this grant came about, for the trail of each record it is used on."""
        label = f"role change #{self.change_id}" if self.change_id else f"grant #{self.id}"
        text = (
            f"{label}: {ROLE_LABELS[Role(self.role)]} given to {self.subject_id} by "
            f"{self.granted_by}"
        )
        if self.confirmed_by:
            text += f", confirmed by {self.confirmed_by}"
        return f"{text} on {self.granted_at.date().isoformat()}"


class RoleChangeKind(StrEnum):
    GRANT = "grant"
    REMOVE = "remove"


class RoleChangeState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class RoleChange(SQLModel, table=True):
    """A run-time change to a side's membership, waiting for a second admin (two-person rule)."""

    __tablename__ = "role_change"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    kind: RoleChangeKind = Field(sa_column=enum_column(RoleChangeKind))
    role: Role = Field(sa_column=enum_column(Role))
    subject_id: str = Field(max_length=32)
    proposed_by: str = Field(max_length=32)
    proposed_at: datetime
    state: RoleChangeState = Field(
        default=RoleChangeState.PENDING, sa_column=enum_column(RoleChangeState, index=True)
    )
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"role change #{self.id}"


@dataclass(frozen=True)
class RoleMembership:
    """Where a role's members come from, for `/accord roles list`."""

    role: Role
    configured_users: tuple[str, ...]
    #: Configured user groups and the members Accord resolved for each.
    groups: Mapping[str, frozenset[str]]
    grants: tuple[RoleGrant, ...]

    @property
    def everyone(self) -> frozenset[str]:
        users = set(self.configured_users) | {grant.subject_id for grant in self.grants}
        for members in self.groups.values():
            users |= members
        return frozenset(users)


class GroupMembers(Protocol):
    def members(self, group_id: str) -> list[str]:
        """User ids in a user group; raises on transport errors."""
        ...


class Directory:
    """Answers "which roles does this user have", caching user-group look-ups."""

    def __init__(
        self,
        *,
        configured: Mapping[Role, Iterable[str]],
        groups: GroupMembers,
        clock: Clock,
        cache_seconds: int = 300,
    ) -> None:
        self._configured = {role: tuple(ids) for role, ids in configured.items()}
        self._groups = groups
        self._clock = clock
        self._ttl = timedelta(seconds=cache_seconds)
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def configured(self, role: Role) -> tuple[str, ...]:
        return self._configured.get(role, ())

    def actor(self, session: Session, user_id: str) -> Actor:
        grants = session.exec(select(RoleGrant).where(RoleGrant.subject_id == user_id)).all()
        configured = frozenset(
            role for role in Role if user_id in self._expand(self.configured(role))
        )
        granted = {Role(grant.role): grant for grant in grants}
        notes = tuple(
            (role, grant.describe()) for role, grant in granted.items() if role not in configured
        )
        return Actor(user_id=user_id, roles=configured | frozenset(granted), grants=notes)

    def members(self, session: Session, role: Role) -> frozenset[str]:
        """Every user id holding `role` (groups expanded), e.g. to notify a side."""
        grants = _grants_by_role(session)
        return self._expand([*self.configured(role), *grants.get(role, ())])

    def membership(self, session: Session, role: Role) -> RoleMembership:
        """Who holds `role`, and why: settings (users, groups) and run-time grants."""
        configured = self.configured(role)
        grants = session.exec(
            select(RoleGrant).where(RoleGrant.role == role).order_by(RoleGrant.granted_at)  # type: ignore[arg-type]
        ).all()
        return RoleMembership(
            role=role,
            configured_users=tuple(s for s in configured if not s.startswith("S")),
            groups={s: self._group(s) for s in configured if s.startswith("S")},
            grants=tuple(grants),
        )

    def _expand(self, subjects: Iterable[str]) -> frozenset[str]:
        users: set[str] = set()
        for subject in subjects:
            if subject.startswith("S"):
                users |= self._group(subject)
            else:
                users.add(subject)
        return frozenset(users)

    def _group(self, group_id: str) -> frozenset[str]:
        now = self._clock.now()
        with self._lock:
            cached = self._cache.get(group_id)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            fresh = frozenset(self._groups.members(group_id))
        except Exception:  # a group we cannot read must not lock everybody out
            log.warning("could not resolve user group %s; using the cached members", group_id)
            return cached[1] if cached else frozenset()
        with self._lock:
            self._cache[group_id] = (now, fresh)
        return fresh


def _grants_by_role(session: Session) -> dict[Role, list[str]]:
    result: dict[Role, list[str]] = {}
    for grant in session.exec(select(RoleGrant)):
        result.setdefault(Role(grant.role), []).append(grant.subject_id)
    return result


def grant_role(
    session: Session,
    *,
    role: Role,
    subject_id: str,
    granted_by: str,
    at: datetime,
    confirmed_by: str | None = None,
    change_id: int | None = None,
) -> RoleGrant:
    existing = session.exec(
        select(RoleGrant).where(RoleGrant.role == role, RoleGrant.subject_id == subject_id)
    ).first()
    if existing is not None:
        raise Conflict(f"That user already has the {ROLE_LABELS[role]} role.")
    grant = RoleGrant(
        role=role,
        subject_id=subject_id,
        granted_by=granted_by,
        granted_at=at,
        confirmed_by=confirmed_by,
        change_id=change_id,
    )
    session.add(grant)
    return grant


def revoke_role(session: Session, *, role: Role, subject_id: str) -> None:
    existing = session.exec(
        select(RoleGrant).where(RoleGrant.role == role, RoleGrant.subject_id == subject_id)
    ).first()
    if existing is None:
        raise NotFound(
            f"No run-time grant of {ROLE_LABELS[role]} for that user.",
            hint="Roles set in the configuration are changed there, not here.",
        )
    session.delete(existing)
