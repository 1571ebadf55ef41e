"""Faults: concurrent writers, killed processes, a locked database, a full or read-only disk.

What must hold after any of them (README, "When things fail"): the database passes
``PRAGMA integrity_check``, no row refers to a missing file, nothing half-written stays, and
what a killed process left (a file without its row, a ``.tmp`` file) is found and removed by
``freshness doctor --fix`` and the maintenance job.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
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
from tests.conftest import IN_CI

NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
ADAMS = "people/amy_adams/adams.jpg"


# what is stored, read with plain SQL and the file system: independent of the code under test
referenced, stored, integrity = kills.referenced, kills.stored, kills.integrity


def missing_files(home: Path) -> list[str]:
    """Digests rows refer to whose files are not in the store."""
    return sorted(referenced(home) - stored(home))


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
    """This test's environment (the ``home`` fixture keeps only its own FRESHNESS_ settings)."""
    env = dict(os.environ)
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


# ---------------------------------------------------------------- 8 processes for one person, started together

#: Run by each process: import everything, say "ready" on one pipe, wait for "go" on another, then
#: run ``freshness ARGS`` (``python -m freshness``) — so all start their work at the same moment.
BARRIER = r"""
import os, runpy, sys
ready, go = int(sys.argv[1]), int(sys.argv[2])
import freshness.cli, freshness.checkins, freshness.reminders, freshness.sweep, freshness.faces.analyze
os.write(ready, b"r")
os.close(ready)
assert os.read(go, 1) == b"g"
os.close(go)
sys.argv = ["freshness", *sys.argv[3:]]
runpy.run_module("freshness", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch):
    """An initialised database: SQLite in ``home``, or a PostgreSQL database of this test's own."""
    from freshness.config import reset_settings_cache
    from tests.pgtools import fresh_database

    if request.param == "sqlite":
        run("init")
        yield Settings().db_url
        return
    with fresh_database(request.getfixturevalue("postgres_url"), "faults") as url:
        monkeypatch.setenv("FRESHNESS_DATABASE_URL", url)
        reset_settings_cache()
        dispose_engines()
        run("init")
        yield url
        dispose_engines()


class Held:
    """Every writer kept waiting: SQLite's write lock (``BEGIN IMMEDIATE``), or on PostgreSQL the tables
    the check-ins and evaluations write first locked against writes (reads go on)."""

    def __init__(self, url: str, home: Path):
        from sqlalchemy import create_engine, text

        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.lock = WriteLock(home)
            return
        self.engine = create_engine(url)
        self.connection = self.engine.connect()
        self.connection.execute(text("LOCK TABLE checkin, reminder, reminderevent, person "
                                     "IN SHARE ROW EXCLUSIVE MODE"))

    def waiting(self, procs: list[subprocess.Popen]) -> bool:
        """Every one of ``procs`` waits for the lock (has read what it read and reached its first write)."""
        from sqlalchemy import text

        if self.sqlite:
            return all(kills.asleep(p.pid) for p in procs)
        with self.engine.connect() as other:
            blocked = other.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> :me"), {"me": self.backend_pid()}).scalar()
        return blocked == len(procs)

    def backend_pid(self) -> int:
        from sqlalchemy import text

        return self.connection.execute(text("SELECT pg_backend_pid()")).scalar()  # type: ignore[return-value]

    def release(self) -> None:
        if self.sqlite:
            self.lock.release()
            return
        self.connection.rollback()
        self.connection.close()
        self.engine.dispose()


def start_together(home: Path, commands: list[list[object]]) -> tuple[list[subprocess.Popen], int]:
    """Start ``commands`` as processes that wait at a barrier after their imports; returns them and the
    write end of the "go" pipe (write one byte per process to let them all go)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    procs = [subprocess.Popen([sys.executable, "-c", BARRIER, str(ready_w), str(go_r), *map(str, args)],
                              env=cli_env(home), pass_fds=(ready_w, go_r),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in commands]
    os.close(ready_w)
    os.close(go_r)
    got = b""
    deadline = time.monotonic() + 120
    while len(got) < len(procs):
        assert time.monotonic() < deadline, "the processes did not reach the barrier"
        import select

        if select.select([ready_r], [], [], 1.0)[0]:
            chunk = os.read(ready_r, 64)
            assert chunk, f"a process ended before the barrier: {[p.poll() for p in procs]}"
            got += chunk
    os.close(ready_r)
    return procs, go_w


def rows(url: str, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql)).all()]
    finally:
        engine.dispose()


@pytest.mark.faces
def test_eight_processes_for_one_person_checking_in_and_evaluating_at_once(
        database_url: str, home: Path, faces: Path, tmp_path: Path) -> None:
    """4 check-ins (different photos) and 4 evaluations (2 ``reminders``, 2 ``run sweep``) of one
    person, released together from a barrier while every writer is held back: each has done its
    reads (identity, headshots, the stored reminders) and waits at its first write when the lock
    is released, so all 8 then write from the same stale state, in whatever order they get the lock.
    All succeed; one measurement per check-in and active headshot, equal to the distance of the
    stored embeddings; each reminder opened once (one event), at most one unresolved per
    person/headshot/kind; the database intact and every file its rows name stored."""
    run("person", "add", "Obama", "--consent")
    run("headshot", "add", "Obama", faces / OBAMA, "--platform", "linkedin", "--published", "2024-01-01")
    run("checkin", "Obama", faces / "people/barack_obama/obama-720p.jpg", "--taken", "2026-01-10")
    dispose_engines()
    photos = [faces / "people/barack_obama/obama1.jpg", faces / "people/barack_obama/obama-480p.jpg",
              variant(faces / OBAMA2, tmp_path / "a.jpg", 1), variant(faces / OBAMA2, tmp_path / "b.jpg", 2)]
    commands = [["checkin", "Obama", photo, "--taken", f"2026-02-0{i + 1}"] for i, photo in enumerate(photos)]
    commands += [["reminders", "Obama", "--json"], ["run", "sweep"]] * 2
    procs, go = start_together(home, commands)
    held = Held(database_url, home)
    try:
        os.write(go, b"g" * len(procs))
        os.close(go)
        deadline = time.monotonic() + 120
        while not held.waiting(procs):
            assert all(p.poll() is None for p in procs), [(p.args[3:], p.poll()) for p in procs]
            assert time.monotonic() < deadline, "not every process reached its first write"
            time.sleep(0.01)
    finally:
        held.release()
    outcomes = [finish(p) for p in procs]
    for args, (code, out, err) in zip(commands, outcomes):
        assert code == 0, f"{args}: exit {code}\n{out}\n{err}"
        assert "Traceback" not in err

    checkins = rows(database_url, "SELECT id, embedding FROM checkin ORDER BY id")
    heads = rows(database_url, "SELECT id, embedding FROM headshot WHERE retired_at IS NULL")
    measured = rows(database_url, "SELECT checkin_id, headshot_id, distance FROM measurement")
    assert len(checkins) == 5 and len(heads) == 1
    import numpy as np

    expected = {(c, h): round(float(np.linalg.norm(np.frombuffer(ce, "<f4").astype(np.float64)
                                                   - np.frombuffer(he, "<f4").astype(np.float64))), 6)
                for c, ce in checkins for h, he in heads}
    assert {(c, h): d for c, h, d in measured} == pytest.approx(expected, abs=1e-6)
    assert len(measured) == len(expected)  # one per check-in and active headshot, none twice

    assert rows(database_url, "SELECT person_id, headshot_id, kind, count(*) FROM reminder "
                              "WHERE state <> 'resolved' GROUP BY person_id, headshot_id, kind "
                              "HAVING count(*) > 1") == []
    opened = rows(database_url, "SELECT r.id, r.kind, count(e.id) FROM reminder r LEFT JOIN reminderevent e "
                                "ON e.reminder_id = r.id AND e.old_state IS NULL GROUP BY r.id, r.kind")
    assert opened and all(n == 1 for _, _, n in opened), opened
    assert "refresh_overdue" in {kind for _, kind, _ in opened}
    flips = rows(database_url, "SELECT reminder_id, old_state, new_state FROM reminderevent ORDER BY id")
    assert len(flips) == len(set(flips))  # no change recorded twice
    # the evaluators planned from the state before the check-ins: one more evaluation catches up
    # (it may open what the new check-ins call for) without rewriting what the 8 recorded, and
    # the next one records nothing
    events = "SELECT reminder_id, old_state, new_state FROM reminderevent ORDER BY id"
    run_json_subprocess(home, "reminders", "Obama")
    caught_up = rows(database_url, events)
    assert caught_up[:len(flips)] == flips
    run_json_subprocess(home, "reminders", "Obama")
    assert rows(database_url, events) == caught_up
    assert rows(database_url, "SELECT person_id, headshot_id, kind, count(*) FROM reminder "
                              "WHERE state <> 'resolved' GROUP BY person_id, headshot_id, kind "
                              "HAVING count(*) > 1") == []

    files = {r[0] for r in rows(database_url, "SELECT image_digest FROM headshot UNION SELECT thumb_digest "
                                              "FROM headshot UNION SELECT thumb_digest FROM checkin UNION "
                                              "SELECT image_digest FROM checkin WHERE original_kept")}
    assert files <= stored(home)
    if database_url.startswith("sqlite"):
        assert integrity(home) == "ok"


def run_json_subprocess(home: Path, *args: object):
    result = subprocess.run([sys.executable, "-m", "freshness", *map(str, args), "--json"], env=cli_env(home),
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------- a check-in committed while an evaluation reads


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings of a fresh, migrated database: SQLite in ``home``, or a PostgreSQL database of this test's own."""
    from freshness.config import reset_settings_cache
    from tests.pgtools import fresh_database

    if request.param == "sqlite":
        settings = Settings()
        migrate.upgrade(settings)
        yield settings
        return
    with fresh_database(request.getfixturevalue("postgres_url"), "faults") as url:
        monkeypatch.setenv("FRESHNESS_DATABASE_URL", url)
        reset_settings_cache()
        settings = Settings()
        migrate.upgrade(settings)
        yield settings
        dispose_engines()


@pytest.mark.parametrize("loader", ["evaluation", "sweep"])
def test_a_check_in_committed_between_an_evaluations_reads_is_counted_or_not_never_a_crash(
        backend: Settings, loader: str) -> None:
    """An evaluation reads a person's check-ins, then their measurements, each statement seeing what
    is committed when it runs. Forced interleaving: right after the check-ins are read, another
    session commits a check-in with its measurement. It used to be a KeyError (8 processes checking
    in and evaluating at once crashed a check-in's verdict this way)."""
    from datetime import date

    from freshness import reminders, sweep
    from freshness.models import Person
    from tests import dbseed

    engine = get_engine(backend)
    with Session(engine, expire_on_commit=False) as s:
        person = dbseed.person(s)
        head = dbseed.headshot(s, person, date(2025, 1, 1))
        dbseed.checkin(s, person, datetime(2025, 2, 1, tzinfo=timezone.utc), {head.id: 0.30})
    committed: list[int] = []
    with Session(engine, expire_on_commit=False) as reader:
        real_exec = reader.exec

        def exec_then_another_commits(statement, *args, **kwargs):
            result = real_exec(statement, *args, **kwargs)
            if not committed and "FROM checkin" in str(statement) and "measurement" not in str(statement):
                result = list(result)  # this statement is done ...
                with Session(engine, expire_on_commit=False) as other:  # ... another process checks in
                    other.info["seq"] = 10
                    row = dbseed.checkin(other, other.get(Person, person.id), datetime(2025, 3, 1, tzinfo=timezone.utc),
                                         {head.id: 0.31})
                    committed.append(row.id)  # type: ignore[arg-type]
                return _Rows(result)
            return result

        reader.exec = exec_then_another_commits  # type: ignore[method-assign]
        who = reader.get(Person, person.id)
        if loader == "evaluation":
            data = reminders.load_person_data(reader, who)
            samples = data.samples[head.id]
        else:
            samples = sweep.load_batch(reader, [who])[person.id][2][head.id]
    assert committed
    assert sorted(s.distance for s in samples) in ([0.30], [0.30, 0.31])


class _Rows(list):
    """A list that answers what the loaders ask of a result."""

    def all(self):
        return list(self)


# ---------------------------------------------------------------- a full disk, a read-only data directory


@contextmanager
def mounted_tmpfs(where: Path, size: str):
    """A tmpfs of ``size`` at ``where`` (tests run as root, where chmod stops nothing: a real full or
    read-only file system is the only honest one). Where mounting is not permitted the test is
    skipped with the reason — except under CI, where it must run."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here ({(done.stderr or done.stdout).strip()}): needs root in a " \
                 "container that allows mount"
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    try:
        yield where
    finally:
        dispose_engines()
        subprocess.run(["umount", str(where)], check=False)
        if os.path.ismount(where):
            subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def fill(where: Path, leave: int = 0) -> Path:
    """Fill the file system at ``where`` to the last byte, then give back ``leave`` bytes."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faces: Path):
    """A data directory on its own 8 MB file system: a person with a headshot and a check-in."""
    from freshness.config import reset_settings_cache

    with mounted_tmpfs(tmp_path / "disk", "8M") as disk:
        home = disk / "home"
        monkeypatch.setenv("FRESHNESS_HOME", str(home))
        reset_settings_cache()
        dispose_engines()
        run("init")
        run("person", "add", "Obama", "--consent")
        run("headshot", "add", "Obama", faces / OBAMA, "--platform", "linkedin", "--published", "2026-01-01")
        run("checkin", "Obama", faces / OBAMA2, "--taken", "2026-01-10")
        dispose_engines()
        yield disk, home


def refused(home: Path, *args: object) -> str:
    result = subprocess.run([sys.executable, "-m", "freshness", *map(str, args)], env=cli_env(home),
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "INSERT" not in result.stderr, result.stderr
    return result.stderr


@pytest.mark.faces
def test_a_full_disk_is_a_clear_error_and_nothing_is_half_written(small_disk, tmp_path: Path, faces: Path) -> None:
    disk, home = small_disk
    selfie = variant(faces / OBAMA2, tmp_path / "new.jpg", 2)
    before = snapshot(home)
    filler = fill(disk)
    err = refused(home, "checkin", "Obama", selfie, "--taken", "2026-02-01")
    assert "no space left on the device" in err and "free some space" in err
    assert not kills.temporary(home)  # the thumbnail's temporary file went with the failure
    filler.unlink()
    assert snapshot(home) == before  # no row, no file
    assert integrity(home) == "ok"


@pytest.mark.faces
def test_a_disk_with_room_for_the_file_but_not_the_database_keeps_neither(small_disk, tmp_path: Path,
                                                                          faces: Path) -> None:
    """The thumbnail is written, then the database cannot grow its write-ahead log: the transaction
    fails, and the file it wrote is removed (no row refers to it)."""
    disk, home = small_disk
    selfie = variant(faces / OBAMA2, tmp_path / "new.jpg", 2)
    db = sqlite3.connect(home / "freshness.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write must grow the log
    db.close()
    before = snapshot(home)
    filler = fill(disk, leave=64 * 1024)  # room for the -shm file (32 kB) and a thumbnail, not for the log
    err = refused(home, "checkin", "Obama", selfie, "--taken", "2026-02-01")
    # the database's own words: the thumbnail (13 kB) was written, its row could not be (a failed
    # file write would have been "No space left on device" with the file's path)
    assert "no space left on the device" in err and "(database or disk is full)" in err, err
    assert not kills.temporary(home)
    filler.unlink()
    assert snapshot(home) == before
    assert integrity(home) == "ok"


@pytest.mark.faces
def test_a_read_only_data_directory_is_a_clear_error_and_nothing_is_written(small_disk, tmp_path: Path,
                                                                            faces: Path) -> None:
    disk, home = small_disk
    selfie = variant(faces / OBAMA2, tmp_path / "new.jpg", 2)
    before = snapshot(home)
    remount(disk, "ro")
    try:
        for args in (["checkin", "Obama", selfie, "--taken", "2026-02-01"], ["person", "add", "Ada", "--consent"]):
            err = refused(home, *args)
            assert "read-only" in err, err
    finally:
        remount(disk, "rw")
    assert snapshot(home) == before
    assert integrity(home) == "ok"
