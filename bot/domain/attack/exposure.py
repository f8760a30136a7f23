"""Accepted exposure in ATT&CK terms: accepted risks by tactic, and a Navigator layer.

Only acceptances in force count: state `accepted` and an expiry date not passed (expired,
revoked, rejected and pending records leave nothing accepted)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from bot.domain.attack.catalogue import (
    DOMAIN,
    Catalogue,
    tactic_name,
    tactic_order,
)
from bot.domain.refs import Kind, format_ref
from bot.domain.risks.models import RiskAcceptance, RiskState, tactics_of, technique_details

#: "Expiring" as `/accord risk list expiring` counts it.
EXPIRING_DAYS = 30
NO_TECHNIQUE = ""
#: The Navigator's current layer format (ATT&CK Navigator 5.x reads 4.5 layers).
LAYER_FORMAT = "4.5"
NAVIGATOR_VERSION = "5.1.0"


@dataclass(frozen=True)
class AcceptedRisk:
    """What exposure needs of an accepted record (read without its history)."""

    ref: str
    title: str
    score: int
    expires_on: date
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    #: The initiatives it is linked to or would be retired by.
    initiatives: tuple[str, ...] = ()
    owner_id: str = ""


@dataclass(frozen=True)
class TacticExposure:
    tactic: str  # ATT&CK shortname; "" for accepted risks that name no technique
    accepted: int
    expiring: int
    highest: int
    refs: tuple[str, ...]

    @property
    def name(self) -> str:
        return tactic_name(self.tactic) if self.tactic else "No technique named"


def accepted_in_force(session: Session, *, today: date) -> list[AcceptedRisk]:
    """One statement over the columns exposure needs: every acceptance in force, highest
    score first."""
    # (twelve columns: SQLAlchemy's own select; SQLModel's is typed for up to four)
    rows = session.execute(
        sql_select(
            col(RiskAcceptance.id),
            col(RiskAcceptance.title),
            col(RiskAcceptance.likelihood),
            col(RiskAcceptance.impact),
            col(RiskAcceptance.residual_likelihood),
            col(RiskAcceptance.residual_impact),
            col(RiskAcceptance.expires_on),
            col(RiskAcceptance.techniques),
            col(RiskAcceptance.technique_info),
            col(RiskAcceptance.initiative_id),
            col(RiskAcceptance.retired_by_id),
            func.coalesce(col(RiskAcceptance.owner_id), col(RiskAcceptance.requested_by)),
        )
        .where(col(RiskAcceptance.state) == RiskState.ACCEPTED)
        .where(col(RiskAcceptance.expires_on) >= today)
        .order_by(col(RiskAcceptance.id))
    ).all()
    found = []
    for row in rows:
        number, title, likelihood, impact, r_likelihood, r_impact, expires = row[:7]
        techniques, info, initiative_id, retired_by_id, owner_id = row[7:]
        linked = dict.fromkeys(
            format_ref(Kind.INITIATIVE, n) for n in (initiative_id, retired_by_id) if n
        )
        details = technique_details(techniques or [], info)
        found.append(
            AcceptedRisk(
                ref=format_ref(Kind.RISK, number),
                title=title,
                # the score that counts: residual when given (as RiskAcceptance.score)
                score=r_likelihood * r_impact if r_likelihood and r_impact else likelihood * impact,
                expires_on=expires,
                techniques=tuple(t.id for t in details),
                tactics=tuple(tactics_of(details)),
                initiatives=tuple(linked),
                owner_id=owner_id,
            )
        )
    return sorted(found, key=lambda r: -r.score)


def by_tactic(risks: Sequence[AcceptedRisk], *, today: date) -> list[TacticExposure]:
    """Per tactic (matrix order): how many accepted, how many expire within 30 days, and the
    highest score; a risk with several tactics counts under each."""
    soon = today + timedelta(days=EXPIRING_DAYS)
    groups: dict[str, list[AcceptedRisk]] = {}
    for risk in risks:
        for tactic in risk.tactics or (NO_TECHNIQUE,):
            groups.setdefault(tactic, []).append(risk)
    rows = [
        TacticExposure(
            tactic=tactic,
            accepted=len(members),
            expiring=sum(1 for r in members if r.expires_on <= soon),
            highest=max(r.score for r in members),
            refs=tuple(r.ref for r in members),
        )
        for tactic, members in groups.items()
    ]
    return sorted(rows, key=lambda row: (not row.tactic, tactic_order(row.tactic)))


def navigator_layer(
    risks: Sequence[AcceptedRisk], *, catalogue: Catalogue, today: date
) -> dict[str, Any]:
    """An ATT&CK Navigator layer (format 4.5): each accepted technique once, scored by the
    highest score of the risks that accept it, with their RSK ids in its comment."""
    per_technique: dict[str, list[AcceptedRisk]] = {}
    for risk in risks:
        for technique_id in risk.techniques:
            per_technique.setdefault(technique_id, []).append(risk)
    techniques = []
    for technique_id in sorted(per_technique, key=lambda t: catalogue.describe(t).sort_key):
        members = sorted(per_technique[technique_id], key=lambda r: (-r.score, r.ref))
        techniques.append(
            {
                "techniqueID": technique_id,
                "score": max(r.score for r in members),
                "comment": "Accepted in " + ", ".join(f"{r.ref} ({r.score})" for r in members),
                "enabled": True,
                "showSubtechniques": "." in technique_id,
                "metadata": [{"name": r.ref, "value": r.title[:200]} for r in members],
            }
        )
    return {
        "name": "Accord: accepted risk",
        "versions": {
            "attack": catalogue.version.partition(".")[0],
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_FORMAT,
        },
        "domain": DOMAIN,
        "description": (
            f"Techniques left open by risk acceptances in force on {today.isoformat()}, scored "
            "by risk score (likelihood × impact, 1–25). Exported by Accord."
        ),
        "sorting": 3,
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": ["#ffe766", "#ff6666"], "minValue": 1, "maxValue": 25},
        "legendItems": [],
        "metadata": [{"name": "as of", "value": today.isoformat()}],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
    }
