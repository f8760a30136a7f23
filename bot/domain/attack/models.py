"""ATT&CK releases imported with `accord attack update`: the newest row is the catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class AttackRelease(SQLModel, table=True):
    """One imported release, whole (≈80 KB of JSON): every replica reads the newest row."""

    __tablename__ = "attack_release"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=40)
    version: str = Field(max_length=20)
    source: str = Field(max_length=200)
    technique_count: int
    techniques: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    imported_by: str = Field(max_length=32)
    imported_at: datetime
