"""The scheduler in real processes: `freshness serve` (embedded) and `freshness scheduler`, with
intervals of one second, a loopback webhook receiver counting what arrives by ``webhook-id``.

These processes read the real clock, so the data is dated far in the past (joined and
published 2020-01-01): whatever day the tests run, the person's check-in prompt is due and
their headshot is overdue for a refresh. Nothing here sleeps for an interval: the tests poll
for what they wait for, and "nothing more happens" is watched for a few seconds only.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import Session

from freshness.config import Settings
from freshness.db import dispose_engines, get_engine
from freshness.models import Channel
from tests import dbseed
from tests.clitools import run
from tests.conftest import REPO
from tests.receivers import Receiver, receiver_fixture

pytestmark = pytest.mark.usefixtures("allow_loopback")  # the receivers listen on loopback

UTC = timezone.utc
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWZyZXNobmVzcw=="
FAST = {  # every job every second
    "FRESHNESS_SWEEP_INTERVAL_SECONDS": "1",
    "FRESHNESS_PROMPTS_INTERVAL_SECONDS": "1",
    "FRESHNESS_DISPATCH_INTERVAL_SECONDS": "1",
    "FRESHNESS_INBOX_INTERVAL_SECONDS": "1",
    "FRESHNESS_MAINTENANCE_INTERVAL_SECONDS": "1",
    # the people here joined in 2020 and did nothing since: the retention schedule would
    # forget them at the first maintenance run (tests/test_privacy.py tests that)
    "FRESHNESS_RETENTION_INACTIVE_DAYS": "0",
}


receiver = receiver_fixture()


# ---------------------------------------------------------------- data and processes


def due_person(settings: Settings, name: str, hook: str) -> int:
    """Joined 2020-01-01 with a 30-day cadence and no check-in (a prompt is due, and a check-in
    missed), a LinkedIn headshot published that day (overdue for a refresh), one webhook."""
    with Session(get_engine(settings), expire_on_commit=False) as session:
        p = dbseed.person(session, name, every=30, created=LONG_AGO)
        dbseed.headshot(session, p, date(2020, 1, 1), disclosed=True)
        session.add(Channel(person_id=p.id, kind="webhook", target=hook, secret=SECRET, created_at=LONG_AGO))
        session.commit()
        return p.id  # type: ignore[return-value]


def db_rows(home: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(home / "freshness.db", timeout=30)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def deliveries(home: Path) -> list[tuple[str, str, str]]:
    """(idempotency key, status, notification kind) of every delivery."""
    return db_rows(home, "SELECT d.idempotency_key, d.status, n.kind FROM delivery d "
                         "JOIN notification n ON n.id = d.notification_id ORDER BY d.id")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A freshness process whose output is collected by a thread (so it never blocks on a pipe)."""

    def __init__(self, args: list[str], home: Path, **env: str):
        self.log_path = home.parent / f"proc-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "freshness", *args], cwd=REPO,
                                     env={**os.environ, "FRESHNESS_HOME": str(home), **env},
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text()

    def runs(self, job: str) -> int:
        return len(re.findall(rf"freshness\.scheduler: {job}: ", self.output()))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self.log.close()
        return code


def wait_for(condition, what: str, procs: list[Proc] = (), timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for p in procs:
            if p.proc.poll() is not None:
                raise AssertionError(f"a freshness process exited ({p.proc.returncode}) while waiting for "
                                     f"{what}:\n{p.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n" + "\n---\n".join(p.output() for p in procs))
        time.sleep(0.1)


def serve(home: Path, *extra: str, **env: str) -> tuple[Proc, str]:
    port = _free_port()
    proc = Proc(["serve", "--port", str(port), *extra], home, **env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_for(up, "the server to answer /healthz", [proc])
    return proc, base


def all_sent(home: Path, receiver: Receiver, expected_at_least: int):
    def check() -> bool:
        rows = deliveries(home)
        return len(rows) >= expected_at_least and all(s == "sent" for _, s, _ in rows) \
            and set(receiver.ids()) >= {k for k, _, _ in rows}
    return check


@pytest.fixture
def settings(ready: Path) -> Settings:
    return Settings()


# ---------------------------------------------------------------- the tests


def test_serve_runs_the_scheduler_and_prompts_a_due_person_exactly_once(
        settings: Settings, ready: Path, receiver: Receiver) -> None:
    pid = due_person(settings, "Pat", receiver.url())
    dispose_engines()
    proc, _ = serve(ready, **FAST)
    try:
        # the prompt and the reminders opened by the start-up sweep all reach the webhook ...
        wait_for(lambda: len(receiver.of_type("checkin.prompt")) >= 1, "the check-in prompt", [proc])
        wait_for(all_sent(ready, receiver, 2), "every delivery sent", [proc])
        # ... and nothing more arrives while every job keeps running each second
        ticks = proc.runs("prompts")
        wait_for(lambda: proc.runs("prompts") >= ticks + 3, "three more prompt runs", [proc])
    finally:
        code = proc.stop()
    assert code in (0, -signal.SIGTERM), proc.output()  # uvicorn re-raises the signal it handled
    (prompt,) = receiver.of_type("checkin.prompt")
    assert prompt["data"]["person"] == {"id": pid, "name": "Pat"}
    assert prompt["data"]["due_at"] == "2020-01-31T09:00:00+00:00"  # 30 days after joining, at 09:00
    rows = deliveries(ready)
    assert Counter(kind for _, _, kind in rows)["prompt"] == 1
    assert receiver.ids() == Counter({key: 1 for key, _, _ in rows})  # each delivery arrived once
    kinds = {body["data"]["reminder"]["kind"] for body in receiver.of_type("reminder.opened")}
    assert "refresh_overdue" in kinds
    assert db_rows(ready, "SELECT count(*) FROM person WHERE next_prompt_at > '2020-03-01'") == [(1,)]
    out = proc.output()
    assert "scheduler started: sweep: every 1 s, next now" in out and "scheduler stopped" in out
    assert re.search(r"freshness\.scheduler: sweep: evaluated 1 people", out)


def test_no_delivery_is_lost_or_duplicated_when_the_process_is_killed_mid_dispatch(
        settings: Settings, ready: Path) -> None:
    receiver = Receiver(block_first=True)
    try:
        due_person(settings, "Pat", receiver.url())
        dispose_engines()
        env = {**FAST, "FRESHNESS_DELIVERY_LEASE_SECONDS": "2"}
        first, _ = serve(ready, **env)
        try:
            wait_for(receiver.first_arrived.is_set, "the first webhook request", [first])
        finally:
            first.stop(signal.SIGKILL)  # killed while it waits for the receiver's answer
        (held,) = receiver.ids()
        receiver.release.set()
        assert [s for k, s, _ in deliveries(ready) if k == held] == ["sending"]  # sent, never recorded

        second, _ = serve(ready, **env)
        try:
            wait_for(all_sent(ready, receiver, 2), "every delivery sent after the restart", [second])
            ticks = second.runs("dispatch")
            wait_for(lambda: second.runs("dispatch") >= ticks + 3, "three more dispatch runs", [second])
        finally:
            assert second.stop() in (0, -signal.SIGTERM), second.output()
        rows = deliveries(ready)
        # nothing lost: every delivery reached the receiver; nothing duplicated: the one the crash
        # interrupted was sent again with the same webhook-id, every other arrived once
        assert receiver.ids() == Counter({key: 2 if key == held else 1 for key, _, _ in rows})
        assert all(status == "sent" for _, status, _ in rows)
        assert len(receiver.of_type("checkin.prompt")) in (1, 2)
        assert len({body["id"] for body in receiver.of_type("checkin.prompt")}) == 1
    finally:
        receiver.close()


def test_two_schedulers_on_one_database_send_each_prompt_and_delivery_once(
        settings: Settings, ready: Path, receiver: Receiver) -> None:
    people = [due_person(settings, name, receiver.url()) for name in ("Ann", "Bob", "Cyd", "Dee")]
    dispose_engines()
    procs = [Proc(["scheduler"], ready, **FAST), Proc(["scheduler"], ready, **FAST)]
    try:
        wait_for(lambda: len(receiver.of_type("checkin.prompt")) >= len(people), "a prompt for everyone", procs)
        wait_for(all_sent(ready, receiver, 2 * len(people)), "every delivery sent", procs)
        ticks = [p.runs("dispatch") for p in procs]
        wait_for(lambda: all(p.runs("dispatch") >= t + 3 for p, t in zip(procs, ticks)), "more runs", procs)
    finally:
        codes = [p.stop() for p in procs]
    assert codes == [0, 0], [p.output() for p in procs]
    assert sorted(b["data"]["person"]["id"] for b in receiver.of_type("checkin.prompt")) == people
    rows = deliveries(ready)
    assert receiver.ids() == Counter({key: 1 for key, _, _ in rows})
    # the guard, not luck: both schedulers ran the jobs
    assert all(p.runs("prompts") >= 3 and p.runs("dispatch") >= 3 for p in procs)
    reminders = db_rows(ready, "SELECT person_id, kind, count(*) FROM reminder GROUP BY person_id, kind")
    assert reminders and all(n == 1 for _, _, n in reminders)


def test_a_restart_after_downtime_runs_a_missed_job_once(settings: Settings, ready: Path) -> None:
    env = {"FRESHNESS_MAINTENANCE_INTERVAL_SECONDS": "60"}
    first = Proc(["scheduler"], ready, **env)
    try:
        wait_for(lambda: first.runs("sweep") == 1, "the start-up sweep", [first])
    finally:
        assert first.stop() == 0
    assert first.runs("maintenance") == 0  # not due before 60 s

    # ten minutes of downtime, told to the job store: the job was due ten ticks ago
    from freshness.scheduler import build_scheduler

    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    planned = scheduler.get_job("maintenance").next_run_time
    missed = planned - timedelta(minutes=10)
    scheduler.modify_job("maintenance", next_run_time=missed)
    scheduler.shutdown(wait=False)
    dispose_engines()

    second = Proc(["scheduler"], ready, **env)
    try:
        wait_for(lambda: second.runs("maintenance") >= 1, "the missed maintenance run", [second], timeout=30)
        time.sleep(2)  # anything else it would run late is due now: give it the chance
    finally:
        assert second.stop() == 0
    assert second.runs("maintenance") == 1, second.output()
    assert second.runs("sweep") == 1  # at start-up
    (stored,) = db_rows(ready, "SELECT next_run_time FROM apscheduler_jobs WHERE id = 'maintenance'")
    # the next run is the next tick of the old schedule, not a tick per missed minute
    assert stored[0] == pytest.approx(planned.timestamp(), abs=1)
    assert "missed by" not in second.output()


def test_serve_without_the_scheduler_schedules_nothing(settings: Settings, ready: Path, receiver: Receiver) -> None:
    due_person(settings, "Pat", receiver.url())
    dispose_engines()
    proc, base = serve(ready, "--no-scheduler", **FAST)
    try:
        time.sleep(2)  # two ticks of every job, had they been scheduled
    finally:
        assert proc.stop() in (0, -signal.SIGTERM)
    assert "scheduler" not in proc.output()
    assert receiver.ids() == Counter() and deliveries(ready) == []
    assert db_rows(ready, "SELECT count(*) FROM sqlite_master WHERE name = 'apscheduler_jobs'") == [(0,)]


def test_run_runs_one_job_now_and_prints_its_summary(settings: Settings, ready: Path) -> None:
    due_person(settings, "Pat", "http://127.0.0.1:9/hook")
    assert run("run", "prompts").stdout.startswith("prompts: 1 check-in prompt(s) sent, 1 person(s) scheduled")
    assert run("run", "prompts").stdout.startswith("prompts: 0 check-in prompt(s) sent")
    assert run("run", "sweep").stdout.startswith("sweep: evaluated 1 people in ")
    assert run("run", "maintenance").stdout.startswith("maintenance: 0 orphaned file(s) and 0 temporary file(s)")
    assert "unknown job 'nope': jobs are sweep, prompts, dispatch, inbox, maintenance" in run("run", "nope", code=2).stderr


def test_run_refuses_an_uninitialised_database(home: Path) -> None:
    assert "freshness init" in run("run", "sweep", code=2).stderr


def test_interval_settings_are_validated(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freshness.config import reset_settings_cache

    monkeypatch.setenv("FRESHNESS_DISPATCH_INTERVAL_SECONDS", "-1")
    reset_settings_cache()
    assert "FRESHNESS_DISPATCH_INTERVAL_SECONDS=-1" in run("run", "dispatch", code=2).stderr
