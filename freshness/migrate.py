"""Run the Alembic migrations from code (``freshness init``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from freshness.config import Settings, get_settings
from freshness.db import get_engine


def migrations_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "migrations", here / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"migrations directory not found next to {here}")


def alembic_config(settings: Settings | None = None) -> Config:
    settings = settings or get_settings()
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", settings.db_url.replace("%", "%%"))
    return cfg


def head_revision(settings: Settings | None = None) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(settings: Settings | None = None) -> str | None:
    with get_engine(settings).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(settings: Settings | None = None) -> tuple[str | None, str | None]:
    """Upgrade the database to head. Idempotent. Returns (before, after) revisions."""
    settings = settings or get_settings()
    before = current_revision(settings)
    cfg = alembic_config(settings)
    with get_engine(settings).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    return before, current_revision(settings)
