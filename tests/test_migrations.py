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


def test_it_knows_the_head_revision_without_parsing_the_migrations(home) -> None:
    # HEAD is what quick commands compare with; it must be Alembic's real head
    assert migrate.HEAD == migrate.script_head(Settings())


def test_it_fills_the_condition_start_of_reminders_recorded_before_it_existed(home) -> None:
    from alembic import command

    settings = Settings()
    cfg = migrate.alembic_config(settings)
    with get_engine(settings).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    with get_engine(settings).begin() as connection:
        connection.execute(text(
            "INSERT INTO person (id, name, timezone, checkin_every_days, policy_overrides, consent_version, "
            "consent_at, created_at) VALUES (1, 'Ada', 'UTC', 30, '{}', 'v', '2025-01-01', '2025-01-01')"))
        connection.execute(text(
            "INSERT INTO reminder (person_id, kind, state, opened_at, updated_at, message, details) "
            "VALUES (1, 'checkin_missed', 'open', '2025-03-01 10:00:00', '2025-03-01 10:00:00', 'm', '{}')"))
    assert migrate.current_revision(settings) == "0001"
    migrate.upgrade(settings)
    with get_engine(settings).connect() as connection:
        since, opened = connection.execute(text("SELECT since, opened_at FROM reminder")).one()
    assert since == opened and str(since).startswith("2025-03-01 10:00")
    assert _diff(settings) == []
