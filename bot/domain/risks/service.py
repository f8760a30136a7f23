"""Use cases that change a risk record: create, submit, decide, revoke, renew, update, snooze."""

from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.domain.attack.service import current_catalogue
from bot.domain.audit import changed_fields, record_event
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.initiatives import Initiative
from bot.domain.permissions import Permission, authority, ensure_allowed, grant_note
from bot.domain.refs import Kind, format_ref
from bot.domain.risks.models import (
    ASSET_MAX,
    CONTROLS_MAX,
    DESCRIPTION_MAX,
    REASON_MAX,
    TITLE_MAX,
    Decision,
    DecisionResult,
    RiskAcceptance,
    RiskApproval,
    RiskChanges,
    RiskDraft,
    RiskRound,
    RiskState,
    RoundKind,
    RoundState,
    band_of,
)
from bot.domain.risks.policy import (
    MATERIAL_FIELDS,
    RiskPolicy,
    _decision_snapshot,
    _expiry,
    _rating,
    _restore_state,
    approver_side,
    check_residual,
    ensure_decidable,
    parse_evidence,
    parse_techniques,
)
from bot.domain.risks.queries import get_risk
from bot.domain.roles import Actor, Role
from bot.domain.validation import bounded_text


def _initiative(session: Session, number: int | None) -> int | None:
    if number is None:
        return None
    if session.get(Initiative, number) is None:
        raise NotFound(
            f"There is no {format_ref(Kind.INITIATIVE, number)} to link.",
            hint="`/accord initiative list all` shows every initiative.",
        )
    return number


def _checked_techniques(
    session: Session, raw: tuple[str, ...] | list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Ids checked against the ATT&CK catalogue in force, with the names and tactics kept."""
    found = current_catalogue(session).check(parse_techniques(raw))
    return [t.id for t in found], [t.to_json() for t in found]


def _treatment_due(value: date | None, *, today: date) -> date | None:
    if value is not None and value <= today:
        raise InvalidInput(
            f"The treatment target date {value.isoformat()} is not in the future.",
            field="treatment-due",
        )
    return value


def create_risk(
    session: Session,
    *,
    actor: Actor,
    draft: RiskDraft,
    now: datetime,
    policy: RiskPolicy,
    submit: bool = True,
) -> RiskAcceptance:
    """Create a record; with `submit` it goes straight to `pending_approval`."""
    ensure_allowed(actor, Permission.RISK_REQUEST)
    today = now.date()
    likelihood = _rating(draft.likelihood, field="likelihood")
    impact = _rating(draft.impact, field="impact")
    residual = check_residual(draft.residual, likelihood=likelihood, impact=impact)
    band = band_of(residual[0] * residual[1] if residual else likelihood * impact)
    expires = _expiry(draft.expires_on, band=band, today=today, policy=policy)
    review_days = draft.review_days or policy.review_days[band]
    techniques, technique_info = _checked_techniques(session, draft.techniques)
    risk = RiskAcceptance(
        title=bounded_text(draft.title, field="title", max_length=TITLE_MAX, required=True),
        description=bounded_text(
            draft.description, field="description", max_length=DESCRIPTION_MAX
        ),
        asset=bounded_text(draft.asset, field="asset", max_length=ASSET_MAX),
        controls=bounded_text(draft.controls, field="controls", max_length=CONTROLS_MAX),
        initiative_id=_initiative(session, draft.initiative_id),
        likelihood=likelihood,
        impact=impact,
        techniques=techniques,
        technique_info=technique_info,
        requested_by=actor.user_id,
        owner_id=draft.owner_id,
        treatment=draft.treatment,
        treatment_due=_treatment_due(draft.treatment_due, today=today),
        residual_likelihood=residual[0] if residual else None,
        residual_impact=residual[1] if residual else None,
        evidence=list(parse_evidence(draft.evidence)),
        retired_by_id=_initiative(session, draft.retired_by_id),
        expires_on=expires,
        review_days=review_days,
        next_review_on=min(today + timedelta(days=review_days), expires),
        state=RiskState.PENDING if submit else RiskState.DRAFT,
        created_at=now,
        updated_by=actor.user_id,
        updated_at=now,
    )
    session.add(risk)
    session.flush()
    if submit:
        _start_round(session, risk, kind=RoundKind.REQUEST, actor=actor, now=now)
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.requested" if submit else "risk.drafted",
        after=risk.snapshot(),
    )
    return risk


def _start_round(
    session: Session,
    risk: RiskAcceptance,
    *,
    kind: RoundKind,
    actor: Actor,
    now: datetime,
    proposed: dict[str, Any] | None = None,
) -> RiskRound:
    """Open a new approval round requested by `actor`; an open earlier round is superseded."""
    previous = risk.round_row()
    if previous is not None:
        if previous.state == RoundState.OPEN:
            previous.state = RoundState.SUPERSEDED
            previous.closed_at = now
        risk.round += 1
    row = RiskRound(
        risk_id=risk.id,  # type: ignore[arg-type]
        round=risk.round,
        kind=kind,
        requested_by=actor.user_id,
        requested_at=now,
        proposed=dict(proposed or {}),
    )
    risk.rounds.append(row)
    session.flush()
    return row


def submit_risk(session: Session, *, actor: Actor, number: int, now: datetime) -> RiskAcceptance:
    """Send a draft for approval, or a rejected record again: a new round on the same record
    (the rejected round and its reason stay in the history), usually after `update`."""
    risk = get_risk(session, number=number, lock=True)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state not in (RiskState.DRAFT, RiskState.REJECTED):
        raise Conflict(
            f"{risk.ref} is {risk.state.value.replace('_', ' ')}; only a draft or a rejected "
            "request can be submitted."
        )
    again = risk.state == RiskState.REJECTED
    if again and risk.expires_on <= now.date():
        raise InvalidInput(
            f"{risk.ref} would expire on {risk.expires_on.isoformat()}, which is not in the "
            "future; give it a new expiry date first.",
            hint=f"`/accord risk update {risk.ref} expires:YYYY-MM-DD`, then submit it again.",
            field="expires",
        )
    row = _start_round(session, risk, kind=RoundKind.REQUEST, actor=actor, now=now)
    _transition(
        session,
        risk,
        RiskState.PENDING,
        actor=actor,
        now=now,
        action="risk.resubmitted" if again else "risk.submitted",
        note=f"requested again after the rejection, as round {row.round}" if again else None,
    )
    return risk


def _transition(
    session: Session,
    risk: RiskAcceptance,
    state: RiskState,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    note: str | None = None,
) -> None:
    before = risk.snapshot()
    risk.state = state
    risk.updated_by = actor.user_id
    risk.updated_at = now
    old, new = changed_fields(before, risk.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action=action,
        before=old,
        after=new,
        note=note,
    )


def decide(
    session: Session,
    *,
    actor: Actor,
    number: int,
    decision: Decision,
    now: datetime,
    reason: str | None = None,
) -> DecisionResult:
    """Record one side's approval or rejection in the current round."""
    side = approver_side(actor)
    risk = get_risk(session, number=number, lock=True)
    row = ensure_decidable(risk, actor, side=side, today=now.date())
    clean_reason = None
    if decision == Decision.REJECTED:
        clean_reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    elif reason:
        clean_reason = bounded_text(reason, field="reason", max_length=REASON_MAX)
    approval = RiskApproval(
        risk_id=risk.id,  # type: ignore[arg-type]
        round=risk.round,
        side=side,
        approver_id=actor.user_id,
        decision=decision,
        reason=clean_reason,
        at=now,
        snapshot=_decision_snapshot(risk, row),
        held_roles=sorted(role.value for role in actor.roles),
        via_grant=grant_note(actor, side),
    )
    session.add(approval)
    session.flush()  # a concurrent click on the same side fails here on the unique key
    session.refresh(risk, attribute_names=["approvals"])
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action=f"risk.{decision.value}",
        after={"side": side.value, "round": risk.round, **authority(actor, side)},
        note=clean_reason,
    )
    became_accepted = False
    if decision == Decision.REJECTED:
        row.state, row.closed_at = RoundState.REJECTED, now
        if row.kind == RoundKind.RENEWAL:
            _restore_state(risk, row)
            # Only the renewal is refused; the acceptance in force (if any) stays as it was.
            record_event(
                session,
                at=now,
                actor_id=actor.user_id,
                record_ref=risk.ref,
                action="risk.renewal_rejected",
                after={"round": row.round, "proposed": dict(row.proposed)},
                note=clean_reason,
            )
        else:
            risk.closed_reason = clean_reason
            _transition(
                session, risk, RiskState.REJECTED, actor=actor, now=now, action="risk.closed"
            )
    elif _both_sides_approved(risk):
        row.state, row.closed_at = RoundState.APPROVED, now
        changes: dict[str, Any] = {"state": RiskState.ACCEPTED}
        expiry = row.proposed_expiry
        if expiry is not None:
            changes.update(
                expires_on=expiry,
                snoozed_until=None,
                next_review_on=min(now.date() + timedelta(days=risk.review_days), expiry),
            )
        action = "risk.renewed" if row.kind == RoundKind.RENEWAL else "risk.accepted"
        _apply(session, risk, changes, actor=actor, now=now, action=action)
        became_accepted = True
    return DecisionResult(risk=risk, approval=approval, became_accepted=became_accepted, round=row)


def _both_sides_approved(risk: RiskAcceptance) -> bool:
    """Accepted only by two different people, one per side, neither a requester of any round
    (`decide` checks each approver; this holds the rule for the pair once more)."""
    decisions = risk.round_decisions()
    approvers = {d.approver_id for d in decisions.values()}
    return (
        set(decisions) == {Role.CIO, Role.CISO}
        and all(d.decision == Decision.APPROVED for d in decisions.values())
        and len(approvers) == 2
        and not approvers & risk.requesters
    )


def _apply(
    session: Session,
    risk: RiskAcceptance,
    changes: dict[str, Any],
    *,
    actor: Actor | str,
    now: datetime,
    action: str,
    note: str | None = None,
) -> None:
    actor_id = actor if isinstance(actor, str) else actor.user_id
    before = risk.snapshot()
    for key, value in changes.items():
        setattr(risk, key, value)
    risk.updated_by = actor_id
    risk.updated_at = now
    old, new = changed_fields(before, risk.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor_id,
        record_ref=risk.ref,
        action=action,
        before=old,
        after=new,
        note=note,
    )


def revoke(
    session: Session, *, actor: Actor, number: int, reason: str, now: datetime
) -> RiskAcceptance:
    risk = get_risk(session, number=number, lock=True)
    ensure_allowed(actor, Permission.RISK_REVOKE, record=risk)
    reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    if risk.state not in (RiskState.ACCEPTED, RiskState.PENDING, RiskState.DRAFT):
        raise Conflict(f"{risk.ref} is {risk.state.value}; only a live acceptance is revoked.")
    row = risk.open_round()
    if row is not None:
        row.state, row.closed_at = RoundState.CLOSED, now
    risk.closed_reason = reason
    _transition(
        session, risk, RiskState.REVOKED, actor=actor, now=now, action="risk.revoked", note=reason
    )
    return risk


def renew(
    session: Session,
    *,
    actor: Actor,
    number: int,
    expires_on: date,
    now: datetime,
    policy: RiskPolicy,
) -> RiskAcceptance:
    """Ask both sides to approve a new expiry in a new round.

    The acceptance in force is untouched (state, expiry, reminders) until the renewal is
    approved; earlier rounds stay in the history.
    """
    risk = get_risk(session, number=number, lock=True)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state not in (RiskState.ACCEPTED, RiskState.EXPIRED, RiskState.LAPSED):
        raise Conflict(
            f"{risk.ref} is {risk.state.value.replace('_', ' ')}; only an accepted or expired "
            "acceptance can be renewed."
        )
    current = risk.open_round()
    if current is not None:
        raise Conflict(
            f"Round {current.round} of {risk.ref} is already waiting for approval.",
            hint=f"Wait for it, or have it rejected: `/accord risk reject {risk.ref} <reason>`.",
        )
    expires = _expiry(expires_on, band=risk.band, today=now.date(), policy=policy)
    if expires == risk.expires_on and risk.state == RiskState.ACCEPTED:
        raise Conflict(f"{risk.ref} already expires on {expires.isoformat()}; nothing to renew.")
    proposed: dict[str, Any] = {"expires_on": expires.isoformat()}
    if risk.state != RiskState.ACCEPTED:
        # Nothing is in force to keep: the record waits for approval again, and returns to
        # its previous state if the renewal is rejected or lapses.
        proposed["state_before"] = risk.state.value
    row = _start_round(
        session, risk, kind=RoundKind.RENEWAL, actor=actor, now=now, proposed=proposed
    )
    if risk.state != RiskState.ACCEPTED:
        risk.state = RiskState.PENDING
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.renewal_requested",
        before={"expires_on": risk.expires_on.isoformat()},
        after={"round": row.round, "proposed_expires_on": expires.isoformat()},
    )
    return risk


def update_risk(
    session: Session,
    *,
    actor: Actor,
    number: int,
    changes: RiskChanges,
    now: datetime,
    policy: RiskPolicy,
) -> tuple[RiskAcceptance, bool]:
    """Edit a record; a material change to an approved or pending record opens a new round.

    Returns the record and whether the approvals were reset.
    """
    if changes.is_empty():
        raise InvalidInput(
            "Nothing to change.",
            hint='e.g. `/accord risk update RSK-2 likelihood:2 controls:"WAF rule 91"`',
        )
    risk = get_risk(session, number=number, lock=True)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state not in (
        RiskState.DRAFT,
        RiskState.PENDING,
        RiskState.ACCEPTED,
        RiskState.REJECTED,  # mended before it is submitted again
    ):
        raise Conflict(f"{risk.ref} is {risk.state.value}; it can no longer be changed.")
    before = risk.snapshot()
    if changes.title is not None:
        risk.title = bounded_text(changes.title, field="title", max_length=TITLE_MAX, required=True)
    if changes.description is not None:
        risk.description = bounded_text(
            changes.description, field="description", max_length=DESCRIPTION_MAX
        )
    if changes.asset is not None:
        risk.asset = bounded_text(changes.asset, field="asset", max_length=ASSET_MAX)
    if changes.controls is not None:
        risk.controls = bounded_text(changes.controls, field="controls", max_length=CONTROLS_MAX)
    if changes.likelihood is not None:
        risk.likelihood = _rating(changes.likelihood, field="likelihood")
    if changes.impact is not None:
        risk.impact = _rating(changes.impact, field="impact")
    if changes.initiative_id is not None:
        risk.initiative_id = _initiative(session, changes.initiative_id)
    if changes.techniques is not None:
        risk.techniques, risk.technique_info = _checked_techniques(session, changes.techniques)
    if changes.owner_id is not None:
        risk.owner_id = changes.owner_id
    if changes.treatment is not None:
        risk.treatment = changes.treatment
    if changes.treatment_due is not None:
        risk.treatment_due = _treatment_due(changes.treatment_due, today=now.date())
    if changes.evidence is not None:
        risk.evidence = list(parse_evidence(changes.evidence))
    if changes.retired_by_id is not None:
        risk.retired_by_id = _initiative(session, changes.retired_by_id)
        session.flush()
        session.expire(risk, ["retired_by"])  # the view-only link follows the new id
    if changes.residual is not None:
        risk.residual_likelihood, risk.residual_impact = changes.residual
    if risk.residual_score is not None:
        check_residual(
            (risk.residual_likelihood or 0, risk.residual_impact or 0),
            likelihood=risk.likelihood,
            impact=risk.impact,
        )
    if (
        changes.expires_on is not None
        or changes.likelihood
        or changes.impact
        or changes.residual is not None
    ):
        # A higher band may shorten the longest allowed acceptance.
        risk.expires_on = _expiry(
            changes.expires_on or risk.expires_on, band=risk.band, today=now.date(), policy=policy
        )
    old, new = changed_fields(before, risk.snapshot())
    if not new:
        raise Conflict(f"{risk.ref} already has those values; nothing changed.")
    material = any(key in new for key in (*MATERIAL_FIELDS, "score"))
    reset = material and risk.state in (RiskState.PENDING, RiskState.ACCEPTED)
    if reset:
        # The record no longer says what was approved: it is suspended until both sides
        # approve the changed record in a new round requested by whoever changed it.
        _start_round(session, risk, kind=RoundKind.CHANGE, actor=actor, now=now)
        risk.state = RiskState.PENDING
    risk.updated_by = actor.user_id
    risk.updated_at = now
    old, new = changed_fields(before, risk.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.updated",
        before=old,
        after=new,
        note="material change: both sides must approve again" if reset else None,
    )
    return risk, reset


def snooze(
    session: Session, *, actor: Actor, number: int, days: int, now: datetime
) -> RiskAcceptance:
    risk = get_risk(session, number=number, lock=True)
    ensure_allowed(actor, Permission.RISK_CHANGE, record=risk)
    if risk.state != RiskState.ACCEPTED:
        raise Conflict(f"{risk.ref} is {risk.state.value}; there is no expiry reminder to snooze.")
    until = min(now.date() + timedelta(days=days), risk.expires_on - timedelta(days=1))
    if until <= now.date():
        raise Conflict(f"{risk.ref} expires too soon to snooze its reminder.")
    previous = risk.snoozed_until.isoformat() if risk.snoozed_until else None
    risk.snoozed_until = until
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=risk.ref,
        action="risk.reminder_snoozed",
        before={"snoozed_until": previous},
        after={"snoozed_until": until.isoformat()},
    )
    return risk


def set_round_messages(
    session: Session, *, number: int, round_: int, messages: list[dict[str, str]]
) -> None:
    """Remember where a round's approval request was posted (for later chat.update)."""
    risk = get_risk(session, number=number, lock=True)
    row = risk.round_row(round_)
    if row is not None:
        row.messages = [*row.messages, *messages]
