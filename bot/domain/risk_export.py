"""The auditor's export of the risk register: every field and every approval, CSV or JSON.

Shared by `accord export risks` and `/accord risk export`. JSON is one object per record with
its `approvals`; CSV is one row per decision (the record's fields repeated), and one row with
empty approval columns for a record nobody has decided on yet.
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from bot.domain.risks import RiskAcceptance, RiskApproval, all_risks


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
    "score",
    "band",
    "controls",
    "techniques",
    "requested_by",
    "expires_on",
    "review_days",
    "next_review_on",
    "state",
    "round",
    "closed_reason",
    "created_at",
    "updated_by",
    "updated_at",
)
APPROVAL_COLUMNS = (
    "approval_round",
    "approval_side",
    "approver",
    "decision",
    "decision_reason",
    "decided_at",
    "approved_snapshot",
)


def risk_record(risk: RiskAcceptance) -> dict[str, Any]:
    return {
        "id": risk.ref,
        "title": risk.title,
        "description": risk.description,
        "initiative": risk.initiative_ref,
        "asset": risk.asset,
        "likelihood": risk.likelihood,
        "impact": risk.impact,
        "score": risk.score,
        "band": risk.band.value,
        "controls": risk.controls,
        "techniques": list(risk.techniques),
        "requested_by": risk.requested_by,
        "expires_on": risk.expires_on.isoformat(),
        "review_days": risk.review_days,
        "next_review_on": risk.next_review_on.isoformat(),
        "state": risk.state.value,
        "round": risk.round,
        "closed_reason": risk.closed_reason,
        "created_at": risk.created_at.isoformat(),
        "updated_by": risk.updated_by,
        "updated_at": risk.updated_at.isoformat(),
        "approvals": [approval_record(a) for a in risk.approvals],
    }


def approval_record(approval: RiskApproval) -> dict[str, Any]:
    return {
        "round": approval.round,
        "side": str(approval.side),
        "approver": approval.approver_id,
        "decision": str(approval.decision),
        "reason": approval.reason,
        "at": approval.at.isoformat(),
        "snapshot": approval.snapshot,
    }


def to_json(risks: list[RiskAcceptance]) -> str:
    return json.dumps({"risks": [risk_record(r) for r in risks]}, indent=2, ensure_ascii=False)


def to_csv(risks: list[RiskAcceptance]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*RISK_COLUMNS, *APPROVAL_COLUMNS])
    for risk in risks:
        record = risk_record(risk)
        base = [
            ";".join(record[c]) if c == "techniques" else _cell(record[c]) for c in RISK_COLUMNS
        ]
        if not record["approvals"]:
            writer.writerow([*base, *([""] * len(APPROVAL_COLUMNS))])
        for approval in record["approvals"]:
            writer.writerow(
                [
                    *base,
                    approval["round"],
                    approval["side"],
                    approval["approver"],
                    approval["decision"],
                    _cell(approval["reason"]),
                    approval["at"],
                    json.dumps(approval["snapshot"], sort_keys=True),
                ]
            )
    return buffer.getvalue()


def _cell(value: Any) -> str:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def export_risks(session: Session, fmt: ExportFormat) -> str:
    risks = all_risks(session)
    return to_csv(risks) if fmt == ExportFormat.CSV else to_json(risks)


def filename(fmt: ExportFormat, stamp: str) -> str:
    return f"accord-risks-{stamp}.{fmt.value}"
