"""The audit trail is a keyed hash chain: `accord audit verify` (the real CLI, on the real
database) names the first event that was changed, removed or inserted, and a published head
shows a rewrite of the whole chain. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from bot.cli import app
from bot.db import AuditKey, alembic_config, audit_key_for, make_engine, session_scope, upgrade
from bot.domain.audit import GENESIS_HASH, record_event
from bot.domain.audit_chain import ChainHeadMissing, event_hash
from bot.domain.initiatives import (
    InitiativeChanges,
    InitiativeDraft,
    create_initiative,
    update_initiative,
)
from bot.domain.roles import Actor, Role

KEY = "k" * 16 + "0123456789abcdef0123"  # 36 characters
OTHER_KEY = "attacker-key-" + "x" * 30
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ANN = Actor("U0ANN", frozenset({Role.CIO}))
MALLORY = "U0MALLORY"


def cli(*args: str, url: str, key: str | None = KEY) -> tuple[int, str]:
    """Run `accord …` in-process against `url`, as an operator would with their settings."""
    env = {"DATABASE_URL": url, "ACCORD_AUDIT_KEY": key}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output.strip()


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[sa.Engine]:
    made = make_engine(migrated_database_url, audit_key=KEY.encode())
    upgrade(made)
    yield made
    made.dispose()


def write_history(engine: sa.Engine, events: int = 6) -> None:
    """Real changes through the initiative service: each one commits with its audit event."""
    with session_scope(engine) as session:
        create_initiative(session, actor=ANN, draft=InitiativeDraft(title="Roll out MFA"), now=T0)
    for minute in range(1, events):
        with session_scope(engine) as session:
            update_initiative(
                session,
                actor=ANN,
                number=1,
                changes=InitiativeChanges(title=f"Roll out MFA, step {minute}"),
                now=T0 + timedelta(minutes=minute),
            )


def owner_sql(engine: sa.Engine, statement: str, **params: object) -> None:
    """What the database owner can do: on PostgreSQL, first switch the append-only trigger off
    (the only way past it), then change the table directly."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            connection.execute(sa.text("ALTER TABLE audit_chain_head DISABLE TRIGGER USER"))
        connection.execute(sa.text(statement), params)
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
            connection.execute(sa.text("ALTER TABLE audit_chain_head ENABLE TRIGGER USER"))


def test_an_untouched_database_verifies_and_prints_its_head(
    engine: sa.Engine, migrated_database_url: str
) -> None:
    write_history(engine)
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 0, out
    assert re.fullmatch(r"6 events verified, head #6 [0-9a-f]{64}", out), out
    code, head = cli("audit", "head", url=migrated_database_url)
    assert code == 0
    assert out.endswith(head.removeprefix("#6 ")) and head.startswith("#6 ")
    assert cli("audit", "verify", "--head", head, url=migrated_database_url)[0] == 0


def test_the_wrong_key_fails_every_event(engine: sa.Engine, migrated_database_url: str) -> None:
    write_history(engine, events=3)
    code, out = cli("audit", "verify", url=migrated_database_url, key=OTHER_KEY)
    assert code == 1
    assert "event #1 (initiative.created on INI-1 by U0ANN" in out
    assert "ACCORD_AUDIT_KEY is not the key this chain was written with" in out


def test_postgresql_refuses_to_update_or_delete_audit_events(postgres_url: str) -> None:
    engine = make_engine(postgres_url, audit_key=KEY.encode())
    upgrade(engine)
    write_history(engine, events=2)
    for statement in (
        "UPDATE audit_event SET actor_id = 'U0MALLORY' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
        "TRUNCATE audit_event",
        "UPDATE audit_chain_head SET seq = 1",
        "DELETE FROM audit_chain_head",
    ):
        with (
            pytest.raises(DBAPIError, match=r"append-only|only moves forward"),
            engine.begin() as connection,
        ):
            connection.execute(sa.text(statement))
    engine.dispose()
    assert cli("audit", "verify", url=postgres_url)[0] == 0


def test_changing_who_made_a_change_is_named(engine: sa.Engine, migrated_database_url: str) -> None:
    write_history(engine)
    owner_sql(engine, "UPDATE audit_event SET actor_id = :who WHERE seq = 3", who=MALLORY)
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1
    assert out.startswith("audit chain broken: event #3 (initiative.updated on INI-1 by U0MALLORY")
    assert "was changed" in out


def test_changing_the_content_and_its_hash_without_the_key_is_named(
    engine: sa.Engine, migrated_database_url: str
) -> None:
    write_history(engine)
    owner_sql(
        engine,
        "UPDATE audit_event SET note = 'approved', hash = :forged WHERE seq = 4",
        forged="f" * 64,
    )
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1
    assert "event #4 (initiative.updated" in out and "was changed" in out


@pytest.mark.parametrize(("removed", "expected"), [(3, "event #3 was removed"), (6, "#6")])
def test_removing_an_event_is_named(
    engine: sa.Engine, migrated_database_url: str, removed: int, expected: str
) -> None:
    write_history(engine)
    owner_sql(engine, "DELETE FROM audit_event WHERE seq = :seq", seq=removed)
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1
    assert expected in out and "removed" in out
    if removed == 6:  # the newest: only the head row knows it existed
        assert "event #6 was removed (the chain head records #6)" in out


def test_inserting_an_event_is_named(engine: sa.Engine, migrated_database_url: str) -> None:
    write_history(engine)
    owner_sql(
        engine,
        "INSERT INTO audit_event (seq, at, actor_id, record_ref, action, note, prev_hash, hash)"
        " VALUES (7, :at, 'U0CISO', 'RSK-1', 'risk.approved', 'looks fine', :prev, :forged)",
        at=T0 + timedelta(hours=1),
        prev="0" * 64,
        forged="a" * 64,
    )
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1
    assert "event #7 (risk.approved on RSK-1 by U0CISO" in out and "was inserted" in out


def _rechain(engine: sa.Engine, secret: bytes) -> None:
    """What someone who holds a key (their own, or the public development key) can do: change
    an event and re-sign the whole chain so that every link matches again."""
    events = sa.table(
        "audit_event",
        *(sa.column(name) for name in ("id", "seq", "actor_id", "record_ref", "action")),
        *(sa.column(name) for name in ("note", "prev_hash", "hash")),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("before", sa.JSON()),
        sa.column("after", sa.JSON()),
    )
    with engine.connect() as connection:
        rows = connection.execute(sa.select(events).order_by(events.c.seq)).all()
    prev = GENESIS_HASH
    for row in rows:
        actor = MALLORY if row.seq == 2 else row.actor_id
        digest = event_hash(
            AuditKey(secret),
            seq=row.seq,
            at=row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
            actor_id=actor,
            record_ref=row.record_ref,
            action=row.action,
            before=row.before,
            after=row.after,
            note=row.note,
            prev_hash=prev,
        )
        owner_sql(
            engine,
            "UPDATE audit_event SET actor_id = :actor, prev_hash = :prev, hash = :hash "
            "WHERE seq = :seq",
            actor=actor,
            prev=prev,
            hash=digest,
            seq=row.seq,
        )
        prev = digest
    owner_sql(engine, "UPDATE audit_chain_head SET hash = :hash", hash=prev)


def test_rewriting_the_whole_chain_shows_against_the_published_head(
    migrated_database_url: str,
) -> None:
    """With the public development key (no ACCORD_AUDIT_KEY) anyone can re-sign the chain; the
    head published in a digest earlier still shows it."""
    engine = make_engine(migrated_database_url)  # no key: the development key
    upgrade(engine)
    write_history(engine)
    code, published = cli("audit", "head", url=migrated_database_url, key=None)
    assert code == 0
    seq, digest = published.removeprefix("#").split()
    token = f"{seq}:{digest[:16]}"  # as the digest shows it
    _rechain(engine, engine_key_secret(engine))
    code, out = cli("audit", "verify", url=migrated_database_url, key=None)
    assert code == 0, out  # on its own the re-signed chain is consistent …
    assert "public development key" in out
    code, out = cli("audit", "verify", "--head", token, url=migrated_database_url, key=None)
    assert code == 1  # … but not with what was published
    assert "event #6 has hash" in out and "rewritten after that head was published" in out
    engine.dispose()


def test_re_signing_with_another_key_fails_with_the_real_one(
    engine: sa.Engine, migrated_database_url: str
) -> None:
    write_history(engine, events=3)
    _rechain(engine, OTHER_KEY.encode())
    assert cli("audit", "verify", url=migrated_database_url, key=OTHER_KEY)[0] == 0
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1 and "no event matches its hash" in out


def engine_key_secret(engine: sa.Engine) -> bytes:
    return audit_key_for(engine).secret


def test_concurrent_writers_append_to_one_linear_chain(
    engine: sa.Engine, migrated_database_url: str
) -> None:
    """Two threads (two connections) append at the same moment, 20 transactions each with two
    events; every event gets its own number and the chain still verifies."""
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def writer(actor: str) -> None:
        try:
            start.wait()
            for number in range(20):
                with session_scope(engine) as session:
                    for part in ("a", "b"):
                        record_event(
                            session,
                            at=T0,
                            actor_id=actor,
                            record_ref="INI-1",
                            action=f"test.{part}",
                            note=str(number),
                        )
        except BaseException as error:  # reported below, with the thread's name
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(a,)) for a in ("U0ONE", "U0TWO")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    with engine.connect() as connection:
        seqs = connection.execute(sa.text("SELECT seq FROM audit_event ORDER BY id")).scalars()
        assert list(seqs) == list(range(1, 81))
        # the two events of one transaction are neighbours: nobody appended between them
        pairs = connection.execute(
            sa.text("SELECT actor_id, action, note FROM audit_event ORDER BY seq")
        ).all()
    for first, second in zip(pairs[::2], pairs[1::2], strict=True):
        assert (first.action, second.action) == ("test.a", "test.b")
        assert (first.actor_id, first.note) == (second.actor_id, second.note)
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 0 and out.startswith("80 events verified"), out


def test_ids_and_numbers_of_removed_events_are_never_reused(
    engine: sa.Engine, migrated_database_url: str
) -> None:
    write_history(engine, events=3)
    owner_sql(engine, "DELETE FROM audit_event WHERE seq = 3")
    with session_scope(engine) as session:
        record_event(session, at=T0, actor_id="U0ANN", record_ref="INI-1", action="test.after")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, seq FROM audit_event ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [(1, 1), (2, 2), (4, 4)]
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1 and "event #3 was removed" in out


def test_the_migration_chains_existing_events_in_order(database_url: str) -> None:
    engine = make_engine(database_url, audit_key=KEY.encode())
    command.upgrade(alembic_config(engine), "0010_digest_fixes")
    with engine.begin() as connection:
        for event_id, minute in ((1, 0), (2, 5), (5, 9)):  # a gap, as PostgreSQL leaves them
            connection.execute(
                sa.text(
                    "INSERT INTO audit_event (id, at, actor_id, record_ref, action, before, after)"
                    " VALUES (:id, :at, 'U0ANN', 'INI-1', 'initiative.updated', :before, :after)"
                ),
                {
                    "id": event_id,
                    "at": T0 + timedelta(minutes=minute),
                    "before": '{"title": "Old", "tags": ["iam"]}',
                    "after": '{"title": "New \\u00e9", "due": null}',
                },
            )
        if connection.dialect.name == "postgresql":  # where the sequence of a live table stands
            connection.execute(sa.text("SELECT setval('audit_event_id_seq', 5)"))
    upgrade(engine)
    with session_scope(engine) as session:
        record_event(session, at=T0, actor_id="U0BEN", record_ref="INI-1", action="test.new")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, seq FROM audit_event ORDER BY seq")).all()
    assert [tuple(row) for row in rows] == [(1, 1), (2, 2), (5, 3), (6, 4)]
    engine.dispose()
    code, out = cli("audit", "verify", url=database_url)
    assert code == 0 and out.startswith("4 events verified, head #4"), out


def test_without_a_key_postgresql_processes_refuse_to_start() -> None:
    postgres = "postgresql://nobody@127.0.0.1:1/none"  # never reached: the check comes first
    code, out = cli("db", "upgrade", url=postgres, key=None)
    assert code == 2
    assert "ACCORD_AUDIT_KEY is not set; on PostgreSQL the audit chain needs a secret key" in out
    code, out = cli("db", "upgrade", url=postgres, key="too-short")
    assert code == 2 and "ACCORD_AUDIT_KEY must be at least 32 characters" in out


def test_without_its_head_row_the_chain_takes_no_more_events(
    engine: sa.Engine, migrated_database_url: str
) -> None:
    """Fail closed: nothing is appended to a chain whose head was deleted, and verify says so."""
    write_history(engine, events=2)
    owner_sql(engine, "DELETE FROM audit_chain_head")
    with pytest.raises(ChainHeadMissing), session_scope(engine) as session:
        record_event(session, at=T0, actor_id="U0ANN", record_ref="INI-1", action="test.more")
    code, out = cli("audit", "verify", url=migrated_database_url)
    assert code == 1 and "the chain head record is missing" in out
    assert cli("audit", "verify", "--head", "2:abc", url=migrated_database_url)[0] == 2  # too short
