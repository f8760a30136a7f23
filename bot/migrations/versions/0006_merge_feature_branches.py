"""merge the feature branches (risks, disagreements, touchpoints, digests) into one head

Revision ID: 0006_merge
Revises: 0002_risks, 0003_disagreements, 0004_touchpoints, 0005_digests
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0006_merge"
down_revision: str | Sequence[str] | None = (
    "0002_risks",
    "0003_disagreements",
    "0004_touchpoints",
    "0005_digests",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
