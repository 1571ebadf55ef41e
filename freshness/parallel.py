"""Selfie analysis in worker processes: many check-ins at once (README, "freshness checkin").

The CPU part of a check-in — decode, detect, landmarks, embedding — needs no database and no
clock: ``analyse_selfie`` turns bytes into a ``SelfieAnalysis`` (the face analysis, or why
the image was refused). ``SelfiePool`` runs it in worker processes that import the face
pipeline and load its models once each (the pool's initializer); everything else — the
duplicate check, the identity guard, the writes — stays in the calling process, in the
order the images were given, so the answers are the ones a check-in one image at a time gives.

Worker processes are forked when the caller runs a single thread and has not loaded dlib (the
CLI: nothing to import again), and spawned otherwise (the scheduler's threads, or dlib's own
native thread pool: a fork copies only the forking thread, and a lock or a pool another thread
held would stay taken in the child forever).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from freshness.errors import ImageRejected

if TYPE_CHECKING:
    from freshness.faces.analyze import FaceAnalysis
    from freshness.faces.decode import DecodeLimits
    from freshness.faces.limits import QualityLimits

T = TypeVar("T")


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return max(1, counter() or 1)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(requested: int | None, images: int) -> int:
    """How many processes analyse ``images`` images: ``requested`` (default: one per CPU),
    never more than there are images; 1 means in this process, without a pool."""
    wanted = cpu_count() if requested is None else requested
    return max(1, min(wanted, images))


@dataclass(frozen=True)
class SelfieAnalysis:
    """What the analysis of one image found: the face (and the capture time the file gives),
    or the reason it was refused (an ``ImageRejected`` as code, message and details, which
    travel between processes where the exception itself would lose its code)."""

    analysis: FaceAnalysis | None = None
    taken_at: datetime | None = None
    taken_at_problem: str | None = None
    refused: tuple[str, str, dict[str, Any]] | None = None

    def result(self) -> SelfieAnalysis:
        """Itself, or raise the ``ImageRejected`` that refused the image."""
        if self.refused is not None:
            code, message, details = self.refused
            raise ImageRejected(message, code=code, details=details)
        return self


def analyse_selfie(data: bytes, decode_limits: DecodeLimits, quality_limits: QualityLimits) -> SelfieAnalysis:
    """Decode and analyse one image (no database, no clock). Quality is measured, not enforced."""
    from freshness.faces import analyze_image, decode_image  # the image libraries load here, when needed

    try:
        decoded = decode_image(data, decode_limits)
        analysis = analyze_image(decoded, "selfie", quality_limits)
    except ImageRejected as exc:
        return SelfieAnalysis(refused=(exc.code, exc.message, exc.details))
    return SelfieAnalysis(analysis=analysis, taken_at=decoded.taken_at, taken_at_problem=decoded.taken_at_problem)


# ---------------------------------------------------------------- the worker side

_limits: tuple[Any, Any] | None = None


def _start_worker(decode_limits: DecodeLimits, quality_limits: QualityLimits) -> None:
    """Pool initializer: keep the limits, import the face pipeline and load its models once."""
    global _limits
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool
    _limits = (decode_limits, quality_limits)
    from freshness.faces.analyze import _load_models

    _load_models()


def _analyse_in_worker(data: bytes) -> SelfieAnalysis:
    assert _limits is not None, "the pool's initializer did not run"
    return analyse_selfie(data, *_limits)


# ---------------------------------------------------------------- the parent side


def _fork_is_safe() -> bool:
    """A fork copies only the calling thread: safe while this process runs no other Python
    thread and has not loaded dlib (whose native thread pool would be copied as "running" and
    wait forever). numpy's OpenBLAS threads are prepared for a fork (pthread_atfork)."""
    if "fork" not in multiprocessing.get_all_start_methods() or "dlib" in sys.modules:
        return False
    return threading.active_count() == 1


class SelfiePool:
    """``workers`` processes analysing selfies; use as a context manager (leaving it stops them,
    dropping analyses not yet started)."""

    def __init__(self, workers: int, decode_limits: DecodeLimits, quality_limits: QualityLimits):
        self.workers = workers
        method = "fork" if _fork_is_safe() else "spawn"
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_start_worker,
            initargs=(decode_limits, quality_limits),
        )
        for _ in range(workers):  # start the workers now: they load the models while the caller gets ready
            self._executor.submit(int)

    def submit(self, data: bytes) -> Future[SelfieAnalysis]:
        return self._executor.submit(_analyse_in_worker, data)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SelfiePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ahead(items: Iterable[T], start: Callable[[T], Any], window: int) -> Iterator[tuple[T, Any]]:
    """``(item, start(item))`` in the order of ``items``, with ``start`` called up to ``window``
    items ahead of the one yielded (so that many analyses run while the caller stores one, and
    at most ``window`` images are held in memory)."""
    pending: deque[tuple[T, Any]] = deque()
    for item in items:
        pending.append((item, start(item)))
        if len(pending) >= window:
            yield pending.popleft()
    while pending:
        yield pending.popleft()
