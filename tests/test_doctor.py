"""`freshness doctor [--fix]`, and a database that is missing, emptied or replaced."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from freshness.blobs import BlobStore
from freshness.db import dispose_engines
from tests.clitools import run, run_json

OBAMA = "people/barack_obama/obama.jpg"
OBAMA2 = "people/barack_obama/obama2.jpg"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def findings(data: dict) -> dict[str, dict]:
    return {f["check"]: f for f in data["findings"]}


def test_it_creates_the_data_directory_and_database_private(home: Path) -> None:
    run("init")
    assert mode(home) == 0o700
    assert mode(home / "freshness.db") == 0o600
    run("person", "add", "Ada", "--consent")  # writes: the WAL and its index appear
    for name in ("freshness.db-wal", "freshness.db-shm"):
        if (home / name).exists():
            assert mode(home / name) == 0o600, name


def test_a_command_before_init_leaves_no_database_behind(home: Path) -> None:
    result = run("person", "list", code=2)
    assert "not initialised: run `freshness init` first" in result.stderr
    assert not (home / "freshness.db").exists()
    run("status", "Ada", code=2)
    assert not home.exists() or not any(home.iterdir())


def test_it_is_healthy_after_ordinary_use(ready: Path, faces: Path) -> None:
    run("person", "add", "Obama", "--consent")
    run("headshot", "add", "Obama", faces / OBAMA, "--platform", "linkedin", "--published", "2026-01-01")
    run("checkin", "Obama", faces / OBAMA2)
    data = run_json("doctor")
    assert data["healthy"] is True, data
    assert all(f["ok"] for f in data["findings"])
    assert run("doctor").stdout.strip().endswith("healthy")


def test_it_finds_and_fixes_what_a_killed_write_leaves(ready: Path) -> None:
    store = BlobStore(ready / "blobs")
    orphan, _ = store.put(b"a thumbnail whose row was never committed")
    tmp = store.path(orphan).parent / ".abc123.tmp"
    tmp.write_bytes(b"half a file")
    os.chmod(ready / "freshness.db", 0o644)
    before = run_json("doctor", code=1)
    found = findings(before)
    assert found["unreferenced files"]["items"] == [orphan]
    assert found["temporary files"]["items"] == [str(tmp)]
    assert str(ready / "freshness.db") in found["permissions"]["message"]
    assert "`freshness doctor --fix` repairs 3 of them" in run("doctor", code=1).stdout
    fixed = run_json("doctor", "--fix")
    assert fixed["healthy"] is True and {f["check"] for f in fixed["findings"] if f["fixed"]} == {
        "unreferenced files", "temporary files", "permissions"}
    assert not store.exists(orphan) and not tmp.exists() and mode(ready / "freshness.db") == 0o600
    assert run_json("doctor")["healthy"] is True


def test_it_makes_a_missing_thumbnail_again_from_the_original(ready: Path, faces: Path) -> None:
    run("person", "add", "Obama", "--consent")
    head = run_json("headshot", "add", "Obama", faces / OBAMA, "--platform", "linkedin")
    digest = head["thumbnail_sha256"] if "thumbnail_sha256" in head else None
    store = BlobStore(ready / "blobs")
    import sqlite3

    db = sqlite3.connect(ready / "freshness.db")
    (thumb,) = db.execute("SELECT thumb_digest FROM headshot").fetchone()
    db.close()
    assert digest in (None, thumb)
    store.path(thumb).unlink()
    report = run_json("doctor", code=1)
    assert findings(report)["missing files"]["items"] == ["headshot #1 thumbnail"]
    fixed = run_json("doctor", "--fix")
    assert findings(fixed)["missing files"]["fixed"] is True
    assert store.exists(thumb)  # the same pipeline makes the same thumbnail
    assert run_json("doctor")["healthy"] is True


def test_it_says_when_a_missing_file_cannot_be_made_again(ready: Path, faces: Path) -> None:
    run("person", "add", "Obama", "--consent")
    run("checkin", "Obama", faces / OBAMA2)  # the selfie's original is not kept
    import sqlite3

    db = sqlite3.connect(ready / "freshness.db")
    (thumb,) = db.execute("SELECT thumb_digest FROM checkin").fetchone()
    db.close()
    BlobStore(ready / "blobs").path(thumb).unlink()
    result = run("doctor", "--fix", code=1)
    assert "check-in #1 thumbnail" in result.stdout and "restore the data directory from a backup" in result.stdout


def test_a_lost_database_is_named_not_silently_replaced(ready: Path, faces: Path) -> None:
    run("person", "add", "Obama", "--consent")
    run("checkin", "Obama", faces / OBAMA2)
    dispose_engines()  # as a new process would (this one's pool still holds the deleted file open)
    for name in ("freshness.db", "freshness.db-wal", "freshness.db-shm"):
        (ready / name).unlink(missing_ok=True)
    before = sorted(p.name for p in ready.iterdir())
    for args in (["person", "list"], ["status", "Obama"], ["checkin", "Obama", faces / OBAMA]):
        result = run(*args, code=2)
        assert "is missing, but the data directory" in result.stderr and "holds stored photos" in result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in ready.iterdir()) == before  # no empty database appeared
    refused = run("init", code=2)
    assert "freshness init --force" in refused.stderr
    assert sorted(p.name for p in ready.iterdir()) == before
    assert "holds stored photos" in run("doctor", code=1).stdout
    # replaced by an empty file: the same
    (ready / "freshness.db").write_bytes(b"")
    dispose_engines()
    assert "is empty, but the data directory" in run("person", "list", code=2).stderr
    run("init", "--force")
    report = run_json("doctor", code=1)
    assert len(findings(report)["unreferenced files"]["items"]) == 1
    run("doctor", "--fix")


def test_a_damaged_database_is_reported_and_no_file_is_removed(ready: Path, faces: Path) -> None:
    run("person", "add", "Obama", "--consent")
    run("checkin", "Obama", faces / OBAMA2)
    import sqlite3

    db = sqlite3.connect(ready / "freshness.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'checkin'").fetchone()
    db.close()
    with open(ready / "freshness.db", "r+b") as fh:  # scribble over the check-in table's page
        fh.seek((root - 1) * page + 8)
        fh.write(os.urandom(64))
    dispose_engines()
    files = sorted((ready / "blobs").rglob("*"))
    result = run("doctor", "--fix", code=1)
    assert "Traceback" not in result.stdout + result.stderr
    assert "problem" in result.stdout
    assert sorted((ready / "blobs").rglob("*")) == files
    data = json.loads(run("doctor", "--json", code=1).stdout)
    assert data["healthy"] is False


@pytest.fixture
def faces(faces: Path) -> Path:  # noqa: F811 - these tests need the photos only where they use them
    return faces
