"""policy: role changes waiting for a second admin, what an approver held, escalation delegates

Revision ID: 0014_policy
Revises: 0013_gate_override
Create Date: 2026-12-03 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0014_policy'
down_revision: str | Sequence[str] | None = '0016_gate_slack'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'role_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('grant', 'remove', name='rolechangekind', native_enum=False, length=24), nullable=False),
        sa.Column('role', sa.Enum('cio', 'ciso', 'executive', 'admin', name='role', native_enum=False, length=24), nullable=False),
        sa.Column('subject_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('proposed_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('proposed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('state', sa.Enum('pending', 'confirmed', 'cancelled', name='rolechangestate', native_enum=False, length=24), nullable=False),
        sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_role_change_state'), 'role_change', ['state'], unique=False)
    with op.batch_alter_table('role_grant') as batch:
        batch.add_column(sa.Column('confirmed_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch.add_column(sa.Column('change_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('risk_approval') as batch:
        batch.add_column(sa.Column('held_roles', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('via_grant', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True))
    with op.batch_alter_table('escalation') as batch:
        batch.add_column(sa.Column('delegate', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('escalation') as batch:
        batch.drop_column('delegate')
    with op.batch_alter_table('risk_approval') as batch:
        batch.drop_column('via_grant')
        batch.drop_column('held_roles')
    with op.batch_alter_table('role_grant') as batch:
        batch.drop_column('change_id')
        batch.drop_column('confirmed_by')
    op.drop_index(op.f('ix_role_change_state'), table_name='role_change')
    op.drop_table('role_change')
