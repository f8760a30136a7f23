"""Alembic environment: runs against the engine Accord hands over (or DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine
from sqlmodel import SQLModel

import bot.schema  # noqa: F401  (registers every table on SQLModel.metadata)
from bot.config import Settings
from bot.db import make_engine

config = context.config


def _engine_from_settings() -> Engine:
    settings = Settings()
    return make_engine(settings.database_url, audit_key=settings.audit_secret())


engine: Engine = config.attributes.get("engine") or _engine_from_settings()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
