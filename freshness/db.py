"""Engine and sessions. SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
import os
from pathlib import Path

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from freshness.config import Settings, get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type; values are stored as naive UTC and come back
    aware. Naive datetimes are refused on write, so local time never sneaks in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: freshness stores timezone-aware UTC only")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """The real clock (``freshness.clock``, which tests replace)."""
    from freshness import clock

    return clock.utcnow()


def busy_timeout_ms(settings: Settings | None = None) -> int:
    """How long (ms) a SQLite write waits for another process's lock (FRESHNESS_SQLITE_BUSY_TIMEOUT_SECONDS)."""
    settings = settings or get_settings()
    return int(settings.sqlite_busy_timeout_seconds * 1000)


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:  # pragma: no cover - trivial
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # deleted rows are overwritten with zeros (in the database file, its free pages and the WAL
    # frames written from then on), so a forgotten person's data is not left in the file
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


_engines: dict[str, Engine] = {}


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def shown_url(url: str) -> str:
    """The database URL as it may be printed or logged: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable database URL)"


def create_database_file(settings: Settings) -> None:
    """Before the first connection of ``freshness init``: the data directory (0700) and an empty
    database file (0600; SQLite gives its -wal and -shm files the database file's mode)."""
    from freshness.blobs import private_dir

    path = sqlite_file(settings.db_url)
    if path is None:
        return
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def database_problem(settings: Settings) -> tuple[str, str] | None:
    """Why the (SQLite) database cannot be used as it is, as (kind, message): ``not_a_file``,
    ``lost`` (missing or empty while the data directory holds stored photos: it was deleted,
    moved or replaced) or ``missing`` (never initialised). None when it is there (or not SQLite)."""
    path = sqlite_file(settings.db_url)
    if path is None or path.is_file() and path.stat().st_size > 0:
        return None
    if path.exists() and not path.is_file():
        return "not_a_file", f"the database {path} is not a file"
    if stored_files_present(settings):
        return "lost", lost_database(settings, "is missing" if not path.exists() else "is empty")
    if not path.exists():
        return "missing", f"the database {shown_url(settings.db_url)} is not initialised: run `freshness init` first"
    return None  # an empty file and no photos: `init` fills it, other commands say it is not initialised


def lost_database(settings: Settings, what: str) -> str:
    return (f"the database {shown_url(settings.db_url)} {what}, but the data directory {settings.home} holds stored photos: "
            f"it was deleted, moved or replaced. Restore it from a backup (then run `freshness doctor`)")


def check_database(settings: Settings) -> None:
    """Refuse to go on without the database instead of letting SQLite create an empty one (any
    command run before ``init`` used to leave one behind); see ``database_problem``."""
    from freshness.errors import UsageError

    problem = database_problem(settings)
    if problem is not None:
        kind, message = problem
        if kind == "lost":
            message += f"; to start over instead, move {settings.home} away and run `freshness init`"
        raise UsageError(message)


def stored_files_present(settings: Settings) -> bool:
    from freshness.blobs import BlobStore

    return next(iter(BlobStore(settings.blob_dir).files()), None) is not None


def make_engine(url: str, busy_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        def busy_timeout(dbapi_connection, connection_record) -> None:  # FRESHNESS_SQLITE_BUSY_TIMEOUT_SECONDS
            dbapi_connection.execute(f"PRAGMA busy_timeout={int(busy_ms)}")

        event.listen(engine, "connect", busy_timeout)
        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.db_url
    busy_ms = busy_timeout_ms(settings)
    engine = _engines.get(f"{busy_ms} {url}")
    if engine is None:
        engine = _engines[f"{busy_ms} {url}"] = make_engine(url, busy_ms)
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(get_engine(settings), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
