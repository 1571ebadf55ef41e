"""The models and the Alembic migrations agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import freshness.models  # noqa: F401
from freshness import migrate
from freshness.config import Settings
from freshness.db import dispose_engines, get_engine


def _diff(settings: Settings) -> list:
    with get_engine(settings).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_it_upgrades_an_empty_sqlite_database_to_match_the_models(home) -> None:
    settings = Settings()
    before, after = migrate.upgrade(settings)
    assert before is None and after == migrate.head_revision(settings)
    assert _diff(settings) == []
    assert migrate.upgrade(settings) == (after, after)  # idempotent


def test_it_notices_when_models_and_migrations_disagree(home) -> None:
    settings = Settings()
    migrate.upgrade(settings)
    with get_engine(settings).begin() as connection:
        connection.execute(text("ALTER TABLE person ADD COLUMN stray INTEGER"))
    assert _diff(settings) != []  # the comparison above can fail


def test_it_enables_sqlite_pragmas(home) -> None:
    settings = Settings()
    migrate.upgrade(settings)
    with get_engine(settings).connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


@pytest.mark.postgres
def test_it_migrates_postgresql_too(postgres_url: str, tmp_path) -> None:
    settings = Settings(home=tmp_path, database_url=postgres_url)
    engine = get_engine(settings)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    try:
        before, after = migrate.upgrade(settings)
        assert before is None and after == migrate.head_revision(settings)
        assert _diff(settings) == []
        assert "reminder" in inspect(engine).get_table_names()
        assert migrate.upgrade(settings) == (after, after)
    finally:
        dispose_engines()
