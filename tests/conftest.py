"""Shared fixtures.

Real photos come from FRESHNESS_TEST_FACES (default ../shared/faces from the
repository root). Outside CI a missing directory skips the tests that need it,
with the reason; under CI (CI=true) it fails the whole run. Likewise a
PostgreSQL server (FRESHNESS_TEST_POSTGRES_URL) is required under CI.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from freshness.config import reset_settings_cache
from freshness.db import dispose_engines

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def faces_root() -> Path:
    return Path(os.environ.get("FRESHNESS_TEST_FACES") or REPO.parent / "shared" / "faces")


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI:
        root = faces_root()
        if not (root / "manifest.csv").is_file():
            pytest.exit(f"CI=true but the test photos are missing: {root}/manifest.csv not found "
                        "(set FRESHNESS_TEST_FACES)", returncode=1)
        if not os.environ.get("FRESHNESS_TEST_POSTGRES_URL"):
            pytest.exit("CI=true but FRESHNESS_TEST_POSTGRES_URL is not set (.ci/run starts PostgreSQL)",
                        returncode=1)


@pytest.fixture(scope="session")
def faces() -> Path:
    root = faces_root()
    if not (root / "manifest.csv").is_file():
        pytest.skip(f"test photos not found at {root} (set FRESHNESS_TEST_FACES)")
    return root


@pytest.fixture(scope="session")
def manifest(faces: Path) -> list[dict[str, str]]:
    with open(faces / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("FRESHNESS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set FRESHNESS_TEST_POSTGRES_URL (e.g. postgresql+psycopg://…)")
    return url


#: The instant the ``clock`` fixture freezes time at (tests never read the real clock).
FROZEN_NOW = datetime(2026, 11, 28, 15, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch):
    """Every test runs with the product's clock (``freshness.clock.utcnow``) frozen at FROZEN_NOW,
    so the suite passes on any date; ``clock.set(t)`` moves it. (Processes a test starts read
    the real clock: such tests pass explicit dates.)"""
    from freshness import clock as product_clock

    class Frozen:
        now = FROZEN_NOW

        def set(self, when: datetime) -> None:
            self.now = when

    frozen = Frozen()
    monkeypatch.setattr(product_clock, "utcnow", lambda: frozen.now)
    return frozen


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory (SQLite database + blob store) for one test."""
    data = tmp_path / "home"
    monkeypatch.setenv("FRESHNESS_HOME", str(data))
    for name in list(os.environ):
        if name.startswith("FRESHNESS_") and name not in ("FRESHNESS_HOME", "FRESHNESS_TEST_FACES",
                                                           "FRESHNESS_TEST_POSTGRES_URL"):
            monkeypatch.delenv(name)
    reset_settings_cache()
    dispose_engines()
    yield data
    dispose_engines()
    reset_settings_cache()


#: The loopback networks the tests' receivers listen on: private addresses, which webhooks and
#: Apprise refuse unless FRESHNESS_ALLOW_PRIVATE_TARGETS allows them (README, "Security").
LOOPBACK_TARGETS = "127.0.0.0/8,::1/128"


@pytest.fixture
def allow_loopback(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Allow notification targets on loopback (the tests' receivers) for this test: in the
    environment, so settings made in the test, the CLI and the processes it starts see it."""
    monkeypatch.setenv("FRESHNESS_ALLOW_PRIVATE_TARGETS", LOOPBACK_TARGETS)
    reset_settings_cache()
    return LOOPBACK_TARGETS


@pytest.fixture
def ready(home: Path) -> Path:
    """A fresh data directory with an initialised database."""
    from tests.clitools import run

    run("init")
    return home


@pytest.fixture
def settings_overrides() -> dict:
    """Settings a test file wants different from the defaults (override this fixture)."""
    return {}


@pytest.fixture
def settings(home: Path, settings_overrides: dict):
    """The settings of a fresh, migrated data directory."""
    from freshness import migrate
    from freshness.config import Settings

    s = Settings(**settings_overrides)
    migrate.upgrade(s)
    return s


@pytest.fixture
def session(settings):
    """A database session on the fresh data directory."""
    from sqlmodel import Session

    from freshness.db import get_engine

    with Session(get_engine(settings), expire_on_commit=False) as s:
        yield s
