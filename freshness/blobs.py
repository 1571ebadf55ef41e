"""Content-addressed file store (sha256) with atomic writes, and the rule for removing files.

A blob lives at ``<root>/<aa>/<bb>/<sha256>`` (mode 0600, its folders 0700). Writes go to a
temporary file in the same directory, are fsynced, then renamed into place (and the directory
is fsynced), so a reader never sees a partial file and a crash leaves at most a stray ``.tmp``
file, never a corrupt blob.

Removing a file is the delicate part: identical bytes are stored once, so two check-ins (of
one person or of two) may share a file, and a writer that finds a file already there relies on
it staying until its own row is committed. The rule: **a file is removed only when no
committed row refers to it, decided while no writer is between writing a file and committing
its row.** Writers hold a shared lock (``flock`` on ``<root>.lock``, beside the store) from their
first ``put`` until their transaction has committed or rolled back (``BlobBatch``); removers hold
the exclusive lock while they read which files are referred to and unlink the others
(``BlobStore.discard``). So:

* a failed or refused write (a lost race on a unique key, a full disk, a SIGKILL) never takes a
  file another writer is about to commit: its files are re-checked after its lock is released;
* ``freshness person delete``, the maintenance job and ``freshness doctor --fix`` remove files
  the same way;
* what a SIGKILL leaves (a file without its row, a ``.tmp`` file) is found by the maintenance
  job (a day later) and by ``freshness doctor``.

The lock is an advisory ``flock`` on one file: processes on one machine (or on a file system
that supports ``flock`` across machines, such as NFSv4) share it; a killed process releases it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session

log = logging.getLogger("freshness.blobs")

DIR_MODE = 0o700
FILE_MODE = 0o600


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_digest(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def private_dir(path: Path) -> None:
    """Make ``path`` and any missing parents, each new one 0700 (existing ones are left as they are)."""
    missing = []
    current = Path(path)
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # whatever the umask


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return (digest, created). Storing existing content writes nothing (its
        modification time is renewed: the maintenance job leaves files younger than a day)."""
        digest = sha256_hex(data)
        target = self.path(digest)
        try:
            os.utime(target)
            return digest, False
        except FileNotFoundError:
            pass
        private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return digest, True

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def delete(self, digest: str) -> bool:
        """Remove a file *without* the checks of ``discard``: only for a file known to be
        referred to by nothing (tests; a store being emptied)."""
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def digests(self) -> set[str]:
        """Every stored digest (for tests and garbage collection)."""
        return {p.name for p in self.files()}

    def _is_blob(self, p: Path) -> bool:
        """A file named by its digest, where that digest puts it."""
        return is_digest(p.name) and p.parent.name == p.name[2:4] and p.parent.parent.name == p.name[:2] \
            and p.parent.parent.parent == self.root

    def files(self) -> Iterator[Path]:
        """Every stored blob file (``<aa>/<bb>/<digest>``)."""
        if not self.root.is_dir():
            return
        for p in self.root.glob("??/??/*"):
            if self._is_blob(p) and p.is_file():
                yield p

    def temporary_files(self) -> Iterator[Path]:
        """Files a write left behind (``.<random>.tmp``) and anything else that is not a blob."""
        if not self.root.is_dir():
            return
        for p in self.root.rglob("*"):
            if not p.is_dir() and not self._is_blob(p):
                yield p

    # ------------------------------------------------------------ the lock

    @property
    def lock_path(self) -> Path:
        """Beside the store, not in it (``<home>/blobs.lock``): the store holds blobs only."""
        return self.root.with_name(self.root.name + ".lock")

    @contextmanager
    def _lock(self, kind: int) -> Iterator[None]:
        private_dir(self.root)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        try:
            while True:
                try:
                    fcntl.flock(fd, kind)
                    break
                except InterruptedError:  # pragma: no cover - a signal while waiting
                    continue
            yield
        finally:
            os.close(fd)  # releases the lock

    def writing(self) -> AbstractContextManager[None]:
        """Held (shared) from a writer's first ``put`` until its transaction ended."""
        return self._lock(fcntl.LOCK_SH)

    def removing(self) -> AbstractContextManager[None]:
        """Held (exclusive) while files are checked against the database and removed."""
        return self._lock(fcntl.LOCK_EX)

    def discard(self, digests: Iterable[str], referenced: Callable[[set[str]], set[str]], *,
                older_than: float | None = None) -> list[str]:
        """Remove those of ``digests`` that ``referenced`` (asked under the exclusive lock, so
        after every writer in flight has committed or rolled back) does not name, and, with
        ``older_than`` (a timestamp), only files last modified before it. Returns the removed."""
        wanted = {d for d in digests if is_digest(d)}
        if not wanted:
            return []
        removed = []
        with self.removing():
            keep = referenced(set(wanted))
            for digest in sorted(wanted - keep):
                path = self.path(digest)
                try:
                    if older_than is not None and path.stat().st_mtime >= older_than:
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(digest)
        return removed

    def remove_temporary(self, *, older_than: float | None = None) -> int:
        """Remove what writes left behind (``.tmp`` files), under the exclusive lock: no writer is
        writing one then, so every one found is abandoned. With ``older_than``, only older ones."""
        removed = 0
        with self.removing():
            for path in list(self.temporary_files()):
                try:
                    if older_than is not None and path.lstat().st_mtime >= older_than:
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - file systems that cannot sync a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


# ---------------------------------------------------------------- which files rows refer to


def referenced_digests(session: Session, among: set[str] | None = None) -> set[str]:
    """The digests committed rows refer to (of ``among``, or all): each headshot's original and
    thumbnail, each check-in's thumbnail and, when it was kept, its original. Every column that
    names a file belongs here: a file no column names is removed by maintenance."""
    from sqlmodel import select

    from freshness.models import Checkin, Headshot

    used: set[str] = set()
    chunks = [sorted(among)[i:i + 500] for i in range(0, len(among), 500)] if among is not None else [None]
    for chunk in chunks:
        for column in (Headshot.image_digest, Headshot.thumb_digest, Checkin.thumb_digest):
            query = select(column)
            if chunk is not None:
                query = query.where(column.in_(chunk))  # type: ignore[attr-defined]
            used.update(session.exec(query).all())
        query = select(Checkin.image_digest).where(Checkin.original_kept == True)  # noqa: E712
        if chunk is not None:
            query = query.where(Checkin.image_digest.in_(chunk))  # type: ignore[attr-defined]
        used.update(session.exec(query).all())
    return used


def references_from(bind) -> Callable[[set[str]], set[str]]:
    """``referenced`` for ``BlobStore.discard``: a fresh session on ``bind`` (an engine), so what it
    reads is what is committed now."""

    def referenced(among: set[str]) -> set[str]:
        from sqlmodel import Session

        with Session(bind) as session:
            return referenced_digests(session, among)

    return referenced


class BlobBatch:
    """The files one transaction writes. ``with batch.held():`` around the transaction holds the
    writers' lock; ``discard_unreferenced`` after a failed transaction removes those of its new
    files that no committed row refers to (another writer may have committed the same bytes)."""

    def __init__(self, store: BlobStore):
        self.store = store
        self.created: list[str] = []

    def held(self) -> AbstractContextManager[None]:
        return self.store.writing()

    def put(self, data: bytes) -> str:
        digest, created = self.store.put(data)
        if created:
            self.created.append(digest)
        return digest

    def discard_unreferenced(self, referenced: Callable[[set[str]], set[str]]) -> list[str]:
        """Never raises: a file that cannot be checked now (the database gone) is left for the
        maintenance job."""
        if not self.created:
            return []
        try:
            return self.store.discard(self.created, referenced)
        except Exception:  # the original error matters more; maintenance collects the file later
            log.warning("blobs: could not check %d new file(s) after a failed write; maintenance will",
                        len(self.created), exc_info=True)
            return []
        finally:
            self.created.clear()
