"""the transactional outbox

Revision ID: 0013_outbox
Revises: 0010_digest_fixes
Create Date: 2026-12-02 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013_outbox'
down_revision: str | Sequence[str] | None = '0010_digest_fixes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'outbox_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('post', 'update', 'ephemeral', 'upload', name='outboxkind', native_enum=False, create_constraint=False, length=24), nullable=False),
        sa.Column('lane', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('thread_of', sa.Integer(), nullable=True),
        sa.Column('thread_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('target_of', sa.Integer(), nullable=True),
        sa.Column('target_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('notify', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('state', sa.Enum('pending', 'sending', 'sent', 'failed', name='outboxstate', native_enum=False, create_constraint=False, length=24), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('not_before', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('give_up_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('result_channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('result_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.ForeignKeyConstraint(['target_of'], ['outbox_message.id']),
        sa.ForeignKeyConstraint(['thread_of'], ['outbox_message.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['state', 'not_before'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_lane'), ['lane'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_subject'), ['subject'], unique=False)


def downgrade() -> None:
    op.drop_table('outbox_message')
