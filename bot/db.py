"""Database engine, sessions and migrations.

SQLite is the embedded default (WAL, foreign keys on, usable from bolt's and the scheduler's
threads); PostgreSQL is used through `DATABASE_URL` with psycopg 3.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Let people write `postgresql://` and still get psycopg 3 rather than psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """The URL as it may be printed: the password hidden."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except Exception:
        return "DATABASE_URL"


def explain_database_error(url: str, error: Exception) -> str:
    """One line for a person: which database, what went wrong, what to do."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    detail = reason[0][:200] if reason else type(error).__name__
    where = shown_url(url)
    if isinstance(error, ArgumentError | NoSuchModuleError):
        return (
            f"DATABASE_URL `{where}` is not a database URL Accord can use ({detail}); "
            "use sqlite:///path/to/accord.db or postgresql://user@host/dbname"
        )
    return (
        f"cannot use the database {where} ({detail}); check DATABASE_URL and that the "
        "database server is running and reachable"
    )


#: Errors that mean "this database cannot be used", as opposed to bugs.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    ArgumentError,
    NoSuchModuleError,
)


@dataclass(frozen=True)
class AuditKey:
    """The secret that signs this database's audit chain (HMAC-SHA256); never stored in it."""

    secret: bytes = field(repr=False)
    #: The public development key: the chain still shows accidental edits, but anyone who has
    #: read Accord's source can rewrite it (only a published chain head would show that).
    development: bool = False


DEVELOPMENT_AUDIT_KEY = AuditKey(
    b"accord-development-audit-key: public, set ACCORD_AUDIT_KEY", development=True
)
_audit_keys: weakref.WeakKeyDictionary[Engine, AuditKey] = weakref.WeakKeyDictionary()


def make_engine(url: str, *, audit_key: bytes | None = None) -> Engine:
    """Create the engine; SQLite gets the pragmas that make it safe for several threads.

    The engine carries the audit key (`ACCORD_AUDIT_KEY`, passed in by whoever read the
    settings), so every session and migration on it signs and checks the chain with that key;
    without one it is the public development key.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # Connections stay open for the threads that use them at once (waitress runs 8, the
        # deliverer one): an overflow connection opened and closed per burst is a slow tail.
        engine = create_engine(url, pool_pre_ping=True, pool_size=12, max_overflow=8)
    _audit_keys[engine] = AuditKey(audit_key) if audit_key else DEVELOPMENT_AUDIT_KEY
    return engine


def audit_key_for(bind: Engine | Connection) -> AuditKey:
    """The key the engine behind `bind` was made with (a session's or a migration's bind)."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _audit_keys.get(engine, DEVELOPMENT_AUDIT_KEY)


def is_postgres(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "postgresql"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives a crash
    # of Accord (not of the machine); every command's commit otherwise waited for an fsync
    # while holding SQLite's one write lock (issue 13).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def lock_row(session: Session, model: type[T], key: int) -> T | None:
    """Load a record for a change, locked until the transaction ends, so a rule checked on it
    still holds when the change commits: `SELECT … FOR UPDATE` on PostgreSQL; on SQLite a
    no-op UPDATE of the row first, which takes the database's single write lock (SQLite's
    equivalent) before the row is read again."""
    if session.get_bind().dialect.name == "sqlite":
        table = model.__table__  # type: ignore[attr-defined]
        column = table.c.updated_at if "updated_at" in table.c else table.c.id
        session.execute(sa.update(table).where(table.c.id == key).values({column.name: column}))
        return session.get(model, key, populate_existing=True)
    return session.get(model, key, with_for_update=True, populate_existing=True)


def lock_key(session: Session, key: str) -> None:
    """Serialise the transactions that check and change what `key` names when there is no
    one row to lock (e.g. "a pending change of this person's role"), until the transaction
    ends: a transaction-scoped advisory lock on PostgreSQL; on SQLite an empty UPDATE, which
    takes the database's single write lock (as `lock_row` does)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
        return
    session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


@functools.cache
def _newest_revisions() -> frozenset[str]:
    """Every branch head of the migrations shipped with this code (read once per process)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (every branch head).

    A database already there costs one query: alembic's environment (`env.py`) runs only when
    there is something to do, and the migration scripts are read once per process."""
    with engine.connect() as connection:
        current = frozenset(MigrationContext.configure(connection).get_current_heads())
    if current == _newest_revisions():
        return
    command.upgrade(alembic_config(engine), "heads")
