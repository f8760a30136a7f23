"""Fixtures: databases (SQLite and the real PostgreSQL), the fake Slack server, a running app."""

from __future__ import annotations

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


@pytest.fixture
def migrated_postgres_url(postgres_admin: sa.Engine, postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the whole schema, dropped afterwards."""
    name = f"accord_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    yield postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
