"""gate in Slack: where a hold's announcement is (outbox row, channel, ts, permalink)

Revision ID: 0016_gate_slack
Revises: 0013_gate_override
Create Date: 2026-12-03 08:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = '0016_gate_slack'
down_revision: str | Sequence[str] | None = '0015_attack'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hold_channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('hold_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('hold_link', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.drop_column('hold_link')
        batch_op.drop_column('hold_ts')
        batch_op.drop_column('hold_channel')
        batch_op.drop_column('hold_message_id')
