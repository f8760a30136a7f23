"""Column helpers shared by the domain's tables."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa


def enum_column(enum: type[StrEnum], *, index: bool = False, nullable: bool = False) -> Any:
    """Store an enum by its value in a VARCHAR: readable, and new values need no ALTER TYPE."""
    return sa.Column(
        sa.Enum(
            enum,
            native_enum=False,
            create_constraint=False,
            length=24,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
        index=index,
        nullable=nullable,
    )
