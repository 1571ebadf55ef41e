"""Content-addressed file store (sha256) with atomic writes.

A blob lives at ``<root>/<aa>/<bb>/<sha256>``. Writes go to a temporary file in
the same directory, are fsynced, then renamed into place (and the directory is
fsynced), so a reader never sees a partial file and a crash leaves at most a
stray ``.tmp`` file, never a corrupt blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return (digest, created). Storing existing content is a no-op."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.is_file():
            return digest, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
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
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def digests(self) -> set[str]:
        """Every stored digest (for tests and garbage collection)."""
        if not self.root.is_dir():
            return set()
        return {p.name for p in self.root.glob("??/??/*") if p.is_file() and not p.name.startswith(".")}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobBatch:
    """Tracks the blobs one operation created, to remove them if its transaction fails."""

    def __init__(self, store: BlobStore):
        self.store = store
        self.created: list[str] = []

    def put(self, data: bytes) -> str:
        digest, created = self.store.put(data)
        if created:
            self.created.append(digest)
        return digest

    def rollback(self) -> None:
        for digest in self.created:
            self.store.delete(digest)
        self.created.clear()
