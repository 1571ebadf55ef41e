"""Reading an image file that someone else named: a regular file, at most the limit + 1 bytes.

``stat().st_size`` says nothing about special files (``/dev/zero`` and a FIFO report 0 bytes),
so the file is opened without blocking (a FIFO with no writer would wait forever), checked to
be a regular file on the open descriptor (no race between the check and the read), and read
in chunks that stop one byte past the limit: whatever the path names, a reader never holds
more than ``limit + 1`` bytes and never waits.
"""

from __future__ import annotations

import errno
import os
import stat

from freshness.errors import ImageRejected, UsageError

_CHUNK = 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def size_text(n: int) -> str:
    """A byte count as people read it: 25 MB, 1.5 MB, 200 KB (a limit below 1 MB is not "0 MB")."""
    if n < 1048576:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / 1048576:.1f}".removesuffix(".0") + " MB"


def too_large(size: int, limit: int) -> ImageRejected:
    shown = size_text(size) if size <= limit * 2 else f"more than {size_text(limit)}"
    return ImageRejected(f"file too large: {shown}; the limit is {size_text(limit)}", code="too_large",
                         details={"limit": limit})


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> int:
    """A descriptor open for reading on the regular file at ``path`` (the caller closes it);
    ``UsageError`` saying what it is otherwise. Never waits (a FIFO is opened non-blocking)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise UsageError(f"cannot read {path}: it is a symbolic link (not followed here)") from None
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UsageError(f"cannot read {path}: it is {_kind(mode)}, not an image file")
    return fd


def read_at_most(fd: int, limit: int) -> bytes:
    """Read from ``fd`` until its end or ``limit + 1`` bytes, whichever comes first."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:  # a file growing while it is read stops one byte past the limit
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_image_file(path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file at ``path``; ``UsageError`` when it is not one or cannot be
    read, ``ImageRejected`` (too_large) past ``limit`` bytes. ``follow_symlinks=False`` refuses a
    symbolic link (for folders other people can write to, such as the inbox)."""
    fd = open_regular(path, follow_symlinks=follow_symlinks)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise too_large(size, limit)
        data = read_at_most(fd, limit)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise too_large(len(data), limit)
    return data
