"""The batched sweep decides exactly what one evaluation per person decides, records it once,
and keeps going past a person whose settings are unusable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from freshness import migrate
from freshness.config import Settings
from freshness.db import dispose_engines, get_engine
from freshness.models import Notification, Person, Reminder, ReminderEvent
from freshness.reminders import evaluate_person
from freshness.sweep import sweep
from tests.synthetic import clock_now, populate

PEOPLE = 600
NOW = clock_now()


def _database(path: Path) -> Settings:
    settings = Settings(home=path)
    migrate.upgrade(settings)
    with Session(get_engine(settings)) as session:
        populate(session, PEOPLE, now=NOW, seed=11)
    return settings


def _recorded(settings: Settings) -> tuple[list, list]:
    with Session(get_engine(settings)) as session:
        reminders = sorted((r.person_id, r.kind, r.headshot_id, r.state, r.since, r.message, repr(sorted(r.details.items())))
                           for r in session.exec(select(Reminder)).all())
        events = sorted((e.reminder_id, e.old_state, e.new_state)
                        for e in session.exec(select(ReminderEvent)).all())
    return reminders, events


def test_the_sweep_records_what_one_evaluation_per_person_records(tmp_path: Path) -> None:
    batched = _database(tmp_path / "batched")
    single = _database(tmp_path / "single")
    seen = []
    report = sweep(batched, NOW, batch=64, progress=lambda done, total: seen.append((done, total)))
    with Session(get_engine(single), expire_on_commit=False) as session:
        changes = sum(len(evaluate_person(session, p, NOW, single, now=NOW))
                      for p in session.exec(select(Person).order_by(Person.id)).all())
    assert report.people == PEOPLE and report.failed == [] and report.transitions == changes
    reminders, events = _recorded(batched)
    assert (reminders, events) == _recorded(single)
    kinds = {kind for _, kind, *_ in reminders}
    assert {"likeness_drifting", "likeness_diverged", "refresh_due", "checkin_missed",
            "disclosure_missing"} <= kinds  # the synthetic data exercises every rule
    assert seen[-1] == (PEOPLE, PEOPLE) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    with Session(get_engine(batched)) as session:  # each opened reminder announced once
        assert len(session.exec(select(Notification)).all()) == sum(1 for _, old, _ in events if old is None)
    # a second sweep as of the same time changes nothing
    assert sweep(batched, NOW, batch=64).transitions == 0
    assert _recorded(batched)[1] == events
    dispose_engines()


def test_a_person_with_unusable_overrides_does_not_stop_the_sweep(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h")
    migrate.upgrade(settings)
    with Session(get_engine(settings)) as session:
        populate(session, 30, now=NOW, seed=3)
        bad = session.get(Person, 5)
        bad.policy_overrides = {"refresh_due_months": 99}
        session.add(bad)
        session.commit()
    report = sweep(settings, NOW, batch=8)
    assert report.people == 30 and len(report.failed) == 1
    assert report.failed[0].startswith("#5: policy overrides of Person 5") and "refresh_due_months" in report.failed[0]
    with Session(get_engine(settings)) as session:
        assert session.exec(select(Reminder).where(Reminder.person_id == 5)).all() == []
        assert session.exec(select(Reminder).where(Reminder.person_id == 6)).all()
    dispose_engines()


@pytest.mark.postgres
def test_the_sweep_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    settings = Settings(home=tmp_path, database_url=postgres_url)
    with get_engine(settings).begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(settings)
    with Session(get_engine(settings)) as session:
        populate(session, 120, now=NOW, seed=5)
    report = sweep(settings, NOW, batch=50)
    assert report.people == 120 and report.transitions > 0 and not report.failed
    assert sweep(settings, NOW, batch=50).transitions == 0
    dispose_engines()
