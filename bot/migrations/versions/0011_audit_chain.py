"""audit chain: sequence and keyed hashes on audit events, the chain head, append-only triggers

Existing events join the chain in id order, signed with the key of the engine that runs the
migration (ACCORD_AUDIT_KEY, or the public development key when it is unset). On PostgreSQL
triggers then refuse UPDATE, DELETE and TRUNCATE on audit_event, and any change to the head
other than moving it forward.

Revision ID: 0011_audit_chain
Revises: 0013_outbox
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from bot.db import audit_key_for
from bot.domain.audit import GENESIS_HASH
from bot.domain.audit_chain import event_hash

revision: str = '0011_audit_chain'
down_revision: str | Sequence[str] | None = '0013_outbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRES_TRIGGERS = """
CREATE FUNCTION accord_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION accord_audit_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION accord_audit_append_only();
CREATE FUNCTION accord_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'audit_chain_head only moves forward: % refused', TG_OP;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION accord_audit_head_forward();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION accord_audit_head_forward();
"""


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    # On SQLite the table is rebuilt with AUTOINCREMENT, so ids of deleted rows are never reused.
    with op.batch_alter_table(
        'audit_event',
        schema=None,
        recreate='always' if sqlite else 'auto',
        table_kwargs={'sqlite_autoincrement': True},
    ) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    op.create_table(
        'audit_chain_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )

    events = sa.table(
        'audit_event',
        sa.column('id', sa.Integer()),
        sa.column('at', sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column('actor_id', sa.String()),
        sa.column('record_ref', sa.String()),
        sa.column('action', sa.String()),
        sa.column('before', sa.JSON()),
        sa.column('after', sa.JSON()),
        sa.column('note', sa.String()),
        sa.column('seq', sa.Integer()),
        sa.column('prev_hash', sa.String()),
        sa.column('hash', sa.String()),
    )
    key = audit_key_for(bind)
    chained = []
    seq, prev = 0, GENESIS_HASH
    for row in bind.execute(sa.select(events).order_by(events.c.id)):
        seq += 1
        digest = event_hash(
            key,
            seq=seq,
            at=row.at,
            actor_id=row.actor_id,
            record_ref=row.record_ref,
            action=row.action,
            before=row.before,
            after=row.after,
            note=row.note,
            prev_hash=prev,
        )
        chained.append({'row_id': row.id, 'row_seq': seq, 'row_prev': prev, 'row_hash': digest})
        prev = digest
    if chained:
        bind.execute(
            events.update()
            .where(events.c.id == sa.bindparam('row_id'))
            .values(
                seq=sa.bindparam('row_seq'),
                prev_hash=sa.bindparam('row_prev'),
                hash=sa.bindparam('row_hash'),
            ),
            chained,
        )
    op.bulk_insert(
        sa.table('audit_chain_head', sa.column('id'), sa.column('seq'), sa.column('hash')),
        [{'id': 1, 'seq': seq, 'hash': prev}],
    )

    with op.batch_alter_table(
        'audit_event', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f('ix_audit_event_seq'), ['seq'], unique=True)

    if bind.dialect.name == 'postgresql':
        op.execute(POSTGRES_TRIGGERS)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'DROP TRIGGER audit_chain_head_no_truncate ON audit_chain_head;'
            'DROP TRIGGER audit_chain_head_forward ON audit_chain_head;'
            'DROP TRIGGER audit_event_no_truncate ON audit_event;'
            'DROP TRIGGER audit_event_append_only ON audit_event;'
            'DROP FUNCTION accord_audit_head_forward();'
            'DROP FUNCTION accord_audit_append_only();'
        )
    op.drop_table('audit_chain_head')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_seq'))
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
