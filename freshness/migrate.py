"""Run the Alembic migrations from code (``freshness init``).

Alembic is imported only to migrate: checking that a database is current (every
command does) reads its version row directly and compares it with ``HEAD``, so a
quick command does not pay for loading Alembic and parsing the migration scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from freshness.config import Settings, get_settings
from freshness.db import get_engine

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration in migrations/versions (a test checks it against Alembic's head).
HEAD = "0005"


def migrations_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "migrations", here / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"migrations directory not found next to {here}")


def alembic_config(settings: Settings | None = None) -> Config:
    from alembic.config import Config

    settings = settings or get_settings()
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", settings.db_url.replace("%", "%%"))
    return cfg


def script_head(settings: Settings | None = None) -> str | None:
    """The head revision according to Alembic's scripts (slow: parses every migration)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def head_revision(settings: Settings | None = None) -> str:
    return HEAD


def current_revision(settings: Settings | None = None) -> str | None:
    """The database's migration revision; None for an empty database."""
    with get_engine(settings).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"the database has several migration heads: {', '.join(rows)}")
    return rows[0] if rows else None


def upgrade(settings: Settings | None = None) -> tuple[str | None, str | None]:
    """Upgrade the database to head. Idempotent. Returns (before, after) revisions."""
    from alembic import command

    from freshness.db import create_database_file

    settings = settings or get_settings()
    create_database_file(settings)  # private (0600) from the start, in a private data directory
    before = current_revision(settings)
    cfg = alembic_config(settings)
    with get_engine(settings).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one: with foreign
            # keys on, that drop would cascade and delete every row that refers to it
            # (measurements, reminder events...). The pragma only works outside a
            # transaction; the keys are checked before the migration commits.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows whose references are broken: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    return before, current_revision(settings)
