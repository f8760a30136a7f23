"""The one place that decides whether a user may do something to a record.

Two kinds of rule live here: who may do a kind of thing at all (`Permission`, by the person's
side or role at that moment), and what the record itself rules out (separation of duties: the
two approvers of a round, requesters of earlier rounds, the sides of an escalation, the people
of a role change, each side's own fields). Services call these before changing anything; the
README's table of who may do what is `policy_table()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Protocol

from bot.domain.errors import Forbidden, person
from bot.domain.roles import ROLE_LABELS, SIDES, Actor, Role


class Permission(StrEnum):
    INITIATIVE_CREATE = "create initiatives"
    INITIATIVE_EDIT = "update initiatives"
    HOLD_PLACE = "place a security hold"
    HOLD_RELEASE = "release a security hold"
    HOLD_NARROW = "take systems out of what a security hold blocks"
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
    REGISTER_READ = (
        "read the register, exposure, disagreements, escalations, threat briefs, touchpoints, "
        "deployment checks, audit trails and digest previews"
    )
    REGISTER_EXPORT = "export the risk register"
    THREAT_RECORD = "record threat briefs"


def _on_a_side(actor: Actor) -> bool:
    return bool(actor.sides)


def _participant(actor: Actor) -> bool:
    return _on_a_side(actor) or actor.is_executive or actor.is_admin


def _neutral_executive(actor: Actor) -> bool:
    """An executive on neither side: the only one who may lift or bypass the other side's
    hold (an executive who is also on the CIO side would be judging their own work)."""
    return actor.is_executive and not actor.sides


def _ciso_side_or_neutral_executive(actor: Actor) -> bool:
    return (actor.on_side(Role.CISO) and not actor.on_side(Role.CIO)) or _neutral_executive(actor)


_RULES: dict[Permission, tuple[Callable[[Actor], bool], str]] = {
    Permission.INITIATIVE_CREATE: (_participant, "Only members of the CIO or CISO side can"),
    Permission.INITIATIVE_EDIT: (_participant, "Only members of the CIO or CISO side can"),
    Permission.HOLD_PLACE: (lambda a: a.on_side(Role.CISO), "Only the CISO side can"),
    Permission.HOLD_RELEASE: (
        _ciso_side_or_neutral_executive,
        "Only the CISO side (or an executive on neither side) can",
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
    Permission.HOLD_NARROW: (
        _ciso_side_or_neutral_executive,
        "Only the CISO side (or an executive on neither side) can",
    ),
    Permission.GATE_OVERRIDE: (
        _neutral_executive,
        "Only configured executives who are on neither side can",
    ),
    Permission.THREAT_RECORD: (
        lambda a: a.on_side(Role.CISO) or a.is_admin,
        "Only the CISO side (or an Accord admin) can",
    ),
    Permission.GATE_TOKENS_MANAGE: (
        lambda a: a.is_admin or a.on_side(Role.CISO),
        "Only Accord admins and the CISO side can",
    ),
    Permission.REGISTER_READ: (
        _participant,
        "Only the CIO and CISO sides, executives and Accord admins can",
    ),
    Permission.REGISTER_EXPORT: (
        _participant,
        "Only the CIO and CISO sides, executives and Accord admins can",
    ),
}

#: What the record rules out on top of the role, in the README's words.
_LIMITS: dict[Permission, str] = {
    Permission.HOLD_RELEASE: "not by anyone also on the CIO side (an executive included)",
    Permission.HOLD_NARROW: "not by anyone also on the CIO side (an executive included)",
    Permission.GATE_OVERRIDE: (
        "not by an executive who is also on a side; time-limited, for one service/environment"
    ),
    Permission.RISK_APPROVE: (
        "the two approvers of a round are different people; nobody who requested any round "
        "of the record approves any round of it; someone on both sides approves for neither; "
        "the approval stores the side held at that moment"
    ),
    Permission.RISK_CHANGE: (
        "a change to the title, description, score, controls, expiry, asset, initiative or "
        "techniques of a pending or accepted record needs both sides to approve again"
    ),
    Permission.DISAGREEMENT_RAISE: (
        "each side alone writes its own position and impact (business: CIO side, security: "
        "CISO side); options do not change after escalation"
    ),
    Permission.ESCALATION_DECIDE: (
        "nobody on the CIO or CISO side decides; `to:@exec` limits it to that executive or "
        "the stated `delegate:@exec`"
    ),
    Permission.MANAGE_ROLES: (
        "nobody grants or removes a role of their own; a CIO/CISO side change waits for a "
        "second admin to confirm, is announced in the coordination channel and is named in "
        "the trail of each record it is used on"
    ),
    Permission.REGISTER_READ: "outsiders get a private refusal",
    Permission.REGISTER_EXPORT: "every export is itself an audit event",
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


# -- what the record rules out -------------------------------------------------------------


def ensure_may_decide_risk(
    actor: Actor,
    *,
    ref: str,
    side: Role,
    requesters: Iterable[str],
    round_approvers: Mapping[Role, str],
) -> None:
    """Separation of duties on a risk round: two different people, neither a requester of any
    round of the record (`requesters`), one per side (`round_approvers`: who decided so far)."""
    if actor.user_id in set(requesters):
        raise Forbidden(
            f"You requested a round of {ref}, so you cannot approve or reject any round of it.",
            hint="Separation of duties: another member of your side decides for it.",
        )
    for other, approver in round_approvers.items():
        if other != side and approver == actor.user_id:
            raise Forbidden(
                f"You already decided this round of {ref} for the {ROLE_LABELS[other]}; the "
                "other side's decision must come from someone else.",
                hint="Separation of duties: two different people approve each round.",
            )


def ensure_may_change_role(actor: Actor, *, subject_id: str) -> None:
    """Admins change roles, never their own."""
    ensure_allowed(actor, Permission.MANAGE_ROLES)
    if subject_id == actor.user_id:
        raise Forbidden(
            "Nobody grants or removes a role of their own.",
            hint="Ask another Accord admin to make the change.",
        )


def ensure_may_confirm_role_change(actor: Actor, *, proposed_by: str, subject_id: str) -> None:
    """The second admin of a side change: neither the one who proposed it nor its subject."""
    ensure_allowed(actor, Permission.MANAGE_ROLES)
    if actor.user_id == proposed_by:
        raise Forbidden(
            "You proposed this change, so a second admin confirms it.",
            hint="Two-person rule: another Accord admin runs `/accord roles confirm`.",
        )
    if actor.user_id == subject_id:
        raise Forbidden(
            "This change is about you, so you cannot confirm it.",
            hint="Ask another Accord admin to confirm it.",
        )


def ensure_may_decide_escalation(
    actor: Actor, *, ref: str, addressed_to: str | None, delegate: str | None
) -> None:
    """Executives on neither side decide; an addressed escalation only its executive (or the
    stated delegate)."""
    ensure_allowed(actor, Permission.ESCALATION_DECIDE)
    if actor.sides:
        sides = " and ".join(ROLE_LABELS[side] for side in SIDES if actor.on_side(side))
        raise Forbidden(
            f"You are on the {sides}, a party to {ref}, so you cannot decide it.",
            hint="An executive on neither side decides an escalation.",
        )
    allowed_ids = {who for who in (addressed_to, delegate) if who}
    if allowed_ids and actor.user_id not in allowed_ids:
        names = " or ".join(person(who) for who in sorted(allowed_ids))
        raise Forbidden(
            f"{ref} is addressed to {names}, so only they can decide it.",
            hint="Ask them, or have the sides escalate it again to you.",
        )


def may_decide_escalation(actor: Actor, *, addressed_to: str | None, delegate: str | None) -> bool:
    """`ensure_may_decide_escalation` as a question (App Home lists only what you may decide)."""
    try:
        ensure_may_decide_escalation(actor, ref="", addressed_to=addressed_to, delegate=delegate)
    except Forbidden:
        return False
    return True


def ensure_may_write_side_field(actor: Actor, *, side: Role, what: str) -> None:
    """Each side alone writes its own position and impact."""
    if not actor.on_side(side):
        raise Forbidden(
            f"Only the {ROLE_LABELS[side]} writes its {what}.",
            hint="Each side states its own case; say yours with `/accord disagree update`.",
        )


def grant_note(actor: Actor, role: Role) -> str | None:
    """The run-time grant that gave `actor` `role`, for the trail of the record it is used on."""
    return dict(actor.grants).get(role)


def authority(actor: Actor, *roles: Role) -> dict[str, str]:
    """`{"via_grant": …}` when one of `roles` the actor used came from a run-time grant."""
    notes = [note for role in roles if actor.on_side(role) and (note := grant_note(actor, role))]
    return {"via_grant": "; ".join(notes)} if notes else {}


# -- the README table ----------------------------------------------------------------------


def policy_table() -> str:
    """Who may do what, as the Markdown table in the README (a test keeps them equal): each
    role column is the rule evaluated for a person holding only that role."""
    columns = [(ROLE_LABELS[role], frozenset({role})) for role in Role]
    columns.append(("outsider", frozenset()))
    header = " | ".join(label for label, _ in columns)
    lines = [
        f"| action | {header} | limits |",
        "| --- |" + " --- |" * len(columns) + " --- |",
    ]
    for permission in Permission:
        marks = " | ".join(
            "yes" if allowed(Actor(user_id="U0TABLE", roles=roles), permission) else "—"
            for _, roles in columns
        )
        limits = [_LIMITS[permission]] if permission in _LIMITS else []
        if permission in _STEWARDS_ONLY:
            limits.insert(0, "on a record: only its answerable people, executives and admins")
        if permission in _STEWARDS_ALSO:
            limits.insert(0, "also the record's answerable people")
        lines.append(f"| {permission.value} | {marks} | {'; '.join(limits) or '—'} |")
    return "\n".join(lines) + "\n"
