"""Gate use cases: which holds stop a deployment, recording a check, and the API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, or_, select

from bot.domain.audit import record_event
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.gate.announcements import DeploymentBlocked, announce
from bot.domain.gate.coverage import ENVIRONMENT_MAX, EVERY_ENVIRONMENT, SERVICE_MAX
from bot.domain.gate.models import (
    TOKEN_NAME_MAX,
    URL_MAX,
    VERSION_MAX,
    CheckSource,
    GateCheck,
    GateToken,
)
from bot.domain.gate.overrides import GateOverride
from bot.domain.initiatives import Initiative, InitiativeCoverage
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.refs import Kind, format_ref
from bot.domain.roles import Actor

TOKEN_PREFIX = "accord_gate_"  # noqa: S105  (a marker, not a secret)
#: A token's last use is written at most this often, so polling pipelines cause few writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_NAME_PATTERN = r"[a-z0-9][a-z0-9._-]*"


@dataclass(frozen=True)
class Hold:
    """A security hold that stops a deployment, as the API and GitHub comments show it."""

    initiative: str
    title: str
    reason: str
    placed_by: str
    placed_at: datetime
    #: The Slack permalink of the hold's announcement, once Slack has it.
    link: str | None = None


@dataclass(frozen=True)
class GateAnswer:
    allowed: bool
    holds: list[Hold]
    check_id: int | None = None


@dataclass(frozen=True)
class DeploymentAttempt:
    service: str
    environment: str
    version: str | None = None
    pipeline_url: str | None = None
    #: The deployment as the caller names it (GitHub's deployment id), when it has one.
    deployment_id: str | None = None
    #: Who started it and which git ref, when the caller says (GitHub does).
    requested_by: str | None = None
    ref: str | None = None

    def key(self, *, source: CheckSource, caller: str) -> str | None:
        """Which deployment this is: a deployment id, else its version and pipeline run; None
        when nothing tells two attempts apart (then each check is its own deployment)."""
        if self.deployment_id:
            named = f"id\n{self.deployment_id}"
        elif self.version or self.pipeline_url:
            named = f"run\n{self.version or ''}\n{self.pipeline_url or ''}"
        else:
            return None
        whole = f"{source.value}\n{caller}\n{self.service.lower()}\n{self.environment.lower()}"
        return hashlib.sha256(f"{whole}\n{named}".encode()).hexdigest()[:40]


def holds_for(session: Session, *, service: str, environment: str, now: datetime) -> list[Hold]:
    """Every hold on an initiative covering this service in this (or every) environment,
    except those an executive's override (granted during that hold) lets this exact
    service@environment through now.

    Plain columns, not entities: the gate is on every deployment's path, and loading
    initiatives would also load their tags and coverage."""
    service, environment = service.lower(), environment.lower()
    overridden = (
        sa_select(col(GateOverride.id))
        .where(
            col(GateOverride.initiative_id) == col(Initiative.id),
            col(GateOverride.service) == service,
            col(GateOverride.environment) == environment,
            col(GateOverride.expires_at) > now,
            # An override is granted against one hold: released and placed again, the new
            # hold stops the target again, whatever the old override's expiry.
            or_(
                col(Initiative.hold_at).is_(None),
                col(GateOverride.granted_at) >= col(Initiative.hold_at),
            ),
        )
        .exists()
    )
    rows = session.execute(
        sa_select(
            col(Initiative.id),
            col(Initiative.title),
            col(Initiative.hold_reason),
            col(Initiative.hold_by),
            col(Initiative.hold_at),
            col(Initiative.updated_at),
            col(Initiative.hold_link),
        )
        .join(InitiativeCoverage, col(InitiativeCoverage.initiative_id) == col(Initiative.id))
        .where(
            col(Initiative.on_hold).is_(True),
            col(InitiativeCoverage.service) == service,
            col(InitiativeCoverage.environment).in_([environment, EVERY_ENVIRONMENT]),
            ~overridden,
        )
        .distinct()
        .order_by(col(Initiative.id))
    ).all()
    return [
        Hold(
            initiative=format_ref(Kind.INITIATIVE, number),
            title=title,
            reason=reason or "",
            placed_by=placed_by or "",
            placed_at=placed_at or updated_at,
            link=link,
        )
        for number, title, reason, placed_by, placed_at, updated_at, link in rows
        if number is not None
    ]


def record_check(
    session: Session,
    *,
    attempt: DeploymentAttempt,
    caller: str,
    source: CheckSource,
    now: datetime,
) -> GateAnswer:
    """Answer a deployment attempt and keep it: a `gate_check` row and its audit event."""
    if attempt.version is not None and len(attempt.version) > VERSION_MAX:
        raise InvalidInput(f"version is longer than {VERSION_MAX} characters.", field="version")
    if attempt.pipeline_url is not None and len(attempt.pipeline_url) > URL_MAX:
        raise InvalidInput(f"pipeline_url is longer than {URL_MAX} characters.", field="url")
    holds = holds_for(session, service=attempt.service, environment=attempt.environment, now=now)
    check = GateCheck(
        at=now,
        source=source,
        caller=caller[:64],
        service=attempt.service.lower()[:SERVICE_MAX],
        environment=attempt.environment.lower()[:ENVIRONMENT_MAX],
        version=attempt.version,
        pipeline_url=attempt.pipeline_url,
        allowed=not holds,
        held_by=[hold.initiative for hold in holds],
    )
    session.add(check)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=f"{source.value}:{caller}"[:32],
        record_ref=check.ref,
        action="gate.allowed" if check.allowed else "gate.blocked",
        after={
            "service": check.service,
            "environment": check.environment,
            "version": check.version,
            "pipeline_url": check.pipeline_url,
            "allowed": check.allowed,
            "held_by": check.held_by,
            **({"requested_by": attempt.requested_by} if attempt.requested_by else {}),
            **({"ref": attempt.ref} if attempt.ref else {}),
        },
    )
    if not check.allowed:
        assert check.id is not None
        announce(
            session,
            DeploymentBlocked(
                check_id=check.id,
                deployment_key=attempt.key(source=source, caller=caller),
                requested_by=attempt.requested_by,
                ref=attempt.ref,
            ),
        )
    return GateAnswer(allowed=check.allowed, holds=holds, check_id=check.id)


# -- tokens ------------------------------------------------------------------------------------


def hash_token(secret: str) -> str:
    """SHA-256 is enough for a 256-bit random secret (no dictionary to guess from)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _normalise_name(name: str) -> str:
    name = name.strip().lower()
    if not name or len(name) > TOKEN_NAME_MAX or re.fullmatch(_NAME_PATTERN, name) is None:
        raise InvalidInput(
            f"A token name is 1–{TOKEN_NAME_MAX} lower-case letters, digits and `._-`.",
            hint="e.g. `/accord gate token new gitlab-prod`",
            field="name",
        )
    return name


def _active(session: Session, name: str) -> GateToken | None:
    return session.exec(
        select(GateToken).where(GateToken.name == name, col(GateToken.revoked_at).is_(None))
    ).first()


def create_token(
    session: Session, *, actor: Actor, name: str, now: datetime
) -> tuple[GateToken, str]:
    """A new token; the secret is returned once and only its hash is stored."""
    ensure_allowed(actor, Permission.GATE_TOKENS_MANAGE)
    name = _normalise_name(name)
    if _active(session, name) is not None:
        raise Conflict(
            f"There is already a gate token named `{name}`.",
            hint=f"Revoke it first: `/accord gate token revoke {name}`.",
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = GateToken(
        name=name, token_hash=hash_token(secret), created_by=actor.user_id, created_at=now
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=f"GATETOKEN-{token.id}",
        action="gate.token_created",
        after={"name": name},
    )
    return token, secret


def list_tokens(session: Session, *, actor: Actor) -> list[GateToken]:
    ensure_allowed(actor, Permission.GATE_TOKENS_MANAGE)
    return list(session.exec(select(GateToken).order_by(col(GateToken.id))))


def revoke_token(session: Session, *, actor: Actor, name: str, now: datetime) -> GateToken:
    ensure_allowed(actor, Permission.GATE_TOKENS_MANAGE)
    name = _normalise_name(name)
    token = _active(session, name)
    if token is None:
        raise NotFound(
            f"There is no active gate token named `{name}`.",
            hint="`/accord gate token list` shows them.",
        )
    token.revoked_at = now
    token.revoked_by = actor.user_id
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=f"GATETOKEN-{token.id}",
        action="gate.token_revoked",
        after={"name": name},
    )
    return token


def authenticate(session: Session, *, presented: str, now: datetime) -> GateToken | None:
    """The active token whose hash matches, or None; the comparison takes constant time."""
    digest = hash_token(presented)
    token = session.exec(select(GateToken).where(GateToken.token_hash == digest)).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if not token.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token
