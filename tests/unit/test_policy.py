"""Separation of duties as the services enforce it (no Slack): the ways a determined person
tried to talk their way around the rules, each refused with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from bot.clock import Clock
from bot.db import make_engine, session_scope, upgrade
from bot.domain import disagreements as dis
from bot.domain import escalations as esc
from bot.domain import risks, role_changes
from bot.domain.audit import AuditEvent
from bot.domain.errors import Forbidden
from bot.domain.permissions import Permission, allowed, ensure_allowed, policy_table
from bot.domain.risk_export import ExportFormat, export_register
from bot.domain.roles import Actor, Directory, Role, RoleChangeKind

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLICY = risks.RiskPolicy(
    max_days={band: 365 for band in risks.Band},
    review_days={band: 90 for band in risks.Band},
)
CIO_A = Actor("U0CIOA", frozenset({Role.CIO}))
CIO_B = Actor("U0CIOB", frozenset({Role.CIO}))
CISO_C = Actor("U0CISOC", frozenset({Role.CISO}))
CISO_D = Actor("U0CISOD", frozenset({Role.CISO}))
ADMIN = Actor("U0ADM1", frozenset({Role.ADMIN}))
ADMIN_2 = Actor("U0ADM2", frozenset({Role.ADMIN}))
EXEC_E = Actor("U0EXECE", frozenset({Role.EXECUTIVE}))
EXEC_F = Actor("U0EXECF", frozenset({Role.EXECUTIVE}))
OUTSIDER = Actor("U0OUT", frozenset())


class _Fixed(Clock):
    def now(self) -> datetime:
        return NOW


class _NoGroups:
    def members(self, group_id: str) -> list[str]:
        return []


@pytest.fixture
def engine(migrated_sqlite_url: str) -> Iterator[Engine]:
    built = make_engine(migrated_sqlite_url)
    upgrade(built)
    yield built
    built.dispose()


def directory() -> Directory:
    return Directory(
        configured={Role.ADMIN: [ADMIN.user_id, ADMIN_2.user_id]},
        groups=_NoGroups(),
        clock=_Fixed(),
    )


def _events(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def _new_risk(engine: Engine, requester: Actor = CIO_A) -> int:
    draft = risks.RiskDraft(
        title="3 hosts without MFA", likelihood=3, impact=3, expires_on=date(2027, 1, 31)
    )
    with session_scope(engine) as session:
        risk = risks.create_risk(session, actor=requester, draft=draft, now=NOW, policy=POLICY)
        assert risk.id is not None
        return risk.id


def _approve(engine: Engine, actor: Actor, number: int) -> risks.DecisionResult:
    with session_scope(engine) as session:
        return risks.decide(
            session, actor=actor, number=number, decision=risks.Decision.APPROVED, now=NOW
        )


def _state(engine: Engine, number: int) -> risks.RiskState:
    with session_scope(engine) as session:
        return risks.get_risk(session, number=number).state


def test_one_person_swapped_between_sides_cannot_approve_both(engine: Engine) -> None:
    number = _new_risk(engine, CISO_D)
    swapped = "U0SWAP"
    _approve(engine, Actor(swapped, frozenset({Role.CIO})), number)
    with pytest.raises(Forbidden, match="already decided this round of RSK-1 for the CIO side"):
        _approve(engine, Actor(swapped, frozenset({Role.CISO})), number)
    assert _state(engine, number) == risks.RiskState.PENDING
    accepted = _approve(engine, CISO_C, number)
    assert accepted.became_accepted
    assert {a.approver_id for a in accepted.risk.approvals} == {swapped, CISO_C.user_id}


def test_each_approval_keeps_the_side_and_roles_held_at_that_moment(engine: Engine) -> None:
    number = _new_risk(engine)
    both = Actor("U0BOTH", frozenset({Role.CISO, Role.EXECUTIVE}))
    result = _approve(engine, both, number)
    assert (result.approval.side, result.approval.held_roles) == (Role.CISO, ["ciso", "executive"])


def test_requester_of_any_round_never_approves_a_later_one(engine: Engine) -> None:
    number = _new_risk(engine, CIO_A)
    _approve(engine, CIO_B, number)
    assert _approve(engine, CISO_C, number).became_accepted
    with session_scope(engine) as session:  # someone else's material change: round 2
        _, reset = risks.update_risk(
            session,
            actor=ADMIN,
            number=number,
            changes=risks.RiskChanges(impact=4),
            now=NOW,
            policy=POLICY,
        )
    assert reset
    with pytest.raises(Forbidden, match="You requested a round of RSK-1"):
        _approve(engine, CIO_A, number)
    assert not _approve(engine, CIO_B, number).became_accepted
    assert _state(engine, number) == risks.RiskState.PENDING


@pytest.mark.parametrize(
    "changes",
    [
        risks.RiskChanges(title="All remote access without MFA"),
        risks.RiskChanges(description="Every VPN account, contractors included"),
    ],
)
def test_renaming_an_accepted_risk_needs_both_sides_again(
    engine: Engine, changes: risks.RiskChanges
) -> None:
    number = _new_risk(engine)
    _approve(engine, CIO_B, number)
    _approve(engine, CISO_C, number)
    with session_scope(engine) as session:
        risk, reset = risks.update_risk(
            session, actor=CIO_A, number=number, changes=changes, now=NOW, policy=POLICY
        )
        assert reset and risk.state == risks.RiskState.PENDING and risk.round == 2


def test_nobody_changes_a_role_of_their_own(engine: Engine) -> None:
    with session_scope(engine) as session:
        for role in Role:
            with pytest.raises(Forbidden, match="Nobody grants or removes a role of their own"):
                role_changes.request_role_change(
                    session,
                    actor=ADMIN,
                    directory=directory(),
                    kind=RoleChangeKind.GRANT,
                    role=role,
                    subject_id=ADMIN.user_id,
                    now=NOW,
                )
        assert _events(session) == 0


def test_a_side_change_takes_effect_only_when_a_second_admin_confirms(engine: Engine) -> None:
    people = directory()
    with session_scope(engine) as session:
        result = role_changes.request_role_change(
            session,
            actor=ADMIN,
            directory=people,
            kind=RoleChangeKind.GRANT,
            role=Role.CISO,
            subject_id="U0NEW",
            now=NOW,
        )
        assert result.pending is not None and result.pending.id is not None
        number = result.pending.id
        assert not people.actor(session, "U0NEW").on_side(Role.CISO)
    with session_scope(engine) as session, pytest.raises(Forbidden, match="second admin"):
        role_changes.confirm_role_change(
            session, actor=ADMIN, directory=people, number=number, now=NOW
        )
    with session_scope(engine) as session:
        role_changes.confirm_role_change(
            session, actor=ADMIN_2, directory=people, number=number, now=NOW
        )
    with session_scope(engine) as session:
        granted = people.actor(session, "U0NEW")
        assert granted.on_side(Role.CISO)
        assert granted.grants == (
            (
                Role.CISO,
                f"role change #1: CISO side given to U0NEW by U0ADM1, confirmed by "
                f"U0ADM2 on {NOW.date().isoformat()}",
            ),
        )
    number = _new_risk(engine)
    _approve(engine, granted, number)
    with session_scope(engine) as session:  # the trail of the record names the grant
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "risk.approved")).one()
        assert event.after is not None and "role change #1" in event.after["via_grant"]
        approval = risks.get_risk(session, number=number).approvals[0]
        assert approval.via_grant is not None and "confirmed by U0ADM2" in approval.via_grant
    with session_scope(engine) as session:  # and so does the auditor's export
        exported = json.loads(
            export_register(session, actor=CISO_C, fmt=ExportFormat.JSON, name="r.json", now=NOW)
        )
        approval_row = exported["risks"][0]["approvals"][0]
        assert approval_row["roles_held"] == ["ciso"]
        assert "role change #1" in approval_row["via_grant"]


def _escalated(engine: Engine, *, to: str | None = None, delegate: str | None = None) -> int:
    with session_scope(engine) as session:
        disagreement = dis.create_disagreement(
            session,
            actor=CIO_A,
            draft=dis.DisagreementDraft(position="Ship on the 1st", subject="Gateway go-live"),
            now=NOW,
        )
        dis.state_position(
            session,
            actor=CISO_C,
            number=disagreement.id or 0,
            position="Not before the CVE fix",
            now=NOW,
        )
        escalation, _ = esc.reserve_escalation(
            session,
            actor=CIO_A,
            request=esc.EscalationRequest(
                number=disagreement.id or 0, addressed_to=to, delegate=delegate
            ),
            executives=frozenset({EXEC_E.user_id, EXEC_F.user_id, "U0EXCIO"}),
            now=NOW,
        )
        esc.attach_thread(
            session, number=escalation.id or 0, channel_id="C0EXEC", thread_ts="1.2", now=NOW
        )
        return escalation.id or 0


def _decide(engine: Engine, actor: Actor, number: int) -> None:
    with session_scope(engine) as session:
        escalation = esc.get_escalation(session, number=number)
        disagreement = dis.get_disagreement(session, number=escalation.disagreement_id)
        key = esc.option_key(disagreement.choices[0])
        esc.decide(
            session,
            actor=actor,
            number=number,
            decision=esc.Decision(
                kind=esc.DecisionKind.OPTION, option=0, option_key=key, rationale="Why not."
            ),
            now=NOW,
        )


def test_an_executive_on_a_side_never_decides_its_escalation(engine: Engine) -> None:
    number = _escalated(engine)
    for side in (Role.CIO, Role.CISO):
        on_side = Actor("U0EXCIO", frozenset({Role.EXECUTIVE, side}))
        with pytest.raises(Forbidden, match="a party to ESC-1"):
            _decide(engine, on_side, number)
    _decide(engine, EXEC_E, number)


def test_an_addressed_escalation_is_decided_by_that_executive_or_the_delegate(
    engine: Engine,
) -> None:
    number = _escalated(engine, to=EXEC_E.user_id)
    with pytest.raises(Forbidden, match="addressed to"):
        _decide(engine, EXEC_F, number)
    _decide(engine, EXEC_E, number)
    with session_scope(engine) as session:
        session.exec(select(esc.Escalation)).one()  # decided once
    delegated = _escalated_again(engine)
    _decide(engine, EXEC_F, delegated)


def _escalated_again(engine: Engine) -> int:
    return _escalated(engine, to=EXEC_E.user_id, delegate=EXEC_F.user_id)


def test_each_side_writes_only_its_own_impact(engine: Engine) -> None:
    number = _escalated(engine)
    with session_scope(engine) as session:
        disagreement = esc.get_escalation(session, number=number).disagreement_id
    cases = [
        (CIO_A, dis.DisagreementDetails(security_impact="negligible"), "Only the CISO side"),
        (CISO_C, dis.DisagreementDetails(business_impact="none"), "Only the CIO side"),
        (CIO_A, dis.DisagreementDetails(options=["Ship now"]), "is escalated"),
    ]
    for actor, details, refusal in cases:
        with session_scope(engine) as session, pytest.raises(Forbidden, match=refusal):
            dis.update_details(session, actor=actor, number=disagreement, details=details, now=NOW)
    with session_scope(engine) as session:
        dis.update_details(
            session,
            actor=CISO_C,
            number=disagreement,
            details=dis.DisagreementDetails(security_impact="exposed CVE"),
            now=NOW,
        )
        found = dis.get_disagreement(session, number=disagreement)
        assert (found.security_impact, found.business_impact) == ("exposed CVE", "")
        assert found.options == []


def test_an_outsider_cannot_export_and_every_export_is_audited(engine: Engine) -> None:
    _new_risk(engine)
    with session_scope(engine) as session, pytest.raises(Forbidden, match="export"):
        export_register(session, actor=OUTSIDER, fmt=ExportFormat.JSON, name="x.json", now=NOW)
    with session_scope(engine) as session:
        content = export_register(
            session, actor=CISO_C, fmt=ExportFormat.JSON, name="x.json", now=NOW
        )
        assert "3 hosts without MFA" in content
    with session_scope(engine) as session:
        exported = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "register.exported")
        ).all()
        assert [(e.actor_id, e.after) for e in exported] == [
            (CISO_C.user_id, {"format": "json", "file": "x.json", "records": 1})
        ]


def test_the_readme_table_is_the_policy() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("<!-- policy-table:start -->\n") + len("<!-- policy-table:start -->\n")
    end = readme.index("<!-- policy-table:end -->")
    assert readme[start:end] == policy_table()


def test_two_admins_confirming_at_once_grant_the_side_once(migrated_database_url: str) -> None:
    """The change is locked for the confirmation (`lock_row`): of two concurrent confirmations
    one takes effect and the other is told it is already confirmed."""
    import threading

    from bot.domain.errors import Conflict
    from bot.domain.roles import RoleGrant

    engine = make_engine(migrated_database_url)
    upgrade(engine)
    third = Actor("U0ADM3", frozenset({Role.ADMIN}))
    people = Directory(
        configured={Role.ADMIN: [ADMIN.user_id, ADMIN_2.user_id, third.user_id]},
        groups=_NoGroups(),
        clock=_Fixed(),
    )
    try:
        with session_scope(engine) as session:
            pending = role_changes.request_role_change(
                session,
                actor=ADMIN,
                directory=people,
                kind=RoleChangeKind.GRANT,
                role=Role.CIO,
                subject_id="U0NEW",
                now=NOW,
            ).pending
            assert pending is not None and pending.id is not None
            number = pending.id
        outcomes: list[str] = []
        start = threading.Barrier(2)

        def confirm(actor: Actor) -> None:
            start.wait()
            try:
                with session_scope(engine) as session:
                    role_changes.confirm_role_change(
                        session, actor=actor, directory=people, number=number, now=NOW
                    )
                outcomes.append("confirmed")
            except Conflict as refused:
                outcomes.append(refused.message)

        workers = [threading.Thread(target=confirm, args=(a,)) for a in (ADMIN_2, third)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(outcomes)[0] == "confirmed"
        assert "already confirmed" in sorted(outcomes)[1]
        with session_scope(engine) as session:
            grants = session.exec(select(RoleGrant)).all()
            assert [
                (g.subject_id, g.confirmed_by in (ADMIN_2.user_id, "U0ADM3")) for g in grants
            ] == [("U0NEW", True)]
            granted = session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "role.granted")
            ).one()
            assert granted == 1
    finally:
        engine.dispose()


def test_an_executive_on_the_cio_side_cannot_lift_or_bypass_a_ciso_hold() -> None:
    """Releasing, narrowing or overriding a hold is the CISO side's, or a neutral
    executive's: someone who is also on the CIO side would be judging their own work."""
    cio_executive = Actor("U0EXCIO", frozenset({Role.EXECUTIVE, Role.CIO}))
    both_sides = Actor("U0BOTH", frozenset({Role.CIO, Role.CISO}))
    for permission in (Permission.HOLD_RELEASE, Permission.HOLD_NARROW):
        assert allowed(CISO_C, permission) and allowed(EXEC_E, permission)
        assert not allowed(cio_executive, permission)
        assert not allowed(both_sides, permission)
        assert not allowed(CIO_A, permission)
    assert allowed(EXEC_E, Permission.GATE_OVERRIDE)
    assert not allowed(cio_executive, Permission.GATE_OVERRIDE)
    assert not allowed(
        Actor("U0EXCISO", frozenset({Role.EXECUTIVE, Role.CISO})), Permission.GATE_OVERRIDE
    )
    with pytest.raises(Forbidden, match="neither side"):
        ensure_allowed(cio_executive, Permission.HOLD_RELEASE)


def test_two_admins_proposing_one_side_change_at_once_leave_one_waiting(
    migrated_database_url: str,
) -> None:
    """No row to lock yet: the check "nothing of this kind is waiting" is serialised per person
    and role (`lock_key`), so the second admin is told the first's change is waiting."""
    import threading

    from bot.domain.errors import Conflict
    from bot.domain.roles import RoleChange

    engine = make_engine(migrated_database_url)
    upgrade(engine)
    people = Directory(
        configured={Role.ADMIN: [ADMIN.user_id, ADMIN_2.user_id]},
        groups=_NoGroups(),
        clock=_Fixed(),
    )
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def propose(actor: Actor) -> None:
        start.wait()
        try:
            with session_scope(engine) as session:
                role_changes.request_role_change(
                    session,
                    actor=actor,
                    directory=people,
                    kind=RoleChangeKind.GRANT,
                    role=Role.CISO,
                    subject_id="U0NEW",
                    now=NOW,
                )
            outcomes.append("proposed")
        except Conflict as refused:
            outcomes.append(refused.message)

    try:
        workers = [threading.Thread(target=propose, args=(a,)) for a in (ADMIN, ADMIN_2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(outcomes)[0].startswith("A change of that user's")
        assert sorted(outcomes)[1] == "proposed"
        with session_scope(engine) as session:
            assert len(session.exec(select(RoleChange)).all()) == 1
    finally:
        engine.dispose()
