"""What the machine refused, in words: a full disk, a read-only or unwritable data directory, a
database another process keeps locked. The CLI prints these instead of a traceback (exit 2),
and never the SQL statement or its parameters (which would show names, e-mail addresses or
embeddings): only the database driver's own short message."""

from __future__ import annotations

import errno

from freshness.errors import FreshnessError


class StorageError(FreshnessError):
    """The data directory or the database cannot be written (or read) as things are."""

    exit_code = 2
    http_status = 503
    code = "storage"


_OS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "a file would be larger than the system allows (a file size limit, ulimit -f?)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "an input/output error (a failing disk?)",
}

_ADVICE = {
    errno.ENOSPC: "free some space and try again",
    errno.EDQUOT: "free some space and try again",
    errno.EFBIG: "raise the limit and try again",
    errno.EROFS: "make the data directory writable (FRESHNESS_HOME) and try again",
    errno.EACCES: "check the owner and permissions of the data directory (FRESHNESS_HOME)",
    errno.EPERM: "check the owner and permissions of the data directory (FRESHNESS_HOME)",
    errno.EIO: "check the disk",
}

# sqlite3 messages → (what it means, what to do)
_SQLITE = (
    ("database or disk is full", "no space left for the database", "free some space and try again"),
    ("attempt to write a readonly database", "the database cannot be written (read-only file or directory)",
     "make the data directory and its database files writable and try again"),
    ("readonly database", "the database cannot be written (read-only file or directory)",
     "make the data directory and its database files writable and try again"),
    ("unable to open database file", "the database file cannot be opened",
     "check that the data directory exists and is readable and writable (FRESHNESS_HOME)"),
    ("database is locked", "the database stayed locked by another process for longer than the busy timeout",
     "try again; if it keeps happening, look for a stuck freshness process"),
    ("database table is locked", "the database stayed locked by another process for longer than the busy timeout",
     "try again"),
    ("disk i/o error", "the disk reported an error while writing the database (a full disk or a file size limit?)",
     "check free space and the disk, then run `freshness doctor`"),
    ("database disk image is malformed", "the database file is damaged",
     "run `freshness doctor` and restore the database from a backup"),
    ("file is not a database", "the database file is not a SQLite database (replaced?)",
     "restore the database from a backup"),
)


#: SQLite's words for a file it could not create or write: the data directory's file system may say why
_DATA_DIRECTORY_FAULTS = ("database or disk is full", "attempt to write a readonly database", "readonly database",
                          "unable to open database file", "disk i/o error")


def _data_directory_state() -> tuple[str, str] | None:
    """(what, advice) when the data directory's file system is read-only or full, else None. SQLite
    says "unable to open database file" or "disk I/O error" when it cannot create its -wal and -shm
    files on a read-only or full disk: this names the cause."""
    import os

    try:
        from freshness.config import get_settings

        fs = os.statvfs(get_settings().home)
    except Exception:  # no settings, no data directory: the driver's words are all there is
        return None
    if fs.f_flag & os.ST_RDONLY:
        return "the data directory's file system is read-only", _ADVICE[errno.EROFS]
    if fs.f_bavail * fs.f_frsize < 64 * 1024:
        return "no space left on the device (the data directory's file system is full)", _ADVICE[errno.ENOSPC]
    return None


def explain(exc: BaseException) -> StorageError | None:
    """A ``StorageError`` for a failure of the machine (disk, permissions, locks), else None."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        orig = exc.orig
        if isinstance(orig, OSError):
            return explain(orig)
        text = str(orig).strip().splitlines()[0] if orig is not None and str(orig).strip() else ""
        lowered = text.lower()
        for needle, what, advice in _SQLITE:
            if needle in lowered:
                if needle in _DATA_DIRECTORY_FAULTS:
                    what, advice = _data_directory_state() or (what, advice)
                return StorageError(f"{what}: {advice} ({text})",
                                    details={"database_error": text})
        if type(exc).__name__ == "OperationalError":  # the database went away, refused a connection…
            return StorageError(f"the database failed: {text or type(orig).__name__}",
                                details={"database_error": text})
        return None
    if isinstance(exc, OSError) and exc.errno in _OS:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return StorageError(f"{_OS[exc.errno]}{where}: {_ADVICE[exc.errno]}",
                            details={"errno": errno.errorcode.get(exc.errno, str(exc.errno))})
    return None
