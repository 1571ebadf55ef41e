"""A PostgreSQL database of a test's own: created on the test server (FRESHNESS_TEST_POSTGRES_URL)
beside its database, dropped afterwards. Tests that use it do not touch the shared database's
``public`` schema, so they can run while other tests use it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_database(server_url: str, label: str) -> Iterator[str]:
    """The URL of a new, empty database named ``<test database>_<label>_<unique>``."""
    url = make_url(server_url)
    name = f"{url.database or 'freshness'}_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"[:63]
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        from freshness.db import dispose_engines

        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
