"""The auditor's export of the risk register: every field and every approval, CSV or JSON.

Shared by `accord export risks` and `/accord risk export`. JSON is one object per record with
its `approvals`; CSV is one row per decision (the record's fields repeated), and one row with
empty approval columns for a record nobody has decided on yet.

JSON is exact: every value as stored (control characters other than line breaks and tabs are
removed on input, and here too from records stored before that). CSV guards against formula
injection: a text cell whose first character is `=`, `+`, `-`, `@`, a tab or a carriage return
gets a leading apostrophe (`'`) so a spreadsheet shows it as text instead of running it (OWASP
"CSV injection"). An auditor who needs the exact text uses the JSON export (or strips that one
leading apostrophe).

People are named beside their user ids (`requested_by_name`, `approver_name`,
`updated_by_name`) when the workspace can say who they are; the id stays the key.

Each record also lists its approval rounds (`rounds`: who asked, what it proposed, how it ended);
in CSV they are one JSON cell, `approval_rounds`. Each approval names the roles its approver
held at that moment (`roles_held`) and the run-time grant that gave the side, if any
(`via_grant`), because sides change later.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from bot.domain.audit import record_event
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.risks import RiskAcceptance, RiskApproval, RiskRound, all_risks
from bot.domain.roles import Actor
from bot.domain.validation import clean_value

#: A person's name from their user id, or None when nobody can say (no workspace, unknown).
Names = Callable[[str], str | None]


def _no_names(_user_id: str) -> str | None:
    return None


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


RISK_COLUMNS = (
    "id",
    "title",
    "description",
    "initiative",
    "asset",
    "likelihood",
    "impact",
    "inherent_score",
    "residual_likelihood",
    "residual_impact",
    "residual_score",
    "score",
    "band",
    "owner",
    "treatment",
    "treatment_due",
    "evidence",
    "retired_by",
    "controls",
    "techniques",
    "technique_names",
    "tactics",
    "requested_by",
    "requested_by_name",
    "expires_on",
    "review_days",
    "next_review_on",
    "state",
    "round",
    "closed_reason",
    "snoozed_until",
    "created_at",
    "updated_by",
    "updated_by_name",
    "updated_at",
)
LIST_COLUMNS = frozenset({"techniques", "technique_names", "tactics", "evidence"})
APPROVAL_COLUMNS = (
    "approval_round",
    "approval_side",
    "approver",
    "approver_name",
    "decision",
    "decision_reason",
    "decided_at",
    "approved_snapshot",
    "approver_roles",
    "approver_via_grant",
    "approval_rounds",
)


def risk_record(risk: RiskAcceptance, names: Names = _no_names) -> dict[str, Any]:
    return {
        "id": risk.ref,
        "title": risk.title,
        "description": risk.description,
        "initiative": risk.initiative_ref,
        "asset": risk.asset,
        "likelihood": risk.likelihood,
        "impact": risk.impact,
        "inherent_score": risk.inherent_score,
        "residual_likelihood": risk.residual_likelihood,
        "residual_impact": risk.residual_impact,
        "residual_score": risk.residual_score,
        "score": risk.score,
        "band": risk.band.value,
        "owner": risk.owner,
        "treatment": risk.treatment.value,
        "treatment_due": risk.treatment_due.isoformat() if risk.treatment_due else None,
        "evidence": list(risk.evidence),
        "retired_by": risk.retired_by_ref,
        "controls": risk.controls,
        "techniques": list(risk.techniques),
        "technique_names": [f"{t.id} {t.name}".strip() for t in risk.technique_details],
        "tactics": list(risk.tactics),
        "requested_by": risk.requested_by,
        "requested_by_name": names(risk.requested_by),
        "expires_on": risk.expires_on.isoformat(),
        "review_days": risk.review_days,
        "next_review_on": risk.next_review_on.isoformat(),
        "state": risk.state.value,
        "round": risk.round,
        "closed_reason": risk.closed_reason,
        "snoozed_until": risk.snoozed_until.isoformat() if risk.snoozed_until else None,
        "created_at": risk.created_at.isoformat(),
        "updated_by": risk.updated_by,
        "updated_by_name": names(risk.updated_by) if risk.updated_by else None,
        "updated_at": risk.updated_at.isoformat(),
        "approvals": [approval_record(a, names) for a in risk.approvals],
        "rounds": [round_record(r, names) for r in risk.rounds],
    }


def round_record(row: RiskRound, names: Names = _no_names) -> dict[str, Any]:
    return {
        "round": row.round,
        "kind": str(row.kind),
        "requested_by": row.requested_by,
        "requested_by_name": names(row.requested_by),
        "requested_at": row.requested_at.isoformat(),
        "proposed": dict(row.proposed),
        "state": str(row.state),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
    }


def approval_record(approval: RiskApproval, names: Names = _no_names) -> dict[str, Any]:
    return {
        "round": approval.round,
        "side": str(approval.side),
        "approver": approval.approver_id,
        "approver_name": names(approval.approver_id),
        "decision": str(approval.decision),
        "reason": approval.reason,
        "at": approval.at.isoformat(),
        "snapshot": approval.snapshot,
        "roles_held": list(approval.held_roles or []),
        "via_grant": approval.via_grant,
    }


def to_json(risks: list[RiskAcceptance], names: Names = _no_names) -> str:
    records = [clean_value(risk_record(r, names)) for r in risks]
    return json.dumps({"risks": records}, indent=2, ensure_ascii=False)


def to_csv(risks: list[RiskAcceptance], names: Names = _no_names) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*RISK_COLUMNS, *APPROVAL_COLUMNS])
    for risk in risks:
        record = clean_value(risk_record(risk, names))
        base = [
            ";".join(record[c]) if c in LIST_COLUMNS else _cell(record[c]) for c in RISK_COLUMNS
        ]
        rounds = json.dumps(record["rounds"], sort_keys=True)
        if not record["approvals"]:
            writer.writerow([*base, *([""] * (len(APPROVAL_COLUMNS) - 1)), rounds])
        for approval in record["approvals"]:
            writer.writerow(
                [
                    *base,
                    approval["round"],
                    approval["side"],
                    approval["approver"],
                    _cell(approval["approver_name"]),
                    approval["decision"],
                    _cell(approval["reason"]),
                    approval["at"],
                    json.dumps(approval["snapshot"], sort_keys=True),
                    ";".join(approval["roles_held"]),
                    _cell(approval["via_grant"]),
                    rounds,
                ]
            )
    return buffer.getvalue()


def _cell(value: Any) -> str:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


#: First characters a spreadsheet may treat as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_risks(session: Session, fmt: ExportFormat, names: Names = _no_names) -> str:
    risks = all_risks(session)
    return to_csv(risks, names) if fmt == ExportFormat.CSV else to_json(risks, names)


def export_register(
    session: Session,
    *,
    actor: Actor,
    fmt: ExportFormat,
    name: str,
    now: datetime,
    names: Names = _no_names,
) -> str:
    """The register as a file for `actor` (sides, executives, admins); the export itself is an
    audit event, so the trail shows who took the register away and when."""
    ensure_allowed(actor, Permission.REGISTER_EXPORT)
    risks = all_risks(session)
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=REGISTER_REF,
        action="register.exported",
        after={"format": fmt.value, "file": name, "records": len(risks)},
    )
    return to_csv(risks, names) if fmt == ExportFormat.CSV else to_json(risks, names)


#: The audit trail of the register as a whole (`/accord audit REGISTER`).
REGISTER_REF = "REGISTER"


def record_cli_export(
    session: Session, *, operator: str, what: str, output: str, records: int, now: datetime
) -> None:
    """An export taken on the server (`accord export …`) is an audit event too: who ran it
    (the operating-system account), what, where it was written and how many records."""
    record_event(
        session,
        at=now,
        actor_id=f"cli:{operator}"[:32],
        record_ref=REGISTER_REF,
        action="register.exported",
        after={"via": f"accord export {what}", "file": output[:200], "records": records},
    )


def filename(fmt: ExportFormat, stamp: str) -> str:
    return f"accord-risks-{stamp}.{fmt.value}"
