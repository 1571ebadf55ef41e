"""Inbox import: photos dropped into a person's folder are checked in (README, "The inbox folder").

``<FRESHNESS_HOME>/inbox/<person id>/`` is optional: whoever wants it creates it (by hand, or
as the target of a phone's photo sync). Each image file found there is checked in like
``freshness checkin`` (the time taken from the photo's EXIF date, else the time imported;
the identity guard applies), then moved to ``done/`` or ``refused/`` with ``<file>.txt``
beside it saying what happened.

Exactly once, with any number of importers (two schedulers, a cron `freshness run inbox`):

* a file is *claimed* by renaming it into ``processing/`` under a name that records when
  (``<claim time>-<random>~<file name>``). A rename is atomic: of two importers renaming the
  same file, one succeeds and the other finds it gone, so only one ever reads it;
* a claim older than ``CLAIM_TIMEOUT`` was left by an importer that died: it is claimed
  again (by the same atomic rename) and processed; if its check-in had already been stored,
  the duplicate check says so and it goes to ``done/``, not ``refused/``;
* a file still being written is not taken: it must not have changed for
  ``FRESHNESS_INBOX_SETTLE_SECONDS``, and its size and modification time must be the same
  when listed, when claimed and after it was read (otherwise it goes back and waits).

Hidden files, ``.txt`` notes, partial downloads (``.part``, ``.tmp``, …) and subfolders are
ignored.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from freshness.config import Settings

log = logging.getLogger("freshness.inbox")

PROCESSING, DONE, REFUSED = "processing", "done", "refused"
# Names a sync app or browser gives a file it is still writing, and our own notes.
IGNORED_SUFFIXES = (".txt", ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".!sync", ".swp", "~")
# A claim this old was left by an importer that died (one photo takes seconds).
CLAIM_TIMEOUT = timedelta(minutes=15)
# A modification time this far ahead of the clock is a copied file's (a device with a wrong
# clock), not one being written now.
FUTURE_MTIME = timedelta(days=1)
_STAMP = "%Y%m%dT%H%M%S"


@dataclass
class InboxReport:
    folders: int = 0  # person folders looked at
    checked_in: int = 0
    refused: int = 0
    waiting: int = 0  # still being written (or changed while being read): next run
    recovered: int = 0  # claims taken over from an importer that died
    skipped: int = 0  # taken by another importer meanwhile
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{self.checked_in} checked in, {self.refused} refused, {self.waiting} still being written "
                f"({self.folders} inbox folder{'s' if self.folders != 1 else ''})")
        if self.recovered:
            text += f", {self.recovered} recovered after an interrupted import"
        if self.skipped:
            text += f", {self.skipped} taken by another import"
        if self.errors:
            text += f", {len(self.errors)} error(s) ({'; '.join(self.errors[:3])})"
        return text


def person_inbox(settings: Settings, person_id: int) -> Path:
    return settings.inbox_dir / str(person_id)


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


def _claim_name(name: str, now: datetime) -> str:
    return f"{now.astimezone(timezone.utc).strftime(_STAMP)}-{secrets.token_hex(4)}~{name}"


def _parse_claim(claimed: str) -> tuple[datetime | None, str]:
    """(when it was claimed, the original file name) of a name in processing/."""
    stamp, sep, name = claimed.partition("~")
    if not sep or not name:
        return None, claimed
    try:
        when = datetime.strptime(stamp.split("-", 1)[0], _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None, name
    return when, name


def claim(path: Path, now: datetime) -> Path | None:
    """Take ``path`` for this importer by renaming it into processing/; None if another took it."""
    processing = path.parent / PROCESSING
    processing.mkdir(exist_ok=True)
    target = processing / _claim_name(path.name, now)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def _reclaim(claimed: Path, now: datetime) -> Path | None:
    """Take over a stale claim (same atomic rename); None if another importer did."""
    _, name = _parse_claim(claimed.name)
    target = claimed.parent / _claim_name(name, now)
    try:
        os.rename(claimed, target)
    except FileNotFoundError:
        return None
    return target


def _unclaim(claimed: Path, folder: Path) -> None:
    """Put a claimed file back where it was found (it is still being written)."""
    _, name = _parse_claim(claimed.name)
    os.rename(claimed, _free(folder, name))  # a new file of that name arrived meanwhile: keep both


def _free(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or "name (2).jpg", "name (3).jpg"…: the first that neither exists
    nor has a note beside it."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, dot, suffix = name, "", ""
    n = 1
    while True:
        candidate = folder / (name if n == 1 else f"{stem} ({n}){dot}{suffix}")
        if not candidate.exists() and not _note_of(candidate).exists():
            return candidate
        n += 1


def _note_of(path: Path) -> Path:
    return path.with_name(path.name + ".txt")


def _finish(claimed: Path, folder: Path, outcome: str, note: str | Callable[[Path], str]) -> Path:
    """Move a processed file to done/ or refused/ with ``<file>.txt`` beside it. The note is
    created first, exclusively (O_EXCL), which reserves the name against another importer."""
    _, name = _parse_claim(claimed.name)
    target_dir = folder / outcome
    target_dir.mkdir(exist_ok=True)
    while True:
        target = _free(target_dir, name)
        try:
            with open(_note_of(target), "x", encoding="utf-8") as fh:
                fh.write((note(target) if callable(note) else note).rstrip("\n") + "\n")
            break
        except FileExistsError:  # another importer reserved it a moment ago
            continue
    os.rename(claimed, target)
    return target


def _settled(st: os.stat_result, now: datetime, settle: float) -> bool:
    age = now.timestamp() - st.st_mtime
    if age < -FUTURE_MTIME.total_seconds():
        return True  # copied with a modification time far in the future: not being written now
    return age >= settle


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _candidates(folder: Path) -> list[tuple[Path, os.stat_result]]:
    found = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if _ignored(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            found.append((Path(entry.path), entry.stat(follow_symlinks=False)))
        except FileNotFoundError:  # taken by another importer meanwhile
            continue
    return sorted(found, key=lambda item: (item[1].st_mtime, item[0].name))


def _stale_claims(folder: Path, now: datetime, timeout: timedelta) -> list[Path]:
    processing = folder / PROCESSING
    if not processing.is_dir():
        return []
    stale = []
    for entry in sorted(os.scandir(processing), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False) or entry.name.startswith("."):
            continue
        when, _ = _parse_claim(entry.name)
        if when is None or now - when >= timeout:
            stale.append(Path(entry.path))
    return stale


def import_inbox(settings: Settings, now: datetime, *, claim_timeout: timedelta = CLAIM_TIMEOUT,
                 workers: int | None = None) -> InboxReport:
    """Check in every settled photo in every person's inbox folder (see the module docstring).

    When more than one photo is waiting, they are analysed in ``workers`` processes
    (default ``FRESHNESS_INBOX_WORKERS``, 0: one per CPU; freshness.parallel) a few photos
    ahead of the one being stored; claims, reads, checks, writes and moves stay here, one photo
    after the other in each folder's order."""
    report = InboxReport()
    root = settings.inbox_dir
    if not root.is_dir():
        return report
    folders = sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    found = []
    for folder in folders:
        try:
            found.append((folder, _stale_claims(folder, now, claim_timeout), _candidates(folder)))
        except Exception as exc:  # one folder's trouble (permissions) does not stop the others
            log.exception("inbox %s failed", folder)
            report.folders += 1
            report.errors.append(f"{folder.name}: {exc}")
    waiting = sum(len(stale) + sum(1 for _, st in todo if _settled(st, now, settings.inbox_settle_seconds))
                  for _, stale, todo in found)
    pool = _pool(settings, workers, waiting)
    try:
        for folder, stale, candidates in found:
            report.folders += 1
            try:
                _import_folder(settings, folder, now, stale, candidates, report, pool)
            except Exception as exc:  # one folder's trouble (permissions, a full disk) does not stop the others
                log.exception("inbox %s failed", folder)
                report.errors.append(f"{folder.name}: {exc}")
    finally:
        if pool is not None:
            pool.close()
    return report


def _pool(settings: Settings, workers: int | None, waiting: int):
    """A pool of analysing processes when it pays (more than one photo, more than one worker)."""
    from freshness.parallel import SelfiePool, worker_count

    requested = (settings.inbox_workers or None) if workers is None else workers
    count = worker_count(requested, waiting)
    if count < 2:
        return None
    from freshness.context import get_context

    ctx = get_context(settings)
    return SelfiePool(count, ctx.decode_limits, ctx.quality_limits)


@dataclass
class _Claimed:
    """A file this import claimed and read, waiting for its turn to be stored."""

    path: Path
    data: bytes
    recovered: bool
    analysed: Callable | None = None  # the worker's answer (None: analysed when stored)


def _import_folder(settings: Settings, folder: Path, now: datetime, stale: list[Path],
                   candidates: list[tuple[Path, os.stat_result]], report: InboxReport, pool) -> None:
    if not stale and not candidates:
        return

    from sqlmodel import Session

    from freshness.db import get_engine
    from freshness.models import Person
    from freshness.parallel import ahead

    started = time.monotonic()

    def claim_time() -> datetime:  # the run's now, moved on by the time this run has taken
        return now + timedelta(seconds=time.monotonic() - started)

    in_flight: list[_Claimed] = []

    def take(item: tuple[Path, os.stat_result | None, bool]) -> _Claimed | None:
        """Claim and read one file (None when there is nothing to store: see ``report``)."""
        path, st, recovered = item
        if recovered:
            claimed = _reclaim(path, claim_time())
            if claimed is None:
                report.skipped += 1
                return None
            report.recovered += 1
        else:
            if not _settled(st, now, settings.inbox_settle_seconds):  # type: ignore[arg-type]
                report.waiting += 1
                return None
            claimed = claim(path, claim_time())
            if claimed is None:
                report.skipped += 1
                return None
        data = _read_claimed(settings, person, folder, claimed, st, now, report)
        if data is None:
            return None
        taken = _Claimed(claimed, data, recovered, pool.submit(data).result if pool is not None else None)
        in_flight.append(taken)
        return taken

    with Session(get_engine(settings), expire_on_commit=False) as session:
        person = session.get(Person, int(folder.name))
        if person is None:
            report.errors.append(f"inbox/{folder.name}: there is no person #{folder.name}")
            return
        # A file is claimed right before it is read and analysed — with a pool a few files
        # ahead of the one being stored — so a claim is never older than a few photos'
        # processing while its importer lives, and several importers share a folder's work.
        items = [(p, None, True) for p in stale] + [(p, st, False) for p, st in candidates]
        window = 4 * pool.workers if pool is not None else 1
        try:
            for _, taken in ahead(items, take, window):
                if taken is not None:
                    _store(session, settings, person, folder, taken, now, report)
                    in_flight.remove(taken)
        finally:  # stopped by an error: what was claimed and not stored goes back for the next run
            for left in in_flight:
                _unclaim(left.path, folder)


def _read_claimed(settings: Settings, person, folder: Path, claimed: Path, listed: os.stat_result | None,
                  now: datetime, report: InboxReport) -> bytes | None:
    """A claimed file's bytes, or None when it went back (still being written) or was refused
    (unreadable, too large)."""
    from freshness.errors import UsageError
    from freshness.files import open_regular, read_at_most, too_large

    limit = settings.max_upload_bytes
    try:
        # a regular file only, not followed if it is a link, never waiting (a FIFO swapped in
        # after the listing), and at most the limit + 1 bytes read whatever its size says
        fd = open_regular(claimed, follow_symlinks=False)
        try:
            before = os.fstat(fd)
            if listed is not None and not _same(listed, before):
                raise _StillWriting
            data = None if before.st_size > limit else read_at_most(fd, limit)
            if data is not None and (len(data) > limit or not _same(before, os.fstat(fd))):
                raise _StillWriting
        finally:
            os.close(fd)
    except _StillWriting:
        _unclaim(claimed, folder)
        report.waiting += 1
        return None
    except (OSError, UsageError) as exc:  # not readable (permissions): say so instead of trying again and again
        reason = exc.message.rpartition(": ")[2] if isinstance(exc, UsageError) else (exc.strerror or str(exc))
        _refuse(claimed, folder, person, f"Found {_local(now, person.timezone)} in the inbox folder.",
                "unreadable", f"the file cannot be read: {reason}", report)
        return None
    if data is None:
        _refuse(claimed, folder, person, f"Imported {_local(now, person.timezone)} from the inbox folder.",
                "too_large", too_large(before.st_size, limit).message, report)  # as the CLI says it
        return None
    return data


def _store(session, settings: Settings, person, folder: Path, taken: _Claimed, now: datetime,
           report: InboxReport) -> None:
    from freshness.checkins import add_checkin
    from freshness.context import get_context
    from freshness.errors import ImageRejected, UsageError

    claimed, recovered = taken.path, taken.recovered
    _, name = _parse_claim(claimed.name)
    when = f"Imported {_local(now, person.timezone)} from the inbox folder."
    try:
        result = add_checkin(session, get_context(settings), person, taken.data, now=now, analysed=taken.analysed)
    except ImageRejected as exc:
        session.rollback()
        if exc.code == "duplicate" and recovered and exc.details.get("checkin_id"):
            # stored by an import that died before it could move the file: it was checked in
            _finish(claimed, folder, DONE, f"Checked in as check-in #{exc.details['checkin_id']} "
                                           f"(the import was interrupted before the file was moved).\n{when}")
            report.checked_in += 1
            return
        _refuse(claimed, folder, person, when, exc.code, exc.message, report)
        return
    except UsageError as exc:
        session.rollback()
        _refuse(claimed, folder, person, when, exc.code, exc.message, report)
        return
    except Exception as exc:  # the database went away, a bug: put the file back for the next run
        session.rollback()
        log.exception("inbox: checking in %s failed", claimed)
        _unclaim(claimed, folder)
        report.errors.append(f"{folder.name}/{name}: {exc}")
        return
    _finish(claimed, folder, DONE, _accepted_note(session, settings, person, result, when))
    report.checked_in += 1
    log.info("inbox: %s/%s checked in as check-in #%s", folder.name, name, result.checkin.id)


class _StillWriting(Exception):
    pass


def _local(when: datetime, tz: str) -> str:
    from freshness.words import local_time

    return local_time(when, tz)


def _refuse(claimed: Path, folder: Path, person, when: str, code: str, message: str,
            report: InboxReport) -> None:
    def note(target: Path) -> str:
        lines = [f"Not checked in ({code}): {message}", when]
        if code == "not_you":
            lines.append(f'If it is you, check it in with: freshness checkin {person.id} "{target}" --confirm-identity')
        else:
            lines.append("Nothing was stored. To try again, put a new photo into the inbox folder.")
        return "\n".join(lines)

    moved = _finish(claimed, folder, REFUSED, note)
    report.refused += 1
    log.info("inbox: %s/%s refused (%s)", folder.name, moved.name, code)


_SOURCES = {"exif": "from the photo's EXIF date", "received": "no date in the photo: the time it was imported",
            "given": "as given"}


def _accepted_note(session, settings: Settings, person, result, when: str) -> str:
    from freshness.likeness import band
    from freshness.reminders import policy_for
    from freshness.reports import status
    from freshness.words import distance_text

    c = result.checkin
    lines = [f"Checked in as check-in #{c.id}, taken {_local(c.taken_at, person.timezone)} "
             f"({_SOURCES.get(c.taken_at_source, c.taken_at_source)}).", when]
    policy = policy_for(person, settings)
    for headshot, d in result.distances:
        lines.append(f"{headshot.platform} headshot #{headshot.id}: {distance_text(d, band(d, policy.bands))}")
    if not result.distances:
        lines.append("No active headshot yet: kept for later comparison.")
    if c.note:
        lines.append(f"Note: {c.note}")
    if result.identity_note:
        lines.append(result.identity_note)
    try:
        verdicts = [h["verdict"] for h in status(session, person, max(c.taken_at, c.received_at))["headshots"]]
    except Exception:  # the verdict is a courtesy; the check-in is stored either way
        log.exception("inbox: verdict for check-in #%s", c.id)
        verdicts = []
    return "\n".join([*verdicts, *([""] if verdicts else []), *lines])

