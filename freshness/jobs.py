"""What the scheduler runs (README, "The service runs itself"): each job is an ordinary
function over fresh sessions, safe to run in several processes at once, so the scheduler
only decides when (see ``freshness.scheduler``) and the CLI can run any of them by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from freshness import clock as _clock
from freshness.config import Settings, get_settings
from freshness.db import get_engine

log = logging.getLogger("freshness.jobs")


def _session(settings: Settings) -> Session:
    return Session(get_engine(settings), expire_on_commit=False)


def sweep(settings: Settings | None = None, now: datetime | None = None, batch: int = 500, progress=None):
    """Evaluate everyone as of now, recording each reminder change once (and its notification),
    in batches (see ``freshness.sweep``). One person's failure (say, invalid overrides) is
    reported and does not stop the others."""
    from freshness.sweep import sweep as run

    settings = settings or get_settings()
    report = run(settings, now or _clock.utcnow(), batch=batch, progress=progress)
    log.info("sweep: %s", report.summary())
    return report


def prompts(settings: Settings | None = None, now: datetime | None = None):
    """Write the due check-in prompts into the outbox (see ``freshness.prompts``)."""
    from freshness.prompts import send_due_prompts

    settings = settings or get_settings()
    with _session(settings) as session:
        report = send_due_prompts(session, settings, now or _clock.utcnow())
    if report.sent or report.scheduled:
        log.info("prompts: %s sent, %s scheduled", report.sent, report.scheduled)
    return report


def dispatch(settings: Settings | None = None, clock: Callable[[], datetime] | None = None, transports=None):
    """Send the deliveries that are due (see ``freshness.notify.outbox``)."""
    from freshness.notify.outbox import dispatch as run
    from freshness.notify.transports import Transports

    settings = settings or get_settings()
    with _session(settings) as session:
        report = run(session, transports or Transports(settings), settings, clock or (lambda: _clock.utcnow()))
    if report.attempted or report.cancelled:
        log.info("dispatch: %s sent, %s to retry, %s given up, %s cancelled", report.sent, report.retried,
                 report.dead, report.cancelled)
    return report


def maintenance(settings: Settings | None = None, now: datetime | None = None) -> dict[str, int]:
    """Daily housekeeping: stored files no committed row refers to (left by a crash between
    writing a file and committing its row: thumbnails, kept originals) and abandoned temporary
    files, once they are a day old. Files are removed under the store's lock, so never one a
    check-in being committed relies on (see freshness.blobs)."""
    from freshness.blobs import BlobStore, references_from

    settings = settings or get_settings()
    now = now or _clock.utcnow()
    store = BlobStore(settings.blob_dir)
    cutoff = (now - timedelta(days=1)).timestamp()
    removed = {"orphaned_files": 0, "temporary_files": 0}
    # the retention schedule first (README, "Retention"): people inactive too long are forgotten,
    # inbox photos and held candidates past their time removed, the SQLite WAL truncated
    from freshness.privacy import retention

    removed.update(retention(settings, now, store).as_dict())
    if not settings.blob_dir.exists():
        return removed
    candidates = set()
    for path in store.files():
        try:
            if path.stat().st_mtime < cutoff:
                candidates.add(path.name)
        except FileNotFoundError:
            continue
    removed["orphaned_files"] = len(store.discard(candidates, references_from(get_engine(settings)),
                                                  older_than=cutoff))
    removed["temporary_files"] = store.remove_temporary(older_than=cutoff)
    if any(removed.values()):
        log.info("maintenance: %s", removed)
    return removed


def inbox(settings: Settings | None = None, now: datetime | None = None):
    """Check in the photos people dropped into their inbox folders (see ``freshness.inbox``)."""
    from freshness.inbox import import_inbox

    settings = settings or get_settings()
    report = import_inbox(settings, now or _clock.utcnow())
    if report.checked_in or report.refused or report.errors:
        log.info("inbox: %s", report.summary())
    return report
