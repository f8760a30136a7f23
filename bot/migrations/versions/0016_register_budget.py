"""register and budget: risk owner, treatment, residual rating, evidence, what retires a risk;
initiative budget, funding side and state

Revision ID: 0016_register_budget
Revises: 0015_attack
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = '0016_register_budget'
down_revision: str | Sequence[str] | None = '0014_policy'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('risk_acceptance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('treatment', sa.Enum('accept', 'mitigate', 'transfer', 'avoid', name='treatment', native_enum=False, create_constraint=False, length=24), nullable=False, server_default='accept'))
        batch_op.add_column(sa.Column('treatment_due', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('residual_likelihood', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('residual_impact', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('evidence', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('retired_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_risk_acceptance_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key('fk_risk_acceptance_retired_by_id_initiative', 'initiative', ['retired_by_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.add_column(sa.Column('budget_amount', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('budget_currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        batch_op.add_column(sa.Column('budget_period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column('funded_by', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column('cio_share', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('budget_state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.create_index(batch_op.f('ix_initiative_budget_state'), ['budget_state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_initiative_budget_state'))
        for column in ('budget_state', 'cio_share', 'funded_by', 'budget_period', 'budget_currency', 'budget_amount'):
            batch_op.drop_column(column)
    with op.batch_alter_table('risk_acceptance', schema=None) as batch_op:
        batch_op.drop_constraint('fk_risk_acceptance_retired_by_id_initiative', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_risk_acceptance_owner_id'))
        for column in ('retired_by_id', 'evidence', 'residual_impact', 'residual_likelihood', 'treatment_due', 'treatment', 'owner_id'):
            batch_op.drop_column(column)
