"""The reminder engine on a real SQLite file (and PostgreSQL): transitions recorded exactly once."""

from __future__ import annotations

import multiprocessing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from freshness import migrate, reminders
from freshness.config import Settings, reset_settings_cache
from freshness.db import dispose_engines, get_engine
from freshness.errors import UsageError
from freshness.models import Person, Reminder, ReminderEvent
from freshness.reminders import acknowledge, evaluate_person, snooze, unresolved
from tests import dbseed

UTC = timezone.utc


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


@pytest.fixture
def session(home: Path):
    settings = Settings()
    migrate.upgrade(settings)
    with Session(get_engine(settings), expire_on_commit=False) as s:
        yield s


def events(session: Session) -> list[tuple[int, str | None, str]]:
    return [(e.reminder_id, e.old_state, e.new_state)
            for e in session.exec(select(ReminderEvent).order_by(ReminderEvent.id)).all()]


def kinds(session: Session, person: Person) -> dict[tuple[str, int | None], str]:
    return {(r.kind, r.headshot_id): r.state for r in unresolved(session, person)}


def test_it_opens_and_resolves_and_is_idempotent(session: Session) -> None:
    p = dbseed.person(session, sector="legal")
    h = dbseed.headshot(session, p, date(2024, 1, 1))
    for i, d in enumerate([0.40, 0.41, 0.39]):
        dbseed.checkin(session, p, at(2024, 2 + i, 1), {h.id: d})
    t = evaluate_person(session, p, at(2024, 4, 2))
    assert [(x.kind, x.old_state, x.new_state) for x in t] == [("disclosure_missing", None, "open")]
    assert evaluate_person(session, p, at(2024, 4, 2)) == []  # twice: nothing changes
    assert len(events(session)) == 1
    # two bad selfies (k=2 of n=3) open likeness_diverged; one does not
    dbseed.checkin(session, p, at(2024, 5, 1), {h.id: 0.75})
    assert evaluate_person(session, p, at(2024, 5, 2)) == []
    dbseed.checkin(session, p, at(2024, 6, 1), {h.id: 0.78})
    (opened,) = evaluate_person(session, p, at(2024, 6, 2))
    assert (opened.kind, opened.new_state) == ("likeness_diverged", "open")
    r = session.get(Reminder, opened.reminder_id)
    assert r.opened_at == at(2024, 6, 2) and r.details["baseline"] == pytest.approx(0.40)
    assert "0.78" in r.message or "0.75" in r.message
    # good selfies return: it resolves once fewer than 2 of the last 3 are above threshold - 0.03
    dbseed.checkin(session, p, at(2024, 7, 1), {h.id: 0.40})
    assert evaluate_person(session, p, at(2024, 7, 2)) == []
    dbseed.checkin(session, p, at(2024, 8, 1), {h.id: 0.41})
    (resolved,) = evaluate_person(session, p, at(2024, 8, 2))
    assert (resolved.reminder_id, resolved.new_state) == (opened.reminder_id, "resolved")
    session.refresh(r)
    assert r.state == "resolved" and r.active_key is None and r.resolved_at == at(2024, 8, 2)
    # it comes back later: a new reminder, the old one stays resolved
    dbseed.checkin(session, p, at(2024, 9, 1), {h.id: 0.80})
    dbseed.checkin(session, p, at(2024, 9, 15), {h.id: 0.82})
    (again,) = evaluate_person(session, p, at(2024, 9, 16))
    assert again.kind == "likeness_diverged" and again.reminder_id != opened.reminder_id
    assert [e[2] for e in events(session) if e[0] == opened.reminder_id] == ["open", "resolved"]


def test_it_keeps_acknowledged_reminders_until_they_clear(session: Session) -> None:
    p = dbseed.person(session, sector="finance", every=365)
    h = dbseed.headshot(session, p, date(2024, 1, 1))
    (t,) = evaluate_person(session, p, at(2024, 1, 2))
    r, changed = acknowledge(session, t.reminder_id, at(2024, 1, 3))
    assert changed and r.state == "acknowledged"
    assert acknowledge(session, t.reminder_id, at(2024, 1, 4))[1] is False  # again: no change, no event
    assert evaluate_person(session, p, at(2024, 2, 1)) == []
    assert kinds(session, p)[("disclosure_missing", h.id)] == "acknowledged"
    h.disclosed = True
    session.add(h)
    session.commit()
    (cleared,) = evaluate_person(session, p, at(2024, 2, 2))
    assert (cleared.old_state, cleared.new_state) == ("acknowledged", "resolved")
    assert [e[1:] for e in events(session)] == [(None, "open"), ("open", "acknowledged"), ("acknowledged", "resolved")]
    with pytest.raises(UsageError, match="already resolved"):
        acknowledge(session, t.reminder_id, at(2024, 2, 3))


def test_it_reopens_a_snoozed_reminder_when_the_snooze_ends(session: Session) -> None:
    p = dbseed.person(session, sector="healthcare", every=365)
    dbseed.headshot(session, p, date(2024, 1, 1))
    (t,) = evaluate_person(session, p, at(2024, 1, 2))
    with pytest.raises(UsageError, match="after the reminder opened"):
        snooze(session, t.reminder_id, at(2023, 12, 1), at(2024, 1, 3))
    r = snooze(session, t.reminder_id, at(2024, 3, 1), at(2024, 1, 3))
    assert r.state == "snoozed" and r.snoozed_until == at(2024, 3, 1)
    assert evaluate_person(session, p, at(2024, 2, 28)) == []
    (back,) = evaluate_person(session, p, at(2024, 3, 1))
    assert (back.old_state, back.new_state) == ("snoozed", "open")
    session.refresh(r)
    assert r.state == "open" and r.snoozed_until is None
    assert evaluate_person(session, p, at(2024, 3, 2)) == []


def test_it_raises_nothing_for_retired_headshots_and_restarts_a_replacement(session: Session) -> None:
    p = dbseed.person(session)
    old = dbseed.headshot(session, p, date(2022, 1, 1))
    for m in range(1, 4):
        dbseed.checkin(session, p, at(2024, m, 1), {old.id: 0.42})
    before = kinds(session, p)
    evaluate_person(session, p, at(2024, 3, 2))
    assert ("refresh_overdue", old.id) in kinds(session, p) and not before
    old.retired_at = at(2024, 3, 10)
    session.add(old)
    session.commit()
    new = dbseed.headshot(session, p, date(2024, 3, 10))
    t = evaluate_person(session, p, at(2024, 3, 11))
    assert [(x.kind, x.headshot_id, x.new_state) for x in t] == [("refresh_overdue", old.id, "resolved")]
    assert kinds(session, p) == {}
    # the replacement's clock starts at its own publication: refresh_due a year later
    dbseed.checkin(session, p, at(2025, 3, 1), {new.id: 0.40})
    evaluate_person(session, p, at(2025, 3, 10))
    assert ("refresh_due", new.id) in kinds(session, p)
    assert all(hid == new.id for _, hid in kinds(session, p))


def test_it_opens_checkin_missed_after_cadence_and_grace(session: Session) -> None:
    p = dbseed.person(session, every=30)  # grace max(3, 15) = 15 days
    dbseed.checkin(session, p, at(2024, 1, 1), {})
    assert evaluate_person(session, p, at(2024, 2, 14)) == []
    (t,) = evaluate_person(session, p, datetime(2024, 2, 15, 12, tzinfo=UTC))
    assert t.kind == "checkin_missed" and t.headshot_id is None
    dbseed.checkin(session, p, at(2024, 2, 20), {})
    (done,) = evaluate_person(session, p, at(2024, 2, 21))
    assert (done.kind, done.new_state) == ("checkin_missed", "resolved")


def test_it_depends_only_on_data_and_as_of_not_on_evaluation_order(session: Session) -> None:
    p = dbseed.person(session, sector="government")
    h = dbseed.headshot(session, p, date(2024, 1, 1))
    series = [0.40, 0.42, 0.38, 0.70, 0.72, 0.41, 0.40, 0.39, 0.74, 0.41]
    for i, d in enumerate(series):
        dbseed.checkin(session, p, at(2024, 1 + i, 5), {h.id: d})
    target = at(2024, 10, 6)
    evaluate_person(session, p, target)
    direct = kinds(session, p)
    for when in [at(2026, 1, 1), at(2024, 5, 6), at(2025, 2, 1), at(2024, 6, 6), target, at(2024, 2, 1), target]:
        evaluate_person(session, p, when)
    assert kinds(session, p) == direct


def _seed_flapping(settings: Settings) -> tuple[int, list[datetime]]:
    """A person whose likeness flips often: alternating good and bad phases, with gaps."""
    migrate.upgrade(settings)
    with Session(get_engine(settings), expire_on_commit=False) as s:
        p = dbseed.person(s, sector="finance", every=14)
        h1 = dbseed.headshot(s, p, date(2023, 6, 1))
        h2 = dbseed.headshot(s, p, date(2024, 2, 1), ai=False, platform="resume")
        start = at(2024, 1, 1)
        for i in range(40):
            d = 0.78 if (i // 5) % 2 else 0.40
            if i % 7 != 6:
                dbseed.checkin(s, p, start + timedelta(days=14 * i), {h1.id: d, h2.id: d - 0.05})
        return p.id, [start + timedelta(days=7 * k) for k in range(0, 90)]


def _evaluator(home: str, person_id: int, times: list[datetime], barrier) -> int:
    import os

    os.environ["FRESHNESS_HOME"] = home
    from freshness.config import Settings as S
    from freshness.db import get_engine as ge
    from freshness.models import Person as P
    from freshness.reminders import evaluate_person as ev

    settings = S()
    count = 0
    with Session(ge(settings), expire_on_commit=False) as s:
        p = s.get(P, person_id)
        for when in times:
            barrier.wait(timeout=60)  # both race on the same as-of time, step by step (a dead peer fails, not hangs)
            count += len(ev(s, p, when, settings))
    return count


def test_two_processes_record_each_event_once(home: Path, tmp_path: Path) -> None:
    _two_processes_record_each_event_once(home, tmp_path)


@pytest.mark.postgres
def test_two_processes_record_each_event_once_on_postgresql(home: Path, tmp_path: Path, postgres_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The same two evaluator processes on PostgreSQL (READ COMMITTED: each statement sees what is
    committed when it runs; the conditional writes and the unique active_key must do the rest)."""
    from tests.pgtools import fresh_database

    with fresh_database(postgres_url, "reminders") as url:
        monkeypatch.setenv("FRESHNESS_DATABASE_URL", url)  # the spawned evaluators inherit it
        reset_settings_cache()
        dispose_engines()
        _two_processes_record_each_event_once(home, tmp_path, serial=Settings(home=tmp_path / "alone", database_url=None))
        dispose_engines()


def _two_processes_record_each_event_once(home: Path, tmp_path: Path, serial: Settings | None = None) -> None:
    settings = Settings()
    pid, times = _seed_flapping(settings)

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    with ctx.Pool(2) as pool:
        counts = pool.starmap(_evaluator, [(str(home), pid, times, barrier)] * 2)

    with Session(get_engine(settings), expire_on_commit=False) as s:
        evs = events(s)
        reminders = s.exec(select(Reminder)).all()
    assert len(evs) > 20  # the scenario really flips a lot
    assert sum(counts) == len(evs)  # each recorded transition was reported by exactly one process
    assert len(set(evs)) == len(evs)  # no flip recorded twice
    per_reminder: dict[int, list] = {}
    for rid, old, new in evs:
        per_reminder.setdefault(rid, []).append((old, new))
    assert all(flips[0] == (None, "open") for flips in per_reminder.values())
    assert len(per_reminder) == len(reminders)

    # the same evaluations by one process alone (on SQLite) tell the same story
    alone = serial or Settings(home=tmp_path / "alone")
    pid_alone, _ = _seed_flapping(alone)
    with Session(get_engine(alone), expire_on_commit=False) as s:
        p = s.get(Person, pid_alone)
        for when in times:
            evaluate_person(s, p, when, alone)
        reference = s.exec(select(Reminder).order_by(Reminder.id)).all()
        assert len(events(s)) == len(evs)
        assert sorted((r.kind, r.headshot_id, r.state, r.opened_at) for r in reference) == \
            sorted((r.kind, r.headshot_id, r.state, r.opened_at) for r in reminders)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh, migrated database: a SQLite file in ``home``, or the test PostgreSQL server."""
    if request.param == "postgresql":
        monkeypatch.setenv("FRESHNESS_DATABASE_URL", request.getfixturevalue("postgres_url"))
        reset_settings_cache()
        with get_engine(Settings()).begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        dispose_engines()
    settings = Settings()
    migrate.upgrade(settings)
    return settings


def test_it_records_each_flip_once_when_another_evaluator_commits_between_read_and_write(
    database: Settings,
) -> None:
    """Deterministic interleaving: A reads the stored reminders and plans, B runs a whole evaluation
    as of the same time and commits, then A writes its (now stale) plan. A's conditional writes must
    change nothing: every transition is recorded exactly once, by B."""
    engine = get_engine(database)
    t1, t2 = at(2024, 1, 2), at(2024, 2, 16)
    with Session(engine, expire_on_commit=False) as s:
        p = dbseed.person(s, sector="finance", every=30)
        h = dbseed.headshot(s, p, date(2023, 1, 1))  # AI, undisclosed, refresh due since 2024-01-01
        opened = {t.kind: t.reminder_id for t in evaluate_person(s, p, t1, database)}
        assert set(opened) == {"disclosure_missing", "refresh_due"}
        snooze(s, opened["refresh_due"], at(2024, 2, 1), t1)
        h.disclosed = True  # disclosure_missing clears
        s.add(h)
        s.commit()
        pid, before = p.id, len(events(s))
    # as of t2: disclosure_missing resolves (open → resolved), refresh_due's snooze has ended
    # (snoozed → open), checkin_missed opens (none since created + 30 + 15 days)
    expected = {("disclosure_missing", "open", "resolved"), ("refresh_due", "snoozed", "open"),
                ("checkin_missed", None, "open")}

    with Session(engine, expire_on_commit=False) as a, Session(engine, expire_on_commit=False) as b:
        pa = a.get(Person, pid)
        plan = reminders._read(a, pa, t2, reminders.policy_for(pa, database))  # A has read ...
        assert {k[0] for k in plan.to_resolve} == {"disclosure_missing"}
        assert {k[0] for k in plan.to_open} == {"checkin_missed"}
        assert plan.have[("refresh_due", h.id)].state == "snoozed"

        by_b = evaluate_person(b, b.get(Person, pid), t2, database)  # ... B evaluates and commits ...
        assert {(t.kind, t.old_state, t.new_state) for t in by_b} == expected

        refused = None
        try:
            by_a = reminders._write(a, plan)  # ... then A writes what it planned
            a.commit()
        except IntegrityError as exc:  # what the unique active_key does when the insert is not guarded
            a.rollback()
            by_a, refused = None, exc

    with Session(engine) as s:
        recorded = [(r.kind, e.old_state, e.new_state)
                    for e, r in reminders.events_of(s, s.get(Person, pid))][before:]
        state = {r.kind: r.state for r in s.exec(select(Reminder).where(Reminder.person_id == pid)).all()}
    assert sorted(recorded, key=str) == sorted(expected, key=str)  # exactly one event per transition
    assert state == {"disclosure_missing": "resolved", "refresh_due": "open", "checkin_missed": "open"}
    assert refused is None, f"A's insert of an already opened reminder failed instead of doing nothing: {refused}"
    assert by_a == []  # A recorded nothing: B did it all
