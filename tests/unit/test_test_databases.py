"""The suite's PostgreSQL databases are reused between tests (tests/conftest.py): a database given
back must reach the next test as the template left it (no rows, ids from 1, the audit chain
empty), and one whose schema a test changed must not be reused at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.db import make_engine, session_scope
from bot.domain.audit import record_event
from bot.domain.initiatives import InitiativeDraft, create_initiative
from bot.domain.roles import Actor, Role
from tests.conftest import PostgresDatabases

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
ANN = Actor("U0ANN", frozenset({Role.CIO}))


def first_initiative(url: str) -> str:
    """Create an initiative and return its id, as the next test would see it."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            made = create_initiative(session, actor=ANN, draft=InitiativeDraft(title="MFA"), now=T0)
            return made.ref
    finally:
        engine.dispose()


def test_a_database_given_back_reaches_the_next_test_as_the_template_left_it(
    postgres_databases: PostgresDatabases,
) -> None:
    name, url = postgres_databases.take()
    assert first_initiative(url) == "INI-1"
    assert first_initiative(url) == "INI-2"
    postgres_databases.give_back(name)

    again, url = postgres_databases.take()
    assert again == name  # reused, not copied again
    assert first_initiative(url) == "INI-1"  # the rows are gone and ids start again
    engine = make_engine(url)
    with engine.connect() as connection:  # only this test's event; the chain head is back
        assert connection.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one() == 1
    with session_scope(engine) as session:
        record_event(session, at=T0, actor_id="U0ANN", record_ref="INI-1", action="test.more")
    engine.dispose()
    postgres_databases.give_back(again)


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE audit_event DISABLE TRIGGER USER",
        "ALTER TABLE initiative_tag RENAME TO initiative_tag_gone",
        "ALTER TABLE initiative ALTER COLUMN title SET DEFAULT 'x'",
        "DELETE FROM alembic_version",
    ],
)
def test_a_database_whose_schema_a_test_changed_is_not_reused(
    postgres_databases: PostgresDatabases, change: str
) -> None:
    name, url = postgres_databases.take()
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(change))
    engine.dispose()
    postgres_databases.give_back(name)

    fresh, url = postgres_databases.take()
    assert fresh != name
    assert first_initiative(url) == "INI-1"
    postgres_databases.give_back(fresh)


def test_a_database_left_connected_is_not_reused(postgres_databases: PostgresDatabases) -> None:
    name, url = postgres_databases.take()
    leaked = make_engine(url)
    with leaked.connect() as connection:
        connection.execute(sa.text("SELECT 1"))  # the pool keeps this connection open
    postgres_databases.give_back(name)
    fresh, _ = postgres_databases.take()
    assert fresh != name
    leaked.dispose()
    postgres_databases.give_back(fresh)
