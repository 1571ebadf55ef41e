"""SIGKILL during check-ins: real ``python -m freshness checkin`` processes killed at seeded moments.

Used by tests/test_kills.py and benchmarks/kills.py. Each try checks in a new selfie (a re-encoded
crop of one real photo, so none is a duplicate; every other try with
FRESHNESS_KEEP_SELFIE_ORIGINALS=true, so the original is written too) and kills it with SIGKILL:

* ``delay`` tries: after a delay drawn (by seed) as a fraction of a check-in's duration (the median
  of two timed ones and of the tries that finished before their kill, as the load changes): half
  anywhere from 5 % to 105 % of it (the imports, the face analysis, the commit), half from 80 %
  on (the writes and the commit); a few finish first;
* ``write`` tries: at an exact point, between writing the files and committing their row. The
  test holds the SQLite write lock (``BEGIN IMMEDIATE``), waits until the check-in has written a
  new file and is asleep in SQLite's busy handler waiting for the lock, and kills it there: a
  file without its row, every time.

After each try the database must be consistent ("survived"): ``PRAGMA integrity_check`` is ok and
no row refers to a missing file. What the kills leave (files no row refers to, ``.tmp`` files) is
left for ``freshness doctor`` and the maintenance job (tests/test_kills.py, benchmarks/kills.py).

Everything here is read with plain sqlite3 and the file system: independent of the code under test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from PIL import Image

PHOTO = "people/barack_obama/obama2.jpg"
HEADSHOT = "people/barack_obama/obama.jpg"
PERSON = "Obama"
DAY = 86_400


def cli(home: Path, *args: object, env: dict[str, str] | None = None, check: int | None = 0,
        timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "freshness", *map(str, args)], env=environment(home, env),
                            capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout, result.stderr)
    return result


def environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHNESS_")}
    env["FRESHNESS_HOME"] = str(home)
    env.update(extra or {})
    return env


# ---------------------------------------------------------------- what is stored, read independently


def referenced(home: Path) -> set[str]:
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


def temporary(home: Path) -> set[str]:
    return {str(p) for p in (home / "blobs").rglob("*") if p.is_file() and p.name.startswith(".")}


def integrity(home: Path) -> str:
    db = sqlite3.connect(home / "freshness.db")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def consistent(home: Path) -> bool:
    return integrity(home) == "ok" and not referenced(home) - stored(home)


def checkins(home: Path) -> int:
    db = sqlite3.connect(home / "freshness.db")
    try:
        return db.execute("SELECT count(*) FROM checkin").fetchone()[0]
    finally:
        db.close()


# ---------------------------------------------------------------- the tries


def selfie(faces: Path, out: Path, k: int) -> Path:
    """Different bytes, same face: crop ``k + 1`` pixels off every side (k up to about 150), re-encode."""
    img = Image.open(faces / PHOTO).convert("RGB")
    w, h = img.size
    m = 1 + k
    img.crop((m, m, w - m, h - m)).save(out, "JPEG", quality=92 - (k % 20))
    return out


def asleep(pid: int) -> bool:
    """The process is blocked in a sleep (SQLite's busy handler waiting for the lock)."""
    try:
        syscall = Path(f"/proc/{pid}/syscall").read_text().split()[0]
    except (OSError, IndexError):
        syscall = ""
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        wchan = ""
    return syscall in ("35", "230") or "nanosleep" in wchan  # x86_64 nanosleep / clock_nanosleep


@dataclass
class Try:
    n: int
    mode: str  # "delay" or "write"
    keep: bool
    delay: float | None = None
    killed: bool = False  # False: it finished before the kill
    returncode: int | None = None
    committed: bool = False
    new_files: int = 0
    survived: bool = False


@dataclass
class Outcome:
    duration: float
    tries: list[Try] = field(default_factory=list)

    @property
    def run(self) -> int:
        return len(self.tries)

    @property
    def killed(self) -> int:
        return sum(t.killed for t in self.tries)

    @property
    def survived(self) -> int:
        return sum(t.survived for t in self.tries)


def setup(home: Path, faces: Path) -> None:
    cli(home, "init")
    cli(home, "person", "add", PERSON, "--consent")
    cli(home, "headshot", "add", PERSON, faces / HEADSHOT, "--platform", "linkedin", "--published", "2025-01-01")


def plan(tries: int, seed: int) -> list[Try]:
    """The schedule, a function of the seed only: every third try at the write, the others after a
    delay drawn as a fraction of the measured duration; originals kept in every other try."""
    rng = random.Random(seed)
    out = []
    for n in range(tries):
        mode = "write" if n % 3 == 2 else "delay"
        # half the delays anywhere in the run, half in its last part (the writes and the commit)
        spread = rng.uniform(0.05, 1.05) if n % 2 == 0 else rng.uniform(0.8, 1.05)
        out.append(Try(n=n, mode=mode, keep=n % 2 == 1, delay=spread if mode == "delay" else None))
    return out


def kill_tries(home: Path, faces: Path, work: Path, *, tries: int = 30, seed: int = 8,
               log=lambda line: None) -> Outcome:
    """Set up ``home`` (a person with a headshot), time one check-in, then run the tries."""
    setup(home, faces)
    first = date(2025, 2, 1)
    durations = []  # of whole check-ins: two timed first, then each try that finished before its kill
    for k in (0, 1):
        started = time.perf_counter()
        cli(home, "checkin", PERSON, selfie(faces, work / f"timed-{k}.jpg", k), "--taken",
            (first - timedelta(days=2 - k)).isoformat())
        durations.append(time.perf_counter() - started)
    outcome = Outcome(duration=statistics.median(durations))
    log(f"one check-in takes {outcome.duration:.2f} s")
    for t in plan(tries, seed):
        photo = selfie(faces, work / f"selfie-{t.n + 1}.jpg", t.n + 2)
        taken = (first + timedelta(days=t.n + 1)).isoformat()
        env = environment(home, {"FRESHNESS_KEEP_SELFIE_ORIGINALS": "true" if t.keep else "false"})
        before_files, before_rows = stored(home), checkins(home)
        args = [sys.executable, "-m", "freshness", "checkin", PERSON, str(photo), "--taken", taken]
        if t.mode == "delay":
            # the seeded fraction of what a check-in takes now (a shared machine's load changes)
            t.delay = round(t.delay * statistics.median(durations), 3)  # type: ignore[operator]
            started = time.perf_counter()
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=t.delay)
                durations.append(time.perf_counter() - started)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                t.killed = True
            t.returncode = proc.wait()
        else:
            lock = sqlite3.connect(home / "freshness.db", isolation_level=None, timeout=30)
            lock.execute("BEGIN IMMEDIATE")  # the check-in writes its files, then waits here for the lock
            try:
                proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                deadline = time.monotonic() + 60
                while proc.poll() is None and time.monotonic() < deadline:
                    if stored(home) - before_files and asleep(proc.pid):
                        break
                    time.sleep(0.002)
                assert proc.poll() is None, f"the check-in ended while the lock was held: {proc.stderr.read()!r}"
                assert stored(home) - before_files, "no file written within 60 s"
                proc.send_signal(signal.SIGKILL)
                t.killed = True
                t.returncode = proc.wait()
                proc.stderr.close()  # type: ignore[union-attr]
            finally:
                lock.execute("ROLLBACK")
                lock.close()
        t.committed = checkins(home) > before_rows
        t.new_files = len(stored(home) - before_files)
        t.survived = consistent(home)
        outcome.tries.append(t)
        log(f"try {t.n + 1:2d} {t.mode:5s} {'keep ' if t.keep else '     '}"
            f"{'' if t.delay is None else f'{t.delay:5.2f}s'} "
            f"{'killed' if t.killed else 'finished'} rc={t.returncode} committed={t.committed} "
            f"new files={t.new_files} {'consistent' if t.survived else 'INCONSISTENT'}")
    return outcome


# ---------------------------------------------------------------- collecting what they left


def age(paths, days: float = 2) -> None:
    """Move files' modification times ``days`` back (from their own times, not the clock)."""
    for path in paths:
        st = os.lstat(path)
        os.utime(path, (st.st_atime - days * DAY, st.st_mtime - days * DAY), follow_symlinks=False)


def doctor(home: Path, *args: str) -> dict:
    result = cli(home, "doctor", "--json", *args, check=None)
    assert result.returncode in (0, 1), (result.returncode, result.stderr)
    return json.loads(result.stdout)


def findings(report: dict) -> dict[str, dict]:
    return {f["check"]: f for f in report["findings"]}


def blob_path(home: Path, digest: str) -> Path:
    return home / "blobs" / digest[:2] / digest[2:4] / digest
