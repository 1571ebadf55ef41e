"""The evaluation sweep: everyone's reminders as of one time, in batches.

Persons are read by keyset pagination (``id > last``), ``batch`` at a time, each batch in a
fresh session (so memory stays flat however many people there are). For a batch, a few
set-based queries load what the pure rules need and nothing more — check-in times, the
headshots' fields (no embeddings, no quality JSON), the distances, the unresolved
reminders — then each person is evaluated with ``rules.evaluate`` and their changes are
written by the same conditional writes as a single evaluation (``reminders._write``), so
the exactly-once guarantees hold between sweeps, single evaluations and other processes.
One commit per batch; a batch that loses a write race on SQLite is retried (evaluation is
idempotent).
"""

from __future__ import annotations

import logging
import time as _time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from freshness import rules
from freshness.config import Settings
from freshness.db import busy_timeout_ms, get_engine
from freshness.errors import FreshnessError
from freshness.likeness import Sample
from freshness.models import Checkin, Headshot, Measurement, Person, Reminder

log = logging.getLogger("freshness.sweep")

Progress = Callable[[int, int], None]  # (people done, people in all)


@dataclass
class SweepReport:
    people: int = 0
    transitions: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.people / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"evaluated {self.people} people in {self.seconds:.1f} s ({self.rate:.0f}/s): "
                f"{self.transitions} reminder change(s)"
                + (f", {len(self.failed)} failed ({'; '.join(self.failed[:3])})" if self.failed else ""))


class _PolicyCache:
    """The global policy parsed once per sweep; a person's overrides applied only when they have some."""

    def __init__(self, settings: Settings):
        from freshness.reminders import policy_for

        self.settings = settings
        self._policy_for = policy_for
        self._base: rules.Policy | None = None

    def __call__(self, person: Person) -> rules.Policy:
        if person.policy_overrides:
            return self._policy_for(person, self.settings)
        if self._base is None:
            self._base = self._policy_for(person, self.settings)
        return self._base


def load_batch(session: Session, people: list[Person]) -> dict[int, tuple[list, list, dict[int, list[Sample]]]]:
    """Per person id: (check-in rows with .taken_at, headshot rows with the rules' fields, samples by
    headshot id), read in three queries for the whole batch."""
    ids = [p.id for p in people]
    checkins: dict[int, list] = defaultdict(list)
    # no ORDER BY: sorting by time would make the database walk every check-in by its time
    # index for each batch (the rules do not need the rows in order)
    for row in session.exec(
        select(Checkin.id, Checkin.person_id, Checkin.taken_at).where(Checkin.person_id.in_(ids))  # type: ignore[union-attr]
    ).all():
        checkins[row.person_id].append(row)
    heads: dict[int, list] = defaultdict(list)
    for row in session.exec(
        select(Headshot.id, Headshot.person_id, Headshot.platform, Headshot.published_on, Headshot.ai_generated,
               Headshot.disclosed, Headshot.retired_at, Headshot.provenance)
        .where(Headshot.person_id.in_(ids)).order_by(Headshot.id)  # type: ignore[union-attr]
    ).all():
        heads[row.person_id].append(row)
    samples: dict[int, dict[int, list[Sample]]] = defaultdict(lambda: defaultdict(list))
    # each with its check-in's time from this statement: a check-in another process committed after
    # the first query has measurements here but is not in ``checkins`` (it used to be a KeyError)
    for checkin_id, headshot_id, distance, person_id, taken_at in session.exec(
        select(Measurement.checkin_id, Measurement.headshot_id, Measurement.distance, Checkin.person_id,
               Checkin.taken_at)
        .join(Checkin, Measurement.checkin_id == Checkin.id)  # type: ignore[arg-type]
        .where(Checkin.person_id.in_(ids))  # type: ignore[union-attr]
    ).all():
        samples[person_id][headshot_id].append(Sample(taken_at, distance, checkin_id))
    return {pid: (checkins[pid], heads[pid], samples[pid]) for pid in ids}


def _evaluate_batch(session: Session, people: list[Person], as_of: datetime, policies: _PolicyCache,
                    announce, report: SweepReport) -> int:
    from freshness.reminders import UNRESOLVED, Plan, PersonData, _write

    data = load_batch(session, people)
    stored: dict[int, list[Reminder]] = defaultdict(list)
    for r in session.exec(
        select(Reminder).where(Reminder.person_id.in_([p.id for p in people]),  # type: ignore[union-attr]
                               Reminder.state.in_(UNRESOLVED))  # type: ignore[attr-defined]
    ).all():
        stored[r.person_id].append(r)
    changes = 0
    for person in people:
        checkins, heads, samples = data[person.id]  # type: ignore[index]
        try:
            policy = policies(person)
        except FreshnessError as exc:
            report.failed.append(f"#{person.id}: {exc.message}")
            continue
        person_facts, head_facts = PersonData(person, checkins, heads, samples).facts(as_of)  # type: ignore[arg-type]
        desired = {r.key: r for r in rules.evaluate(person_facts, head_facts, policy, as_of)}
        have = {(r.kind, r.headshot_id): r for r in stored[person.id]}  # type: ignore[index]
        to_open, to_resolve = rules.reconcile(frozenset(have), desired.values())
        changes += len(_write(session, Plan(person, as_of, desired, have, frozenset(to_open), frozenset(to_resolve)),
                              announce))
    return changes


def sweep(settings: Settings, as_of: datetime, *, batch: int = 500, announce: bool = True,
          progress: Progress | None = None, retries: int = 20) -> SweepReport:
    """Evaluate everyone as of ``as_of`` (now, for the scheduler), recording each change once and,
    with ``announce``, its notification. One person's unusable settings are reported, not fatal."""
    from sqlalchemy import func

    from freshness.reminders import Announcer

    report = SweepReport()
    started = _time.perf_counter()
    policies = _PolicyCache(settings)
    announcer = Announcer(settings) if announce else None
    engine = get_engine(settings)
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Person)).one()
    last_id = 0
    while True:
        # a lock another process holds for the whole busy timeout is an error, not retried
        give_up = _time.monotonic() + busy_timeout_ms(settings) / 1000
        for attempt in range(retries + 1):
            with Session(engine, expire_on_commit=False) as session:
                people = list(session.exec(
                    select(Person).where(Person.id > last_id).order_by(Person.id).limit(batch)  # type: ignore[operator]
                ).all())
                if not people:
                    break
                failed_before = len(report.failed)
                try:
                    changes = _evaluate_batch(session, people, as_of, policies, announcer, report)
                    session.commit()
                except OperationalError as exc:
                    session.rollback()
                    del report.failed[failed_before:]
                    if "locked" not in str(exc).lower() or attempt == retries or _time.monotonic() >= give_up:
                        raise
                    _time.sleep(min(0.05 * (attempt + 1), 0.5))
                    continue
            report.transitions += changes
            report.people += len(people)
            last_id = people[-1].id  # type: ignore[assignment]
            break
        else:  # pragma: no cover - the last attempt raised
            break
        if not people:
            break
        if progress is not None:
            progress(report.people, max(total, report.people))
        if len(people) < batch:
            break
    report.seconds = _time.perf_counter() - started
    return report
