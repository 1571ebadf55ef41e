"""Faults: concurrent writers, killed processes, a locked database, a full or read-only disk.

What must hold after any of them (README, "When things fail"): the database passes
``PRAGMA integrity_check``, no row refers to a missing file, nothing half-written stays, and
what a killed process left (a file without its row, a ``.tmp`` file) is found and removed by
``freshness doctor --fix`` and the maintenance job.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session, select

from freshness import migrate
from freshness.blobs import BlobBatch
from freshness.checkins import add_checkin
from freshness.config import Settings
from freshness.context import Context
from freshness.db import dispose_engines, get_engine
from freshness.errors import ImageRejected
from freshness.models import Checkin
from freshness.people import add_person, delete_person
from tests import kills
from tests.clitools import run, snapshot, variant

NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
ADAMS = "people/amy_adams/adams.jpg"


def referenced(home: Path) -> set[str]:
    """Every file the rows name (read with plain SQL: independent of the code under test)."""
    db = sqlite3.connect(home / "freshness.db")
    try:
        rows = db.execute("SELECT image_digest FROM headshot UNION SELECT thumb_digest FROM headshot "
                          "UNION SELECT thumb_digest FROM checkin "
                          "UNION SELECT image_digest FROM checkin WHERE original_kept").fetchall()
    finally:
        db.close()
    return {r[0] for r in rows}


def stored(home: Path) -> set[str]:
    return {p.name for p in (home / "blobs").glob("??/??/*") if p.is_file() and not p.name.startswith(".")}


def missing_files(home: Path) -> list[str]:
    """Digests rows refer to whose files are not in the store."""
    return sorted(referenced(home) - stored(home))


def integrity(home: Path) -> str:
    db = sqlite3.connect(home / "freshness.db")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def world(home: Path):
    settings = Settings()
    migrate.upgrade(settings)
    return settings, Context(settings)


# ---------------------------------------------------------------- one file, two writers (deterministic)


@pytest.mark.faces
def test_it_never_removes_a_file_the_winner_of_a_race_committed(world, faces: Path, monkeypatch) -> None:
    """8 concurrent check-ins of one photo used to leave the winner's row without its thumbnail:
    the loser had written the file first, lost the race on the unique key and removed "its"
    file on rollback. Here the interleaving is forced: the loser writes the thumbnail, the
    winner stores the same photo completely, then the loser's insert fails."""
    settings, ctx = world
    data = (faces / ADAMS).read_bytes()
    with Session(get_engine(settings), expire_on_commit=False) as loser, \
            Session(get_engine(settings), expire_on_commit=False) as winner:
        person, _ = add_person(loser, "Adams", consent=True, now=NOW)
        real_put = BlobBatch.put
        won: list = []
        turns: list[str] = []

        def put_then_let_the_other_win(self, blob: bytes) -> str:
            digest = real_put(self, blob)
            if not turns:
                turns.append("the winner")
                won.append(add_checkin(winner, ctx, winner.get(type(person), person.id), data, now=NOW))
            return digest

        monkeypatch.setattr(BlobBatch, "put", put_then_let_the_other_win)
        with pytest.raises(ImageRejected) as lost:
            add_checkin(loser, ctx, person, data, now=NOW)
        assert lost.value.code == "duplicate"
    (row,) = won
    assert ctx.blobs.exists(row.checkin.thumb_digest)
    assert missing_files(settings.home) == []


@pytest.mark.faces
def test_deleting_a_person_keeps_a_file_a_check_in_being_committed_relies_on(world, faces: Path,
                                                                            monkeypatch) -> None:
    """Two people checked in identical bytes: deleting the first while the second's check-in
    has found the file (and not yet committed its row) must not remove it. The deletion waits
    for the writer's transaction, then sees the new row and keeps the file."""
    settings, ctx = world
    data = (faces / ADAMS).read_bytes()
    engine = get_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        first, _ = add_person(session, "First", consent=True, now=NOW)
        second, _ = add_person(session, "Second", consent=True, now=NOW)
        add_checkin(session, ctx, first, data, now=NOW)
    real_put = BlobBatch.put
    deleting: list[threading.Thread] = []
    outcome: dict[str, object] = {}

    def put_while_someone_deletes(self, blob: bytes) -> str:
        digest = real_put(self, blob)
        if not deleting:
            def delete_first() -> None:
                with Session(engine, expire_on_commit=False) as other:
                    outcome["counts"] = delete_person(other, other.get(type(first), first.id), ctx.blobs)

            thread = threading.Thread(target=delete_first)
            deleting.append(thread)
            thread.start()
            thread.join(2.0)
            outcome["waited"] = thread.is_alive()  # blocked until this writer's transaction ends
        return digest

    monkeypatch.setattr(BlobBatch, "put", put_while_someone_deletes)
    with Session(engine, expire_on_commit=False) as session:
        result = add_checkin(session, ctx, session.get(type(second), second.id), data, now=NOW)
    deleting[0].join(30)
    assert outcome["waited"] is True
    assert outcome["counts"]["files"] == 0  # type: ignore[index]
    assert ctx.blobs.exists(result.checkin.thumb_digest)
    assert missing_files(settings.home) == []
    with Session(engine) as session:
        assert [c.person_id for c in session.exec(select(Checkin)).all()] == [second.id]


# ---------------------------------------------------------------- another process holds the SQLite write lock

SUBPROCESS_TIMEOUT = 120
OBAMA = "people/barack_obama/obama.jpg"
OBAMA2 = "people/barack_obama/obama2.jpg"
LOCKED = "the database stayed locked by another process for longer than the busy timeout"


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHNESS_")}
    env["FRESHNESS_HOME"] = str(home)
    env.update(extra)
    return env


def start(home: Path, *args: object, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "freshness", *map(str, args)], env=cli_env(home, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    return proc.returncode, out, err


class WriteLock:
    """A second writer: a connection holding ``BEGIN IMMEDIATE`` (SQLite's write lock) until released."""

    def __init__(self, home: Path):
        self.db = sqlite3.connect(home / "freshness.db", isolation_level=None)
        self.db.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


def wait_until_waiting_for_the_lock(proc: subprocess.Popen, ready=lambda: True, timeout: float = 60) -> None:
    """Until ``proc`` sleeps in SQLite's busy handler (and ``ready()``): it has reached its first write
    and waits for the lock. Fails if it ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"it did not wait for the lock: exit {proc.returncode}, {proc.communicate()}"
        if ready() and kills.asleep(proc.pid):
            return
        time.sleep(0.002)
    raise AssertionError(f"not waiting for the lock after {timeout} s")


@pytest.fixture
def obama(ready: Path, faces: Path) -> Path:
    """A person with a check-in and a headshot published in 2024 (two refresh reminders are due:
    the first evaluation writes), nothing evaluated yet."""
    run("person", "add", "Obama", "--consent")
    run("checkin", "Obama", faces / OBAMA2, "--taken", "2026-01-10")
    run("headshot", "add", "Obama", faces / OBAMA, "--platform", "linkedin", "--published", "2024-01-01")
    dispose_engines()
    return ready


@pytest.mark.faces
def test_a_check_in_and_an_evaluation_wait_for_a_lock_held_shorter_than_the_busy_timeout(
        obama: Path, faces: Path, tmp_path: Path) -> None:
    """Ordering is proven, not hoped for: both commands start while the lock is held, the test waits
    until each has reached its write (the check-in has written its thumbnail) and sleeps in SQLite's
    busy handler, then releases the lock; both then finish normally."""
    selfie = variant(faces / OBAMA2, tmp_path / "selfie.jpg", 3)
    files = stored(obama)
    lock = WriteLock(obama)
    try:
        checkin = start(obama, "checkin", "Obama", selfie, "--taken", "2026-02-10", "--json")
        wait_until_waiting_for_the_lock(checkin, ready=lambda: bool(stored(obama) - files))
        evaluation = start(obama, "reminders", "Obama", "--json")
        wait_until_waiting_for_the_lock(evaluation)
        time.sleep(0.3)  # held a while longer: both keep waiting
        assert checkin.poll() is None and evaluation.poll() is None
    finally:
        lock.release()
    code, out, err = finish(checkin)
    assert code == 0, err
    assert json.loads(out)["results"][0]["accepted"] is True
    code, out, err = finish(evaluation)
    assert code == 0, err
    assert {r["kind"] for r in json.loads(out)} >= {"refresh_overdue"}
    assert integrity(obama) == "ok" and missing_files(obama) == []
    db = sqlite3.connect(obama / "freshness.db")
    assert db.execute("SELECT count(*) FROM checkin").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM measurement").fetchone()[0] == 2
    db.close()


@pytest.mark.faces
def test_a_lock_held_longer_than_the_busy_timeout_is_a_clear_error_and_nothing_is_written(
        obama: Path, faces: Path, tmp_path: Path) -> None:
    selfie = variant(faces / OBAMA2, tmp_path / "selfie.jpg", 3)
    before = snapshot(obama)
    lock = WriteLock(obama)
    try:
        timeout = {"FRESHNESS_SQLITE_BUSY_TIMEOUT_SECONDS": "1"}
        started = time.monotonic()
        procs = [start(obama, "checkin", "Obama", selfie, "--taken", "2026-02-10", **timeout),
                 start(obama, "reminders", "Obama", **timeout),
                 start(obama, "run", "sweep", **timeout)]
        outcomes = [finish(p) for p in procs]
        took = time.monotonic() - started
    finally:
        lock.release()
    for code, out, err in outcomes:
        assert code == 2, (code, out, err)
        assert f"error: {LOCKED}" in err
        assert "Traceback" not in err and "INSERT" not in err and "UPDATE" not in err
    assert took < 15  # one busy timeout each (1 s), not one per retry
    assert snapshot(obama) == before  # no row, no file (the thumbnail written before the insert is gone)
    assert integrity(obama) == "ok"
