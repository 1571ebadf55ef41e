"""Check-ins in bulk: folders, analysis in worker processes (freshness.parallel), progress.

The answers must not depend on the number of workers: the same photos checked in with
--workers 1 and --workers 2 give the same ids, order, outcomes and distances. Worker processes
only analyse (no clock, no database); the frozen clock stays in this process.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from freshness import parallel
from freshness.config import Settings, reset_settings_cache
from freshness.db import dispose_engines
from freshness.inbox import import_inbox
from tests.clitools import run, run_json
from tests.conftest import FROZEN_NOW

pytestmark = pytest.mark.faces

OBAMA = "people/barack_obama"


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every SelfiePool made, with its worker count and the number of images it analysed."""
    made: list[dict] = []
    real_init, real_submit = parallel.SelfiePool.__init__, parallel.SelfiePool.submit

    def init(self, workers, *args, **kwargs):
        made.append({"workers": workers, "submitted": 0})
        self._record = made[-1]
        real_init(self, workers, *args, **kwargs)

    def submit(self, data):
        self._record["submitted"] += 1
        return real_submit(self, data)

    monkeypatch.setattr(parallel.SelfiePool, "__init__", init)
    monkeypatch.setattr(parallel.SelfiePool, "submit", submit)
    return made


def _use_home(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FRESHNESS_HOME", str(path))
    reset_settings_cache()
    dispose_engines()
    return path


def _prepared(path: Path, faces: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home with Barack Obama, a headshot and one accepted selfie."""
    _use_home(path, monkeypatch)
    run("init")
    run("person", "add", "Barack Obama", "--consent")
    run("headshot", "add", "1", faces / OBAMA / "obama-720p.jpg", "--platform", "linkedin", "--published", "2024-01-01")
    run("checkin", "1", faces / OBAMA / "obama2.jpg", "--taken", "2024-05-01")
    return path


@pytest.fixture
def selfies(tmp_path: Path, faces: Path) -> Path:
    """A folder: three photos of Obama, someone else, a text file, the same photo again under
    another name, a hidden file and a subfolder (both skipped)."""
    folder = tmp_path / "selfies"
    folder.mkdir()
    for name, rel in [("a.jpg", f"{OBAMA}/obama-480p.jpg"), ("b.jpg", f"{OBAMA}/obama.jpg"),
                      ("c.jpg", "people/eric_clapton/clapton-2.jpg"), ("d.jpg", f"{OBAMA}/obama1.jpg"),
                      ("e-again.jpg", f"{OBAMA}/obama-480p.jpg"), (".hidden.jpg", f"{OBAMA}/obama3.jpg")]:
        shutil.copyfile(faces / rel, folder / name)
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "sub").mkdir()
    shutil.copyfile(faces / OBAMA / "obama3.jpg", folder / "sub" / "x.jpg")
    return folder


def test_workers_give_the_answers_one_process_gives(home: Path, faces: Path, selfies: Path, pools: list[dict],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    extra = faces / OBAMA / "obama3.jpg"
    answers = {}
    for workers in (1, 2):
        _prepared(home / f"w{workers}", faces, monkeypatch)
        answers[workers] = run_json("checkin", "1", selfies, extra, "--taken", "2025-01-01",
                                    "--workers", workers, code=3)
        dispose_engines()
    assert pools == [{"workers": 2, "submitted": 7}]  # 1 worker: no pool; 2: one pool, every file analysed in it
    serial, par = answers[1], answers[2]
    assert par == serial
    outcome = [(Path(r["file"]).name, r["accepted"], r.get("checkin_id"), (r.get("error") or {}).get("code"))
               for r in serial["results"]]
    assert outcome == [
        ("a.jpg", True, 2, None),
        ("b.jpg", True, 3, None),
        ("c.jpg", False, None, "not_you"),
        ("d.jpg", True, 4, None),
        ("e-again.jpg", False, None, "duplicate"),
        ("notes.txt", False, None, "unsupported_format"),
        ("obama3.jpg", True, 5, None),
    ]
    assert "text, not an image" in serial["results"][5]["error"]["message"]
    distances = [d["distance"] for r in serial["results"] if r["accepted"] for d in r["distances"]]
    assert len(distances) == 4 and all(0 < d < 0.6 for d in distances)


def test_workers_must_be_at_least_one(ready: Path, faces: Path) -> None:
    run("person", "add", "Barack Obama", "--consent")
    for value in ("0", "-1"):
        result = run("checkin", "1", faces / OBAMA / "obama-480p.jpg", "--workers", value, code=2)
        assert f"error: --workers must be at least 1 (1 analyses the selfies in this process), not {value}" \
            in result.stderr


def test_an_empty_folder_is_a_usage_error(ready: Path, tmp_path: Path) -> None:
    run("person", "add", "Barack Obama", "--consent")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"\0")
    assert "has no files to check in" in run("checkin", "1", tmp_path / "empty", code=2).stderr


def test_progress_is_plain_lines_off_a_terminal_and_absent_in_json(ready: Path, faces: Path,
                                                                   pools: list[dict]) -> None:
    run("person", "add", "Barack Obama", "--consent")
    photos = [faces / OBAMA / n for n in ("obama-480p.jpg", "obama.jpg", "obama1.jpg")]
    result = run("checkin", "1", *photos, "--taken", "2025-01-01", "--workers", "2")
    assert result.stderr == "1/3 done\n2/3 done\n3/3 done\n"
    assert result.stdout.count("accepted as check-in #") == 3
    result = run("checkin", "1", faces / OBAMA / "obama3.jpg", faces / OBAMA / "obama2.jpg", "--json",
                 "--workers", "1")
    assert result.stderr == "" and '"accepted": 2' in result.stdout
    assert run("checkin", "1", faces / OBAMA / "obama-720p.jpg").stderr == ""  # one selfie: no progress
    assert [p["workers"] for p in pools] == [2]


def _inbox(home: Path, faces: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _prepared(home, faces, monkeypatch)
    folder = home / "inbox" / "1"
    folder.mkdir(parents=True)
    for name, rel, age in [("1.jpg", f"{OBAMA}/obama3.jpg", 300), ("2.jpg", "edge/flower.jpg", 250),
                           ("3.jpg", f"{OBAMA}/obama1.jpg", 200), ("4.jpg", f"{OBAMA}/obama-480p.jpg", 150),
                           ("5.jpg", f"{OBAMA}/obama3.jpg", 100), ("6.jpg", f"{OBAMA}/obama.jpg", 5)]:
        shutil.copyfile(faces / rel, folder / name)
        when = (FROZEN_NOW - timedelta(seconds=age)).timestamp()
        os.utime(folder / name, (when, when))
    return folder


def _outcome(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() if p.suffix == ".txt" else p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_inbox_analyses_waiting_photos_in_workers_with_the_same_outcome(
        home: Path, faces: Path, pools: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes, reports = {}, {}
    for workers in (1, 2):
        folder = _inbox(home / f"w{workers}", faces, monkeypatch)
        reports[workers] = import_inbox(Settings(), FROZEN_NOW, workers=workers)
        outcomes[workers] = _outcome(folder)
        dispose_engines()
    # 6.jpg was written 5 s ago: still being written, left alone; 5.jpg is 1.jpg again
    assert (reports[2].checked_in, reports[2].refused, reports[2].waiting, reports[2].errors) == (3, 2, 1, [])
    assert pools == [{"workers": 2, "submitted": 5}]  # every settled file once, none twice
    assert outcomes[2] == outcomes[1]
    assert sorted(outcomes[2]) == ["6.jpg", "done/1.jpg", "done/1.jpg.txt", "done/3.jpg", "done/3.jpg.txt",
                                   "done/4.jpg", "done/4.jpg.txt", "refused/2.jpg", "refused/2.jpg.txt",
                                   "refused/5.jpg", "refused/5.jpg.txt"]
    assert "Checked in as check-in #4," in outcomes[2]["done/4.jpg.txt"]
    assert "Not checked in (duplicate)" in outcomes[2]["refused/5.jpg.txt"]
    assert "Not checked in (no_face)" in outcomes[2]["refused/2.jpg.txt"]


def test_the_inbox_uses_one_process_when_one_photo_waits(home: Path, faces: Path, pools: list[dict],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _inbox(home, faces, monkeypatch)
    for name in ("2.jpg", "3.jpg", "4.jpg", "5.jpg"):
        (folder / name).unlink()
    report = import_inbox(Settings(), FROZEN_NOW, workers=2)
    assert (report.checked_in, report.waiting) == (1, 1) and pools == []


def test_a_real_command_forks_its_workers_and_answers_like_one_process(
        home: Path, faces: Path, selfies: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command as people run it: a fresh process that has not loaded dlib forks its workers."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    answers = {}
    for workers in (1, 2):
        path = _prepared(home / f"w{workers}", faces, monkeypatch)
        dispose_engines()
        proc = subprocess.run([sys.executable, "-m", "freshness", "checkin", "1", str(selfies), "--taken",
                               "2025-01-01", "--workers", str(workers), "--json"],
                              env={**os.environ, "FRESHNESS_HOME": str(path)}, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert (proc.returncode, proc.stderr) == (3, ""), proc.stderr
        answers[workers] = json.loads(proc.stdout)
    assert answers[2] == answers[1]
    assert [r["accepted"] for r in answers[2]["results"]] == [True, True, False, True, False, False]


def test_the_stored_face_detector_is_the_one_dlib_builds() -> None:
    """freshness/faces/frontal_face_detector.svm is read in 1 ms instead of building dlib's frontal
    face detector (0.26 s) in every process: it must be that detector, weight for weight."""
    import pickle
    import warnings

    from freshness.faces.analyze import DETECTOR_FILE, _frontal_face_detector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dlib
    stored = _frontal_face_detector(dlib)
    assert DETECTOR_FILE.is_file() and pickle.dumps(stored) == pickle.dumps(dlib.get_frontal_face_detector())
