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


def _ours(name, type_, parent_names) -> bool:
    """The scheduler's job store keeps its own table (freshness.scheduler.TABLE): not a model."""
    return not (type_ == "table" and name == "apscheduler_jobs")


def _diff(settings: Settings) -> list:
    with get_engine(settings).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": _ours})
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


def test_it_ignores_the_scheduler_job_store_table_but_nothing_else(home) -> None:
    from freshness.scheduler import TABLE, build_scheduler

    settings = Settings()
    migrate.upgrade(settings)
    build_scheduler(settings)  # creates the job store's table
    assert TABLE in inspect(get_engine(settings)).get_table_names()
    assert _diff(settings) == []
    with get_engine(settings).begin() as connection:
        connection.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    assert [d[0] for d in _diff(settings)] == ["remove_table"]


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


def _at_revision(settings: Settings, revision: str) -> None:
    from alembic import command

    from freshness.db import create_database_file

    cfg = migrate.alembic_config(settings)
    create_database_file(settings)  # as `freshness init` does: nothing makes an empty database implicitly
    with get_engine(settings).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


FIRST_CUT_ROWS = [
    "INSERT INTO person (id, name, timezone, checkin_every_days, policy_overrides, consent_version, consent_at, "
    "created_at) VALUES (1, 'Ada', 'UTC', 30, '{}', 'v', '2025-01-01', '2025-01-01')",
    "INSERT INTO apitoken (person_id, token_sha256, created_at) VALUES (1, 'aa', '2025-01-01')",
    "INSERT INTO headshot (id, person_id, platform, published_on, ai_generated, disclosed, image_digest, thumb_digest, "
    "embedding, quality, created_at) VALUES (1, 1, 'linkedin', '2025-01-01', 1, 0, 'h', 't', x'00', '{}', '2025-01-01')",
    "INSERT INTO checkin (id, person_id, taken_at, taken_at_source, received_at, image_digest, original_kept, "
    "thumb_digest, embedding, quality) VALUES (1, 1, '2025-02-01', 'given', '2025-02-01', 'c', 0, 't2', x'00', '{}')",
    "INSERT INTO measurement (checkin_id, headshot_id, distance) VALUES (1, 1, 0.42)",
    "INSERT INTO reminder (id, person_id, headshot_id, kind, state, opened_at, updated_at, message, details) "
    "VALUES (1, 1, 1, 'refresh_due', 'open', '2025-03-01 10:00:00', '2025-03-01 10:00:00', 'm', '{}')",
    "INSERT INTO reminderevent (reminder_id, old_state, new_state, reason, created_at) "
    "VALUES (1, NULL, 'open', 'r', '2025-03-01 10:00:00')",
    "INSERT INTO channel (person_id, kind, target, enabled, created_at) VALUES (1, 'email', 'a@b.c', 1, '2025-01-01')",
]


def test_it_upgrades_a_first_cut_database_without_losing_a_row(home) -> None:
    # SQLite alters a table by copying it: with foreign keys on, dropping the old copy would
    # cascade into every table that refers to it (measurements, reminder events, ...)
    settings = Settings()
    _at_revision(settings, "0001")
    with get_engine(settings).begin() as connection:
        for statement in FIRST_CUT_ROWS:
            connection.execute(text(statement))
    tables = ["person", "apitoken", "headshot", "checkin", "measurement", "reminder", "reminderevent", "channel"]
    assert migrate.current_revision(settings) == "0001"
    assert migrate.upgrade(settings) == ("0001", migrate.HEAD)
    with get_engine(settings).connect() as connection:
        counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        since, opened = connection.execute(text("SELECT since, opened_at FROM reminder")).one()
        hour, resolved = connection.execute(text("SELECT prompt_hour, notify_resolved FROM person")).one()
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on afterwards
    assert counts == {t: 1 for t in tables}
    # the condition's start of a reminder recorded before it existed: when it was recorded
    assert since == opened and str(since).startswith("2025-03-01 10:00")
    assert (hour, resolved) == (9, 0)
    assert _diff(settings) == []
