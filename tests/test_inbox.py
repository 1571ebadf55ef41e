"""Inbox import: photos dropped into <home>/inbox/<person id>/ are checked in once, then moved to
done/ or refused/ with a note; files still being written wait; two importers take each file once.

In-process tests run with the frozen clock and set the files' modification times relative to
it; the concurrency test runs two real `freshness run inbox` processes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, select

from freshness import inbox as inbox_mod
from freshness.config import Settings
from freshness.db import dispose_engines, get_engine
from freshness.inbox import import_inbox
from freshness.models import Checkin
from tests.clitools import run, run_json, variant
from tests.conftest import FROZEN_NOW, REPO

pytestmark = pytest.mark.faces

OBAMA = "people/barack_obama"


@pytest.fixture
def obama(ready: Path, faces: Path) -> dict:
    """A person with one accepted selfie (so the identity guard compares new ones with it)."""
    person = run_json("person", "add", "Barack Obama", "--consent", "--timezone", "America/Chicago")
    run("checkin", person["id"], faces / OBAMA / "obama2.jpg", "--taken", "2024-05-01")
    return person


@pytest.fixture
def folder(obama: dict, ready: Path) -> Path:
    path = ready / "inbox" / str(obama["id"])
    path.mkdir(parents=True)
    return path


def drop(src: Path, folder: Path, name: str | None = None, age: float = 120.0) -> Path:
    """Copy a photo into the inbox, last written ``age`` seconds before the frozen now."""
    target = folder / (name or src.name)
    shutil.copyfile(src, target)
    when = (FROZEN_NOW - timedelta(seconds=age)).timestamp()
    os.utime(target, (when, when))
    return target


def checkins(home: Path) -> list[Checkin]:
    with Session(get_engine(Settings())) as session:
        return list(session.exec(select(Checkin).order_by(Checkin.id)).all())


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_it_checks_in_a_dropped_photo_once_and_moves_it_to_done_with_its_note(
        folder: Path, faces: Path, tmp_path: Path) -> None:
    img = Image.open(faces / OBAMA / "obama-720p.jpg")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2025:07:04 10:00:00"
    src = tmp_path / "IMG_0001.jpg"
    img.save(src, "JPEG", quality=92, exif=exif.tobytes())
    drop(src, folder)

    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.checked_in, report.refused, report.waiting, report.errors) == (1, 0, 0, [])
    assert listing(folder) == ["done/IMG_0001.jpg", "done/IMG_0001.jpg.txt"]
    assert (folder / "done/IMG_0001.jpg").read_bytes() == src.read_bytes()
    stored = checkins(folder)[-1]
    assert (stored.id, stored.taken_at_source) == (2, "exif")
    assert stored.taken_at.isoformat() == "2025-07-04T15:00:00+00:00"  # 10:00 in Chicago (CDT)
    note = (folder / "done/IMG_0001.jpg.txt").read_text()
    assert "Checked in as check-in #2, taken 2025-07-04 10:00 CDT (from the photo's EXIF date)." in note
    assert "Imported 2026-11-28 09:30 CST from the inbox folder." in note

    # never twice: the next run finds nothing, and the same photo dropped again is a duplicate
    assert import_inbox(Settings(), FROZEN_NOW).checked_in == 0
    drop(src, folder, "again.jpg")
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.checked_in, report.refused) == (0, 1)
    assert "Not checked in (duplicate): this exact photo was already checked in (check-in #2" in \
        (folder / "refused/again.jpg.txt").read_text()
    assert len(checkins(folder)) == 2


def test_it_refuses_a_photo_without_a_face_with_its_reason(folder: Path, faces: Path) -> None:
    drop(faces / "edge/flower.jpg", folder)
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.checked_in, report.refused) == (0, 1)
    assert listing(folder) == ["refused/flower.jpg", "refused/flower.jpg.txt"]
    note = (folder / "refused/flower.jpg.txt").read_text()
    assert note.startswith("Not checked in (no_face): ")
    assert "Nothing was stored." in note
    assert len(checkins(folder)) == 1


def test_it_refuses_another_persons_photo_with_the_identity_guards_reason(folder: Path, faces: Path) -> None:
    drop(faces / "people/joe_biden/biden2.jpg", folder)
    assert import_inbox(Settings(), FROZEN_NOW).refused == 1
    note = (folder / "refused/biden2.jpg.txt").read_text()
    assert note.startswith("Not checked in (not_you): This selfie does not look like your earlier check-ins")
    assert f'freshness checkin 1 "{folder / "refused/biden2.jpg"}" --confirm-identity' in note
    assert len(checkins(folder)) == 1


def test_it_waits_for_a_file_still_being_written(folder: Path, faces: Path, clock) -> None:
    path = drop(faces / OBAMA / "obama3.jpg", folder, age=5)  # written 5 s ago; settles after 30 s
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.checked_in, report.waiting) == (0, 1)
    assert listing(folder) == ["obama3.jpg"]
    report = import_inbox(Settings(), FROZEN_NOW + timedelta(seconds=25))
    assert (report.checked_in, report.waiting) == (1, 0)
    assert not path.exists() and (folder / "done/obama3.jpg.txt").exists()


def test_it_puts_back_a_file_that_grows_while_it_is_claimed(folder: Path, faces: Path, monkeypatch) -> None:
    path = drop(faces / OBAMA / "obama3.jpg", folder)
    real_claim = inbox_mod.claim

    def claim_while_a_writer_appends(p: Path, now):
        claimed = real_claim(p, now)
        with open(claimed, "ab") as fh:  # the writer still has the file open: it keeps writing
            fh.write(b"\0" * 100)
        return claimed

    monkeypatch.setattr(inbox_mod, "claim", claim_while_a_writer_appends)
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.checked_in, report.refused, report.waiting) == (0, 0, 1)
    assert listing(folder) == ["obama3.jpg"] and path.stat().st_size == (faces / OBAMA / "obama3.jpg").stat().st_size + 100
    assert len(checkins(folder)) == 1


def test_it_ignores_hidden_files_notes_partial_downloads_and_subfolders(folder: Path, faces: Path) -> None:
    photo = faces / OBAMA / "obama3.jpg"
    for name in (".hidden.jpg", "notes.txt", "IMG_2.jpg.part", "IMG_3.jpg.crdownload"):
        drop(photo, folder, name)
    (folder / "album").mkdir()
    drop(photo, folder / "album", "inside.jpg")
    before = listing(folder)
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.checked_in, report.refused, report.waiting) == (0, 0, 0)
    assert listing(folder) == before


def test_it_ignores_folders_of_nobody_and_leaves_their_files(ready: Path, faces: Path, obama: dict) -> None:
    stranger = ready / "inbox" / "99"
    stranger.mkdir(parents=True)
    drop(faces / OBAMA / "obama3.jpg", stranger)
    (ready / "inbox" / "not-a-person").mkdir()
    report = import_inbox(Settings(), FROZEN_NOW)
    assert report.errors == ["inbox/99: there is no person #99"] and report.checked_in == 0
    assert listing(stranger) == ["obama3.jpg"]


def test_it_recovers_a_file_left_in_processing_by_a_crash_but_not_one_being_processed(
        folder: Path, faces: Path) -> None:
    processing = folder / "processing"
    processing.mkdir()
    stale = "20261128T143000-0a1b2c3d~obama3.jpg"  # claimed an hour before now: its importer died
    live = "20261128T152955-0a1b2c3d~obama1.jpg"  # claimed 5 s ago: another importer is on it
    shutil.copyfile(faces / OBAMA / "obama3.jpg", processing / stale)
    shutil.copyfile(faces / OBAMA / "obama1.jpg", processing / live)
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.recovered, report.checked_in) == (1, 1)
    assert listing(folder) == ["done/obama3.jpg", "done/obama3.jpg.txt", f"processing/{live}"]


def test_it_moves_a_recovered_file_that_was_already_checked_in_to_done(folder: Path, faces: Path) -> None:
    # the importer died after storing the check-in and before moving the file
    run("checkin", "1", faces / OBAMA / "obama3.jpg")
    (folder / "processing").mkdir()
    shutil.copyfile(faces / OBAMA / "obama3.jpg", folder / "processing/20261128T143000-0a1b2c3d~obama3.jpg")
    report = import_inbox(Settings(), FROZEN_NOW)
    assert (report.recovered, report.checked_in, report.refused) == (1, 1, 0)
    assert (folder / "done/obama3.jpg.txt").read_text().startswith(
        "Checked in as check-in #2 (the import was interrupted before the file was moved).")
    assert len(checkins(folder)) == 2


def test_a_claimed_file_cannot_be_claimed_again(folder: Path, faces: Path) -> None:
    path = drop(faces / OBAMA / "obama3.jpg", folder)
    first = inbox_mod.claim(path, FROZEN_NOW)
    assert first is not None and first.parent.name == "processing" and first.name.endswith("~obama3.jpg")
    assert inbox_mod.claim(path, FROZEN_NOW) is None


def test_it_keeps_both_files_when_a_name_comes_again(folder: Path, faces: Path) -> None:
    drop(faces / OBAMA / "obama3.jpg", folder, "selfie.jpg")
    import_inbox(Settings(), FROZEN_NOW)
    drop(faces / OBAMA / "obama1.jpg", folder, "selfie.jpg")
    assert import_inbox(Settings(), FROZEN_NOW).checked_in == 1
    assert listing(folder) == ["done/selfie (2).jpg", "done/selfie (2).jpg.txt", "done/selfie.jpg",
                               "done/selfie.jpg.txt"]
    assert (folder / "done/selfie (2).jpg").read_bytes() == (faces / OBAMA / "obama1.jpg").read_bytes()


def test_the_run_command_prints_the_inbox_summary(folder: Path, faces: Path) -> None:
    drop(faces / OBAMA / "obama3.jpg", folder)
    drop(faces / "edge/flower.jpg", folder)
    out = run("run", "inbox").stdout
    assert out.startswith("inbox: 1 checked in, 1 refused, 0 still being written (1 inbox folder)")


def test_two_concurrent_imports_take_each_file_once(folder: Path, faces: Path, tmp_path: Path) -> None:
    sources = [faces / OBAMA / n for n in ("obama3.jpg", "obama1.jpg", "obama.jpg")]
    sources += [variant(faces / OBAMA / "obama-720p.jpg", tmp_path / f"v{k}.jpg", k) for k in range(3)]
    sources.append(faces / "edge/flower.jpg")
    for src in sources:
        path = folder / src.name
        shutil.copyfile(src, path)
        st = path.stat()  # these processes read the real clock: settled = written an hour earlier
        os.utime(path, (st.st_mtime - 3600, st.st_mtime - 3600))
    dispose_engines()
    env = {**os.environ, "FRESHNESS_HOME": str(folder.parents[1])}
    procs = [subprocess.Popen([sys.executable, "-m", "freshness", "run", "inbox"], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    counts = [re.match(r"inbox: (\d+) checked in, (\d+) refused", out).groups() for out, _ in outs]
    assert sum(int(c[0]) for c in counts) == 6 and sum(int(c[1]) for c in counts) == 1, outs
    done = [p for p in listing(folder) if p.startswith("done/") and not p.endswith(".txt")]
    assert sorted(done) == sorted(f"done/{s.name}" for s in sources[:-1])
    assert [p for p in listing(folder) if not p.startswith("done/")] == ["refused/flower.jpg", "refused/flower.jpg.txt"]
    assert len(checkins(folder)) == 1 + 6


def test_it_refuses_a_file_above_the_upload_limit_without_reading_it(folder: Path, faces: Path) -> None:
    drop(faces / OBAMA / "obama3.jpg", folder)
    report = import_inbox(Settings(max_upload_bytes=10_000), FROZEN_NOW)
    assert (report.checked_in, report.refused) == (0, 1)
    assert (folder / "refused/obama3.jpg.txt").read_text().startswith("Not checked in (too_large): file too large: ")
