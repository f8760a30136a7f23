"""Database engine, sessions and migrations.

SQLite is the embedded default (WAL, foreign keys on, usable from bolt's and the scheduler's
threads); PostgreSQL is used through `DATABASE_URL` with psycopg 3.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Let people write `postgresql://` and still get psycopg 3 rather than psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


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
        engine = create_engine(url, pool_pre_ping=True)
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


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (every branch head)."""
    command.upgrade(alembic_config(engine), "heads")
