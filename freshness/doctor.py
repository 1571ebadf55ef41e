"""``freshness doctor``: check the data directory and the database against each other, and with
``--fix`` repair what can be repaired.

Checks (each a ``Finding``; ``problem`` ones make the command exit 1 while they remain):

* the database is there (not deleted, emptied or replaced while stored photos exist) and at
  this version's schema;
* SQLite: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``;
* rows that name a file the store does not have. Repaired when possible: a headshot's thumbnail
  is made again from its original, a check-in's from its kept original; a check-in that says
  its original was kept when the file is gone says so no more. A thumbnail whose original is
  gone cannot be made again: restore the data directory from a backup;
* stored files no row names (left by a process killed between writing a file and committing
  its row), temporary files of interrupted writes, and files whose content does not match their
  name (unless ``quick``): removed by ``--fix`` under the store's lock (freshness.blobs), so
  never a file a check-in being committed relies on;
* permissions: the data directory and every folder in it 0700, the database files, the secret
  key and the stored photos 0600 (nothing readable by other users): ``--fix`` sets them.

Nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from freshness.blobs import BlobStore, references_from
from freshness.config import Settings


@dataclass
class Finding:
    check: str
    ok: bool
    message: str
    fixable: bool = False
    fixed: bool = False
    items: list[str] = field(default_factory=list)

    @property
    def problem(self) -> bool:
        return not self.ok and not self.fixed


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    fix: bool = False

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    def as_dict(self) -> dict[str, Any]:
        return {"healthy": not self.problems, "fix": self.fix,
                "findings": [{**asdict(f), "problem": f.problem} for f in self.findings]}


def _shown(items: list[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def run(settings: Settings, *, fix: bool = False, quick: bool = False) -> Report:
    """Check (and with ``fix`` repair) ``settings``' data directory and database."""
    from freshness.db import database_problem, get_engine, shown_url, sqlite_file

    report = Report(fix=fix)
    store = BlobStore(settings.blob_dir)
    problem = database_problem(settings)
    if problem is not None:
        kind, message = problem
        report.add(Finding("database", False, message if kind != "missing" else
                           f"no database at {shown_url(settings.db_url)}: run `freshness init`"))
        _check_files_only(report, settings, store, fix=fix, quick=quick)
        return report
    engine = get_engine(settings)
    if not _check_schema(report, settings):
        _check_files_only(report, settings, store, fix=fix, quick=quick)
        return report
    intact = _check_sqlite(report, engine) if sqlite_file(settings.db_url) is not None else True
    _check_permissions(report, settings, fix=fix)
    _check_temporary(report, store, fix=fix)
    if not intact:  # rows that cannot be trusted decide nothing about files (nothing is removed)
        report.add(Finding("stored files", False, "not compared with a damaged database: restore the database "
                                                  "from a backup, then run `freshness doctor` again"))
        return report
    _check_content(report, store, engine, fix=fix, quick=quick)
    _check_missing(report, settings, store, engine, fix=fix)
    _check_unreferenced(report, store, engine, fix=fix)
    return report


def _check_files_only(report: Report, settings: Settings, store: BlobStore, *, fix: bool, quick: bool) -> None:
    """Without a usable database only what needs no rows: permissions and temporary files."""
    _check_permissions(report, settings, fix=fix)
    _check_temporary(report, store, fix=fix)
    files = sum(1 for _ in store.files())
    if files:
        report.add(Finding("stored files", True, f"{files} stored file(s) (not compared with a database: "
                                                 "there is none to compare with)"))


def _check_schema(report: Report, settings: Settings) -> bool:
    from freshness.db import shown_url
    from freshness.failures import explain
    from freshness.migrate import current_revision, head_revision

    try:
        revision = current_revision(settings)
    except Exception as exc:
        failure = explain(exc)
        report.add(Finding("database", False, f"cannot read the database {shown_url(settings.db_url)}: "
                                              f"{failure.message if failure else exc}"))
        return False
    if revision is None:
        report.add(Finding("database", False, f"the database {shown_url(settings.db_url)} has no freshness tables"
                                              + (" although stored photos exist: it was replaced?"
                                                 if next(iter(BlobStore(settings.blob_dir).files()), None) else
                                                 ": run `freshness init`")))
        return False
    if revision != head_revision(settings):
        report.add(Finding("database", False, f"the database is at revision {revision}, this version needs "
                                              f"{head_revision(settings)}: run `freshness init`"))
        return False
    report.add(Finding("database", True, f"the database {shown_url(settings.db_url)} is at revision {revision}"))
    return True


def _check_sqlite(report: Report, engine) -> bool:
    from freshness.failures import explain

    try:
        with engine.connect() as connection:
            rows = [r[0] for r in connection.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    except Exception as exc:  # too damaged to be checked at all
        failure = explain(exc)
        report.add(Finding("integrity", False, f"the database cannot be checked: "
                                               f"{failure.message if failure else exc}"))
        return False
    if rows == ["ok"]:
        report.add(Finding("integrity", True, "PRAGMA integrity_check: ok"))
    else:
        report.add(Finding("integrity", False, f"PRAGMA integrity_check found {len(rows)} problem(s): "
                                               f"{_shown(rows, 3)}; restore the database from a backup",
                           items=rows))
    if broken:
        items = [f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken]
        report.add(Finding("foreign keys", False, f"{len(broken)} row(s) refer to rows that do not exist: "
                                                  f"{_shown(items)}", items=items))
    else:
        report.add(Finding("foreign keys", True, "every reference between rows is intact"))
    return rows == ["ok"]


def _private_paths(settings: Settings) -> list[tuple[Path, int]]:
    """(path, the mode it should have) of everything that must be readable by its owner only."""
    home = settings.home
    wanted: list[tuple[Path, int]] = []
    if home.is_dir():
        wanted.append((home, 0o700))
    for name in ("freshness.db", "freshness.db-wal", "freshness.db-shm", "freshness.db-journal", "secret_key",
                 settings.blob_dir.name + ".lock"):
        path = home / name
        if path.is_file():
            wanted.append((path, 0o600))
    for root in (settings.blob_dir, home / "web-candidates"):
        if not root.is_dir():
            continue
        wanted.append((root, 0o700))
        for dirpath, dirnames, filenames in os.walk(root):
            wanted += [(Path(dirpath) / d, 0o700) for d in dirnames]
            wanted += [(Path(dirpath) / f, 0o600) for f in filenames]
    return wanted


def _check_permissions(report: Report, settings: Settings, *, fix: bool) -> None:
    loose = []
    for path, mode in _private_paths(settings):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue
        if st.st_mode & 0o077:
            loose.append((path, mode, stat.S_IMODE(st.st_mode)))
    if not loose:
        report.add(Finding("permissions", True, "the data directory and its files are private to their owner"))
        return
    items = [f"{p} ({m:o})" for p, _, m in loose]
    finding = report.add(Finding("permissions", False, f"{len(loose)} path(s) can be read by other users: "
                                                       f"{_shown(items)}", fixable=True, items=items))
    if fix:
        for path, mode, _ in loose:
            try:
                os.chmod(path, mode)
            except FileNotFoundError:
                continue
        finding.fixed = True
        finding.message += " (fixed: folders 0700, files 0600)"


def _check_temporary(report: Report, store: BlobStore, *, fix: bool) -> None:
    found = [str(p) for p in store.temporary_files()]
    if not found:
        report.add(Finding("temporary files", True, "no temporary files left by interrupted writes"))
        return
    finding = report.add(Finding("temporary files", False, f"{len(found)} file(s) left by interrupted writes",
                                 fixable=True, items=found))
    if fix:
        removed = store.remove_temporary()
        finding.fixed = True
        finding.message += f" (removed {removed})"


def _check_content(report: Report, store: BlobStore, engine, *, fix: bool, quick: bool) -> None:
    if quick:
        return
    corrupt = []
    for path in store.files():
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            corrupt.append(path.name)
            continue
        if digest.hexdigest() != path.name:
            corrupt.append(path.name)
    if not corrupt:
        report.add(Finding("file contents", True, "every stored file matches its name (sha256)"))
        return
    used = references_from(engine)(set(corrupt))
    finding = report.add(Finding(
        "file contents", False,
        f"{len(corrupt)} stored file(s) do not match their sha256 name (damaged): {_shown(corrupt)}"
        + (f"; {len(used)} of them are needed by rows: restore them from a backup" if used
           else "; no row refers to them"),
        fixable=not used, items=corrupt))
    if fix and not used:  # removed with the unreferenced files below
        finding.fixed = True


def _check_missing(report: Report, settings: Settings, store: BlobStore, engine, *, fix: bool) -> None:
    from sqlmodel import Session, select

    from freshness.models import Checkin, Headshot

    missing: list[str] = []
    repairs: list[tuple[str, Any, str]] = []
    with Session(engine) as session:
        for h in session.exec(select(Headshot)).all():
            if not store.exists(h.image_digest):
                missing.append(f"headshot #{h.id} original")
            if not store.exists(h.thumb_digest):
                missing.append(f"headshot #{h.id} thumbnail")
                if store.exists(h.image_digest):
                    repairs.append(("headshot", h.id, h.image_digest))
        for c in session.exec(select(Checkin)).all():
            if c.original_kept and not store.exists(c.image_digest):
                missing.append(f"check-in #{c.id} original")
                repairs.append(("forget-original", c.id, c.image_digest))
            if not store.exists(c.thumb_digest):
                missing.append(f"check-in #{c.id} thumbnail")
                if c.original_kept and store.exists(c.image_digest):
                    repairs.append(("checkin", c.id, c.image_digest))
    if not missing:
        report.add(Finding("missing files", True, "every file the rows name is stored"))
        return
    unrepairable = len(missing) - len(repairs)
    finding = report.add(Finding(
        "missing files", False,
        f"{len(missing)} file(s) named by rows are not stored: {_shown(missing)}"
        + (f"; {unrepairable} cannot be made again (restore the data directory from a backup)" if unrepairable
           else ""),
        fixable=bool(repairs), items=missing))
    if fix and repairs:
        done = _repair(settings, store, engine, repairs)
        finding.fixed = done == len(missing)
        finding.message += f" (repaired {done})"


def _repair(settings: Settings, store: BlobStore, engine, repairs: list[tuple[str, Any, str]]) -> int:
    """Make thumbnails again from originals; un-claim kept originals that are gone."""
    from sqlmodel import Session

    from freshness.blobs import BlobBatch
    from freshness.context import Context
    from freshness.errors import ImageRejected
    from freshness.models import Checkin, Headshot

    ctx = Context(settings)
    done = 0
    with Session(engine) as session:
        for kind, row_id, original in repairs:
            model = Headshot if kind == "headshot" else Checkin
            row = session.get(model, row_id)
            if row is None:
                continue
            if kind == "forget-original":
                row.original_kept = False  # the file is gone: the row stops saying it is kept
                session.add(row)
                session.commit()
                done += 1
                continue
            from freshness.faces import analyze_image, decode_image

            try:
                analysis = analyze_image(decode_image(store.get(original), ctx.decode_limits),
                                         "headshot" if kind == "headshot" else "selfie", ctx.quality_limits)
            except (ImageRejected, OSError):
                continue
            batch = BlobBatch(store)
            with batch.held():
                row.thumb_digest = batch.put(analysis.thumbnail_jpeg)
                session.add(row)
                session.commit()
            done += 1
    return done


def _check_unreferenced(report: Report, store: BlobStore, engine, *, fix: bool) -> None:
    referenced = references_from(engine)
    stored = {p.name: p for p in store.files()}
    orphans = sorted(set(stored) - referenced(set(stored)))
    if not orphans:
        report.add(Finding("unreferenced files", True, f"every stored file ({len(stored)}) is named by a row"))
        return
    size = 0
    for digest in orphans:
        try:
            size += stored[digest].stat().st_size
        except FileNotFoundError:
            continue
    finding = report.add(Finding("unreferenced files", False,
                                 f"{len(orphans)} stored file(s) ({size / 1024:.0f} KB) are named by no row "
                                 f"(left by an interrupted write or a lost database)", fixable=True, items=orphans))
    if fix:
        # re-checked under the lock: one a check-in committed meanwhile is kept (and no orphan any more)
        removed = store.discard(orphans, referenced)
        finding.fixed = True
        finding.message += f" (removed {len(removed)})"
