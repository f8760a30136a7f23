"""threats: threat briefs (THR-n) and the CISA KEV catalogue

Revision ID: 0017_threats
Revises: 0016_register_budget
Create Date: 2026-12-03 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = '0017_threats'
down_revision: str | Sequence[str] | None = '0016_register_budget'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('threat_brief',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', 'critical', name='severity', native_enum=False, create_constraint=False, length=24), nullable=False),
    sa.Column('techniques', sa.JSON(), nullable=True),
    sa.Column('technique_info', sa.JSON(), nullable=True),
    sa.Column('links', sa.JSON(), nullable=True),
    sa.Column('cves', sa.JSON(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', name='briefstate', native_enum=False, create_constraint=False, length=24), nullable=False),
    sa.Column('agenda_occurrence_id', sa.Integer(), nullable=True),
    sa.Column('kev_cve', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kev_cve'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('threat_brief', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_threat_brief_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_threat_brief_agenda_occurrence_id'), ['agenda_occurrence_id'], unique=False)
    op.create_table('kev_entry',
    sa.Column('cve_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('vendor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('product', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('date_added', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('ransomware', sa.Boolean(), nullable=False),
    sa.Column('catalog_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.PrimaryKeyConstraint('cve_id')
    )


def downgrade() -> None:
    op.drop_table('kev_entry')
    with op.batch_alter_table('threat_brief', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_threat_brief_agenda_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_threat_brief_state'))
    op.drop_table('threat_brief')
