"""Risk techniques are checked against the shipped ATT&CK Enterprise data, or a newer release
loaded with `accord attack update`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from bot.config import Settings
from bot.db import make_engine, upgrade
from bot.domain.attack.catalogue import shipped
from bot.domain.attack.service import current_catalogue, import_bundle
from bot.domain.errors import InvalidInput
from bot.domain.risks import RiskChanges, RiskDraft
from bot.domain.risks.policy import RiskPolicy
from bot.domain.risks.service import create_risk, update_risk
from bot.domain.roles import Actor, Role
from tests.test_cli import run

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ANN = Actor("U0ANN", frozenset({Role.CIO}))
POLICY = RiskPolicy.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def session(migrated_database_url: str) -> Iterator[Session]:
    engine = make_engine(migrated_database_url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def request(session: Session, *techniques: str) -> Any:
    draft = RiskDraft(
        title="Legacy VPN",
        likelihood=2,
        impact=2,
        expires_on=date(2027, 1, 31),
        techniques=techniques,
    )
    return create_risk(session, actor=ANN, draft=draft, now=NOW, policy=POLICY)


def test_the_shipped_release_is_enterprise_18_1_with_every_technique() -> None:
    catalogue = shipped()
    assert catalogue.version == "18.1"
    live = catalogue.live()
    # ATT&CK v18.1 Enterprise: 216 techniques and 475 sub-techniques in force.
    assert len([t for t in live if "." not in t.id]) == 216
    assert len([t for t in live if "." in t.id]) == 475
    assert all(t.name and t.tactics for t in live)
    assert catalogue.check([t.id for t in live]) == live


def test_every_live_technique_is_accepted_on_a_risk_with_its_name(session: Session) -> None:
    live = shipped().live()
    for start in range(0, len(live), 20):
        chunk = live[start : start + 20]
        risk = request(session, *(t.id for t in chunk))
        assert [t.name for t in risk.technique_details] == [t.name for t in chunk]
    valid = request(session, "T1078.004")
    assert valid.technique_details[0].name == "Cloud Accounts"
    assert valid.tactics == [
        "defense-evasion",
        "persistence",
        "privilege-escalation",
        "initial-access",
    ]


def test_an_id_that_does_not_exist_is_refused_with_the_closest_ones(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        request(session, "T1078", "T1999")
    assert "`T1999` is not a technique in ATT&CK Enterprise v18.1" in refused.value.message
    hint = refused.value.hint or ""
    assert hint.startswith("Closest: `T1")
    with pytest.raises(InvalidInput) as sub:
        request(session, "T1078.009")
    assert "`T1078.001` Default Accounts" in (sub.value.hint or "")


def test_a_revoked_id_is_refused_naming_its_replacement(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        request(session, "T1002")
    assert "`T1002` (Data Compressed) is revoked" in refused.value.message
    assert refused.value.hint == "Use `T1560` Archive Collected Data instead."
    risk = request(session, "T1560")
    with pytest.raises(InvalidInput, match="revoked"):
        update_risk(
            session,
            actor=ANN,
            number=risk.id,
            changes=RiskChanges(techniques=("T1002",)),
            now=NOW,
            policy=POLICY,
        )


def technique(stix_id: str, external_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": stix_id,
        "name": name,
        "external_references": [{"source_name": "mitre-attack", "external_id": external_id}],
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "impact"}],
        **extra,
    }


def small_bundle() -> dict[str, Any]:
    """A release in which T1999 exists and T1078 was revoked in favour of it."""
    return {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {
                "type": "x-mitre-collection",
                "id": "x-mitre-collection--1",
                "x_mitre_version": "99.0",
            },
            technique("attack-pattern--a", "T1999", "Imaginary Technique"),
            technique("attack-pattern--b", "T1078", "Valid Accounts", revoked=True),
            technique("attack-pattern--c", "T1566", "Phishing"),
            technique(
                "attack-pattern--d", "T0886", "Remote Services", x_mitre_domains=["ics-attack"]
            ),
            {
                "type": "relationship",
                "id": "relationship--1",
                "relationship_type": "revoked-by",
                "source_ref": "attack-pattern--b",
                "target_ref": "attack-pattern--a",
            },
        ],
    }


def test_an_imported_bundle_changes_what_is_accepted(session: Session) -> None:
    result = import_bundle(
        session, bundle=small_bundle(), source="small.json", actor_id="accord-cli", now=NOW
    )
    assert result.catalogue.version == "99.0"
    assert [t.id for t in result.added] == ["T1999"]
    assert result.catalogue.get("T0886") is None  # an ICS technique: not Enterprise
    assert current_catalogue(session).version == "99.0"
    assert request(session, "T1999").technique_details[0].name == "Imaginary Technique"
    with pytest.raises(InvalidInput) as refused:
        request(session, "T1078")
    assert refused.value.hint == "Use `T1999` Imaginary Technique instead."
    with pytest.raises(InvalidInput, match=r"not a technique in ATT&CK Enterprise v99\.0"):
        request(session, "T1003")


def test_a_file_that_is_not_a_bundle_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="not a STIX bundle"):
        import_bundle(session, bundle={"x": 1}, source="x.json", actor_id="cli", now=NOW)
    assert current_catalogue(session).version == "18.1"


def test_attack_update_command_loads_a_release_for_every_replica(tmp_path: Path) -> None:
    database = tmp_path / "accord.db"
    bundle = tmp_path / "enterprise-attack.json"
    bundle.write_text(json.dumps(small_bundle()))
    shown = run(["attack", "show", "--database", str(database)], cwd=tmp_path)
    assert shown.returncode == 2  # no database yet: an error, not an empty one
    updated = run(["attack", "update", str(bundle), "--database", str(database)], cwd=tmp_path)
    assert updated.returncode == 0, updated.stderr
    assert "ATT&CK Enterprise v99.0: 2 techniques in force (was v18.1); 1 new" in updated.stdout
    shown = run(["attack", "show", "--database", str(database)], cwd=tmp_path)
    assert "v99.0 (enterprise-attack.json): 2 techniques in force" in shown.stdout
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    refused = run(["attack", "update", str(broken), "--database", str(database)], cwd=tmp_path)
    assert refused.returncode == 2 and "is not JSON" in refused.stderr
