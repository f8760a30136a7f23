"""Threat briefs (THR-n) the CISO side records, and the CISA KEV catalogue they can come from."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from bot.domain.attack.catalogue import Technique
from bot.domain.columns import enum_column
from bot.domain.refs import Kind, format_ref
from bot.domain.risks.models import technique_details

TITLE_MAX = 200
SOURCE_MAX = 300
MAX_LINKS = 10


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


#: A brief this severe flags the accepted risks it touches for review.
FLAGGING = (Severity.HIGH, Severity.CRITICAL)


class BriefState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ThreatBrief(SQLModel, table=True):
    __tablename__ = "threat_brief"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    severity: Severity = Field(sa_column=enum_column(Severity))
    techniques: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    technique_info: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    #: Records it names explicitly: ["INI-3", "RSK-2"].
    links: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    cves: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    source: str = Field(default="", max_length=SOURCE_MAX)
    state: BriefState = Field(
        default=BriefState.OPEN, sa_column=enum_column(BriefState, index=True)
    )
    #: The touchpoint occurrence whose agenda carried it (each brief is on one agenda).
    agenda_occurrence_id: int | None = Field(default=None, index=True)
    #: For a brief made by `accord threat import`: the CVE it is about (made once).
    kev_cve: str | None = Field(default=None, max_length=20, unique=True)
    created_by: str = Field(max_length=32)
    created_at: datetime

    @property
    def ref(self) -> str:
        assert self.id is not None
        return format_ref(Kind.THREAT, self.id)

    @property
    def technique_details(self) -> list[Technique]:
        return technique_details(self.techniques, self.technique_info)

    def snapshot(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "severity": self.severity.value,
            "techniques": list(self.techniques),
            "links": list(self.links),
            "cves": list(self.cves),
            "source": self.source,
            "state": self.state.value,
        }


class KevEntry(SQLModel, table=True):
    """One entry of CISA's Known Exploited Vulnerabilities catalogue, as last imported."""

    __tablename__ = "kev_entry"

    cve_id: str = Field(primary_key=True, max_length=20)
    vendor: str = Field(max_length=200)
    product: str = Field(max_length=200)
    name: str = Field(max_length=300)
    date_added: date | None = None
    due_date: date | None = None
    ransomware: bool = False
    catalog_version: str = Field(default="", max_length=40)
