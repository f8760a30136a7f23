"""attack: imported ATT&CK releases; technique names and tactics kept on risk records

Revision ID: 0015_attack
Revises: 0013_gate_override
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = '0015_attack'
down_revision: str | Sequence[str] | None = '0013_gate_override'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attack_release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('technique_count', sa.Integer(), nullable=False),
    sa.Column('techniques', sa.JSON(), nullable=True),
    sa.Column('imported_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('imported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('risk_acceptance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('technique_info', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('risk_acceptance', schema=None) as batch_op:
        batch_op.drop_column('technique_info')
    op.drop_table('attack_release')
