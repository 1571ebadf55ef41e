"""APScheduler 3.x wiring: when the jobs of ``freshness.jobs`` run (README, "The scheduler").

The jobs live in a persistent ``SQLAlchemyJobStore`` (table ``apscheduler_jobs`` in the
freshness database), each with an explicit id, ``coalesce=True``, ``max_instances=1`` and a
misfire grace time of one interval. At start-up a job that is already stored with the same
interval keeps its stored next run time, so after downtime it is due at once and runs
*once* (its missed ticks are coalesced into one run, which the grace time lets through);
a job whose interval changed is rescheduled; the sweep also runs at start-up.

The job callables below are module-level functions without arguments: the job store keeps
a textual reference to them (``freshness.scheduler:run_sweep``), and each reads the
settings and ``freshness.clock.utcnow()`` when it runs. Every job is safe to run in several
processes at once (conditional updates, atomic renames), so two schedulers on one database
(or a cron ``freshness run`` beside one) send each prompt and each delivery once.

``apscheduler`` is imported only here, and this module only by the commands that schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from freshness.config import Settings, get_settings

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("freshness.scheduler")

TABLE = "apscheduler_jobs"


def _now() -> datetime:
    from freshness import clock

    return clock.utcnow()


# ---------------------------------------------------------------- one summary line per job


def _sweep_summary(report: Any) -> str:
    return report.summary()


def _prompts_summary(report: Any) -> str:
    text = f"{report.sent} check-in prompt(s) sent"
    if report.scheduled:
        text += f", {report.scheduled} person(s) scheduled"
    if report.lost_race:
        text += f", {report.lost_race} sent by another scheduler"
    return text


def _dispatch_summary(report: Any) -> str:
    text = (f"{report.sent} delivered, {report.retried} to retry, {report.dead} given up, "
            f"{report.cancelled} cancelled")
    if report.skipped:
        text += f", {report.skipped} taken by another dispatcher"
    if report.errors:
        text += f" ({'; '.join(report.errors[:3])})"
    return text


def _maintenance_summary(removed: dict[str, int]) -> str:
    text = f"{removed['orphaned_files']} orphaned file(s) and {removed['temporary_files']} temporary file(s) removed"
    retention = [(removed.get("inactive_people_purged", 0), "inactive people purged (README, \"Retention\")"),
                 (removed.get("inbox_files_removed", 0), "inbox photo(s) past their time removed"),
                 (removed.get("held_candidates_removed", 0), "held candidate(s) removed")]
    return text + "".join(f"; {n} {what}" for n, what in retention if n)


def _send_now(settings: Settings) -> str:
    """What the sweep or the prompts just wrote goes out at once, not at the next dispatch tick
    (dispatching is safe beside the dispatch job: each delivery is claimed once)."""
    from freshness import jobs

    return "; then " + _dispatch_summary(jobs.dispatch(settings, clock=_now))


def _call_sweep(settings: Settings, progress: Callable[[int, int], None] | None = None) -> str:
    from freshness import jobs

    report = jobs.sweep(settings, _now(), progress=progress)
    return _sweep_summary(report) + (_send_now(settings) if report.transitions else "")


def _call_prompts(settings: Settings) -> str:
    from freshness import jobs

    report = jobs.prompts(settings, _now())
    return _prompts_summary(report) + (_send_now(settings) if report.sent else "")


def _call_dispatch(settings: Settings) -> str:
    from freshness import jobs

    return _dispatch_summary(jobs.dispatch(settings, clock=_now))


def _call_inbox(settings: Settings) -> str:
    from freshness import jobs

    return jobs.inbox(settings, _now()).summary()


def _call_maintenance(settings: Settings) -> str:
    from freshness import jobs

    return _maintenance_summary(jobs.maintenance(settings, _now()))


@dataclass(frozen=True)
class JobSpec:
    name: str  # the job id in the store and the name `freshness run` takes
    setting: str  # the Settings field holding its interval in seconds (0: off)
    call: Callable[[Settings], str]
    what: str

    def interval(self, settings: Settings) -> int:
        return int(getattr(settings, self.setting))


JOBS: dict[str, JobSpec] = {spec.name: spec for spec in (
    JobSpec("sweep", "sweep_interval_seconds", _call_sweep, "evaluate everyone's reminders"),
    JobSpec("prompts", "prompts_interval_seconds", _call_prompts, "send the check-in prompts that are due"),
    JobSpec("dispatch", "dispatch_interval_seconds", _call_dispatch, "deliver notifications (retries included)"),
    JobSpec("inbox", "inbox_interval_seconds", _call_inbox, "check in the photos in the inbox folders"),
    JobSpec("maintenance", "maintenance_interval_seconds", _call_maintenance, "remove orphaned stored files"),
)}


def run_job(name: str, settings: Settings | None = None, **options: Any) -> str:
    """Run one job now and return (and log) its one-line summary (``options``: e.g. the sweep's
    ``progress`` callback)."""
    spec = JOBS[name]
    started = time.perf_counter()
    summary = spec.call(settings or get_settings(), **options)
    line = f"{name}: {summary} [{time.perf_counter() - started:.2f} s]"
    log.info("%s", line)
    return line


def _scheduled(name: str) -> None:
    """What the scheduler calls: the job, its summary logged; a failure is logged, not raised
    (the next tick tries again)."""
    try:
        run_job(name)
    except Exception:
        log.exception("%s failed", name)


# The job store keeps references to these by name: keep them module-level and keep the names.
def run_sweep() -> None:
    _scheduled("sweep")


def run_prompts() -> None:
    _scheduled("prompts")


def run_dispatch() -> None:
    _scheduled("dispatch")


def run_inbox() -> None:
    _scheduled("inbox")


def run_maintenance() -> None:
    _scheduled("maintenance")


CALLABLES: dict[str, Callable[[], None]] = {
    "sweep": run_sweep, "prompts": run_prompts, "dispatch": run_dispatch, "inbox": run_inbox,
    "maintenance": run_maintenance,
}


# ---------------------------------------------------------------- the scheduler


def _job_store(settings: Settings):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from freshness.db import get_engine

    engine = get_engine(settings)
    store = SQLAlchemyJobStore(engine=engine, tablename=TABLE)
    # Two processes starting at once may both try to create the table: the one that loses
    # finds it there. (The store's own start() then creates it only if it is missing.)
    try:
        store.jobs_t.create(engine, checkfirst=True)
    except Exception:
        from sqlalchemy import inspect

        if not inspect(engine).has_table(TABLE):
            raise
    return store


def _scheduler_class() -> type[BackgroundScheduler]:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class Scheduler(BackgroundScheduler):
        """APScheduler 3.x's loop looks for due jobs once more after ``shutdown()``; with the
        executor already gone, a job due then is not run but its tick is used up (the store
        moves it to the next interval). Stopped means stopped: that round is skipped, so the
        job is still due when the next process starts."""

        def _process_jobs(self):  # type: ignore[no-untyped-def]
            if self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()

    return Scheduler


def build_scheduler(settings: Settings | None = None) -> BackgroundScheduler:
    """A BackgroundScheduler (not started) over the job store in the freshness database."""
    from apscheduler.executors.pool import ThreadPoolExecutor

    settings = settings or get_settings()
    return _scheduler_class()(
        jobstores={"default": _job_store(settings)},
        executors={"default": ThreadPoolExecutor(max_workers=len(JOBS))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=timezone.utc,
    )


def _stored_interval(job: Any) -> float | None:
    interval = getattr(job.trigger, "interval", None)
    return interval.total_seconds() if isinstance(interval, timedelta) else None


def schedule_jobs(scheduler: BackgroundScheduler, settings: Settings, now: datetime | None = None) -> list[str]:
    """Put every job into the (started, paused) scheduler's store; returns one line per job.

    A job stored earlier with the same interval keeps its next run time (after downtime it
    is due at once and runs once); otherwise it is scheduled one interval from now. The
    sweep is due now as well (a sweep at start-up). A job whose interval is 0 is removed.
    """
    from apscheduler.triggers.interval import IntervalTrigger

    now = now or datetime.now(timezone.utc)  # APScheduler's own clock decides when jobs run
    lines = []
    for name, spec in JOBS.items():
        seconds = spec.interval(settings)
        existing = scheduler.get_job(name)
        if seconds == 0:
            if existing is not None:
                scheduler.remove_job(name)
            lines.append(f"{name}: off")
            continue
        kwargs: dict[str, Any] = {}
        if existing is not None and _stored_interval(existing) == seconds and existing.next_run_time is not None:
            kwargs["next_run_time"] = existing.next_run_time
        if name == "sweep":
            kwargs["next_run_time"] = now  # a sweep at start-up, then every interval
        job = scheduler.add_job(
            CALLABLES[name],
            IntervalTrigger(seconds=seconds, timezone=timezone.utc),
            id=name,
            name=name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=seconds,  # the latest missed tick is always within one interval
            **kwargs,
        )
        due = job.next_run_time
        lines.append(f"{name}: every {seconds} s, next {'now' if due <= now else due.isoformat(timespec='seconds')}")
    return lines


def start(settings: Settings | None = None) -> BackgroundScheduler:
    """Build, schedule and start the scheduler; returns it running (call ``shutdown()``)."""
    settings = settings or get_settings()
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    try:
        lines = schedule_jobs(scheduler, settings)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    log.info("scheduler started: %s", "; ".join(lines))
    scheduler.resume()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    """Stop scheduling and wait for running jobs to finish."""
    if scheduler.running:
        scheduler.shutdown(wait=True)
    log.info("scheduler stopped")


def configure_logging() -> None:
    """One line per job run on stderr; APScheduler's own chatter only when something is wrong.
    No token reaches a log line (``privacy.install_log_redaction``)."""
    from freshness.privacy import install_log_redaction

    install_log_redaction()
    handler_exists = any(getattr(h, "_freshness", False) for h in logging.getLogger().handlers)
    if not handler_exists:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._freshness = True  # type: ignore[attr-defined]
        logging.getLogger().addHandler(handler)
    logging.getLogger("freshness").setLevel(logging.INFO)
    logging.getLogger("freshness.jobs").setLevel(logging.WARNING)  # run_job logs each run's summary
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run_forever(settings: Settings | None = None, stop_event: threading.Event | None = None) -> None:
    """The `freshness scheduler` command: run until SIGTERM or SIGINT, then shut down cleanly."""
    import signal

    stop_event = stop_event or threading.Event()
    previous = {}

    def _stop(signum: int, frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop_event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, _stop)
    scheduler = start(settings)
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        stop(scheduler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
