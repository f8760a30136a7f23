"""Fixtures: databases (SQLite and the real PostgreSQL), the fake Slack server, a running app."""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db import make_engine, upgrade
from tests.fakes.block_kit import VIOLATIONS
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import FakeClock, RunningAccord, running_accord

POSTGRES_ADMIN_URL = os.environ.get(
    "ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POSTGRES_REQUIRED = os.environ.get("ACCORD_REQUIRE_POSTGRES") == "1"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own settings (tokens, model, cron, budgets) must not change test results."""
    for name in list(os.environ):
        own = name.startswith(("SLACK_", "OPENAI_", "ACCORD_")) or name == "DATABASE_URL"
        if own and not name.startswith(("ACCORD_TEST_", "ACCORD_REQUIRE_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process (typer's CliRunner) configures logging as a real process does:
    a root handler on the runner's stderr, which is closed once the command returns. Left in
    place, every later log line of the worker fails to write and prints a stack trace instead."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        # `configure_logging`'s own handler; pytest's capture handlers come and go by phase.
        if type(handler) is logging.StreamHandler and handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _slack_accepts_every_payload() -> Iterator[None]:
    """Every message and view a test made Accord send must be one real Slack accepts.

    The fake Slack API and the signed client record what Slack would refuse (Block Kit models,
    duplicate action or block ids, block and text limits; tests/fakes/block_kit.py). Autouse
    fixtures are set up first, so this check runs after the app and its threads have stopped.
    """
    VIOLATIONS.take()
    yield
    refused = VIOLATIONS.take()
    if refused:
        pytest.fail(
            "Slack would refuse what this test made Accord send:\n" + "\n".join(refused),
            pytrace=False,
        )


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    problem = _postgres_available()
    if problem:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is unavailable ({problem})"
        if POSTGRES_REQUIRED:
            pytest.fail(message + " and ACCORD_REQUIRE_POSTGRES=1", pytrace=False)
        warnings.warn(f"SKIPPING PostgreSQL tests: {message}", stacklevel=1)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine) -> Iterator[str]:
    """A fresh database per test, dropped afterwards, so tests can run in any order."""
    name = f"accord_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database (no schema yet)."""
    return f"sqlite:///{tmp_path / 'accord.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL; an empty database each time."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accord.db'}"
    return str(request.getfixturevalue("postgres_url"))


# Most tests want the schema, not the migrations: those run once per worker into a template
# (the migrations themselves are tested from an empty database in tests/unit/test_migrations.py),
# and each test gets a copy, a few milliseconds instead of running every migration again.
# A freshly migrated database holds no audit event, so its copy fits any audit key.


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "accord.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_admin: sa.Engine) -> Iterator[str]:
    name = f"accord_template_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(postgres_admin.url.set(database=name).render_as_string(False))
    upgrade(engine)
    engine.dispose()  # a template is copied only while nobody is connected to it
    yield name
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A SQLite database with the whole schema, as `accord db upgrade` leaves it."""
    path = tmp_path / "accord.db"
    with sqlite3.connect(sqlite_template) as source, sqlite3.connect(path) as target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{path}"


#: One string that changes when anything a test could alter in a database's schema does:
#: tables, columns, indexes, sequences, constraints, triggers (and whether they are enabled),
#: functions. A database whose schema still matches the template's is emptied for the next test.
_SCHEMA_FINGERPRINT = sa.text(
    """
    SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
      SELECT relnamespace::regnamespace || '.' || relname || ':' || relkind::text AS item
        FROM pg_class
       WHERE relnamespace::regnamespace::text
             NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      UNION ALL
      SELECT attrelid::regclass || '.' || attname || ':' || atttypid || ':' || atttypmod || ':'
             || attnotnull || ':' || coalesce(pg_get_expr(adbin, adrelid), '')
        FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
       WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
         AND attnum > 0 AND NOT attisdropped
      UNION ALL
      SELECT pg_get_triggerdef(oid) || ':' || tgenabled::text FROM pg_trigger
       WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
      UNION ALL
      SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace
      UNION ALL
      SELECT pg_get_indexdef(indexrelid) FROM pg_index
       WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
      UNION ALL
      SELECT proname || ':' || md5(prosrc) FROM pg_proc
       WHERE pronamespace = 'public'::regnamespace
      UNION ALL
      SELECT 'revision:' || version_num FROM alembic_version
      UNION ALL
      SELECT 'setting:' || array_to_string(setconfig, ',') FROM pg_db_role_setting
       WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    ) AS schema_items
    """
)


class PostgresDatabases:
    """Migrated PostgreSQL databases for one worker: copied from the template when none is free,
    and after a test emptied back to the template's rows and sequences rather than dropped.

    `CREATE DATABASE … TEMPLATE` costs 0.4–0.8 s here; emptying is one round trip of `DELETE`s
    (the append-only triggers held off for that transaction) and the template's rows put back.
    A database whose schema a test changed (a renamed table, a trigger left disabled), that a
    test left connections to, or that cannot be emptied is dropped instead, so the next test
    still starts from the template."""

    def __init__(self, admin: sa.Engine, template: str) -> None:
        self.admin = admin
        self.template = template
        self.free: list[str] = []
        engine = sa.create_engine(self._url(template), poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                self.fingerprint = connection.execute(_SCHEMA_FINGERPRINT).scalar_one()
                metadata = sa.MetaData()
                metadata.reflect(connection)
                self.tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
                self.rows = {
                    table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                    for table in self.tables
                }
                sequences = connection.execute(
                    sa.text(
                        "SELECT schemaname, sequencename, start_value, last_value FROM pg_sequences"
                    )
                ).all()
        finally:
            engine.dispose()  # a template is copied only while nobody is connected to it
        # One round trip: DELETE takes a fifth of TRUNCATE's time for a test's few rows (no new
        # files to make and sync); as replica, neither the append-only triggers nor the foreign
        # keys fire, so the order does not matter. Sequences go back to where the template has them.
        statements = [
            "SET LOCAL lock_timeout = '5s'",
            "SET LOCAL session_replication_role = replica",
        ]
        statements += [f'DELETE FROM "{t.name}"' for t in self.tables]  # noqa: S608 (catalog names)
        statements += [
            f'SELECT setval(\'"{schema}"."{name}"\', {start if last is None else last}, '
            f"{'true' if last is not None else 'false'})"
            for schema, name, start, last in sequences
        ]
        self._emptying = "; ".join(statements)

    def _url(self, name: str) -> str:
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def take(self) -> tuple[str, str]:
        if self.free:
            name = self.free.pop()
        else:
            name = f"accord_test_{uuid.uuid4().hex[:12]}"
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name, self._url(name)

    def give_back(self, name: str) -> None:
        try:
            self._empty(name)
        except sa.exc.SQLAlchemyError:
            self.drop(name)
        else:
            self.free.append(name)

    def _empty(self, name: str) -> None:
        engine = sa.create_engine(self._url(name), poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                # Whatever is still connected is a leak (an engine not disposed, a thread still
                # running): end it, and start the next test from a fresh copy, since a pool
                # would otherwise reconnect into that test's database.
                leftover = connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
                if leftover:
                    raise sa.exc.InvalidRequestError("connections were left open")
                if connection.execute(_SCHEMA_FINGERPRINT).scalar_one() != self.fingerprint:
                    raise sa.exc.InvalidRequestError("the test changed the schema")
                connection.exec_driver_sql(self._emptying)
                for table in self.tables:
                    if self.rows[table.name]:
                        connection.execute(table.insert(), self.rows[table.name])
                connection.commit()
        finally:
            engine.dispose()

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        while self.free:
            self.drop(self.free.pop())


@pytest.fixture(scope="session")
def postgres_databases(
    postgres_admin: sa.Engine, postgres_template: str
) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_admin, postgres_template)
    yield databases
    databases.close()


@pytest.fixture
def migrated_postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A PostgreSQL database with the whole schema and only the template's rows, as
    `accord db upgrade` leaves it (emptied and reused afterwards; see PostgresDatabases)."""
    name, url = postgres_databases.take()
    yield url
    postgres_databases.give_back(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on each database, with the whole schema in place."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("migrated_sqlite_url"))
    return str(request.getfixturevalue("migrated_postgres_url"))


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accord(
    migrated_database_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[RunningAccord]:
    """The app over HTTP on both databases."""
    with running_accord(migrated_database_url, fake_slack, clock=clock) as running:
        yield running


@pytest.fixture
def accord_sqlite(
    migrated_sqlite_url: str, fake_slack: FakeSlackServer, clock: FakeClock
) -> Iterator[RunningAccord]:
    """The app over HTTP on SQLite only, for behaviour that does not depend on the database."""
    with running_accord(migrated_sqlite_url, fake_slack, clock=clock) as running:
        yield running


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (every module, the fixtures' code) lives to
    the end: out of the garbage collector's sight, a full collection walks only what tests
    make (measured on two HTTP test modules: the full collections' time falls by a quarter)."""
    gc.collect()
    gc.freeze()
