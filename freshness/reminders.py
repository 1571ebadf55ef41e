"""Service: evaluate reminders and record their state changes exactly once.

``evaluate_person`` computes, with the pure rules, which reminders *should* be
open as of a time, and diffs that with the stored unresolved reminders:

* a new key is inserted with ``INSERT … ON CONFLICT (active_key) DO NOTHING``:
  ``active_key`` is unique while a reminder is unresolved, so of two evaluators
  racing, exactly one inserts (and writes the "opened" event);
* every other change is a conditional ``UPDATE … WHERE id = ? AND state = ?``,
  and its ReminderEvent is written only when that UPDATE changed exactly one
  row — a second evaluator doing the same work changes nothing and writes no
  event.

Evaluating twice as of the same time changes nothing. The open set after an
evaluation depends only on the data and the as-of time (the rules replay the
series; they never look at what is stored as open).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from freshness import rules, words
from freshness.checkins import checkins_of, list_headshots
from freshness.config import Settings, get_settings
from freshness.errors import NotFound, UsageError
from freshness.likeness import Sample
from freshness.models import Checkin, Headshot, Measurement, Person, Reminder, ReminderEvent

OPEN, ACKNOWLEDGED, SNOOZED, RESOLVED = "open", "acknowledged", "snoozed", "resolved"
UNRESOLVED = (OPEN, ACKNOWLEDGED, SNOOZED)


@dataclass(frozen=True)
class Transition:
    reminder_id: int
    kind: str
    headshot_id: int | None
    old_state: str | None
    new_state: str
    reason: str


def active_key(person_id: int, headshot_id: int | None, kind: str) -> str:
    return f"{person_id}:{headshot_id or 0}:{kind}"


def policy_for(person: Person, settings: Settings | None = None) -> rules.Policy:
    """Defaults ← global FRESHNESS_POLICY ← the person's own overrides."""
    settings = settings or get_settings()
    try:
        base = rules.Policy().with_overrides(settings.policy)
    except ValueError as exc:
        raise UsageError(f"FRESHNESS_POLICY: {exc}") from None
    try:
        return base.with_overrides(person.policy_overrides or {})
    except ValueError as exc:
        raise UsageError(f"policy overrides of {person.name}: {exc}") from None


@dataclass
class PersonData:
    """A person's facts for the pure rules, loaded once."""

    person: Person
    checkins: list[Checkin]
    headshots: list[Headshot]
    samples: dict[int, list[Sample]]

    def facts(self, as_of: datetime) -> tuple[rules.PersonFacts, list[rules.HeadshotFacts]]:
        taken = [c.taken_at for c in self.checkins if c.taken_at <= as_of]
        p = self.person
        person = rules.PersonFacts(
            person_id=p.id,  # type: ignore[arg-type]
            sector=p.sector,
            timezone=p.timezone,
            checkin_every_days=p.checkin_every_days,
            created_at=min([p.created_at, *taken]) if taken else p.created_at,
            last_checkin_at=max(taken) if taken else None,
        )
        heads = [
            rules.HeadshotFacts(
                headshot_id=h.id,  # type: ignore[arg-type]
                platform=h.platform,
                published_on=h.published_on,
                ai_generated=h.ai_generated,
                disclosed=h.disclosed,
                retired_at=h.retired_at,
                samples=tuple(self.samples.get(h.id, ())),  # type: ignore[arg-type]
                # what the file says (freshness.provenance) and whether it is published with its label
                label_intact=(h.provenance or {}).get("label_intact") is True,
                label_source=(h.provenance or {}).get("source"),
                published_with_label=(h.provenance or {}).get("published_with_label") is True,
            )
            for h in self.headshots
        ]
        return person, heads


def load_person_data(session: Session, person: Person) -> PersonData:
    checkins = checkins_of(session, person)
    samples: dict[int, list[Sample]] = {}
    # each measurement with its check-in's time, in one statement: outside a write transaction every
    # statement sees what is committed when it runs, so a check-in committed after the query above
    # (by another process) may have measurements here but no row there (it used to be a KeyError)
    for m, taken_at in session.exec(
        select(Measurement, Checkin.taken_at).join(Checkin, Measurement.checkin_id == Checkin.id)  # type: ignore[arg-type]
        .where(Checkin.person_id == person.id)
    ).all():
        samples.setdefault(m.headshot_id, []).append(Sample(taken_at, m.distance, m.checkin_id))
    return PersonData(person=person, checkins=checkins, headshots=list_headshots(session, person), samples=samples)


def _insert_if_absent(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a reminder unless one with the same active_key exists; return its id or None."""
    dialect = session.get_bind().dialect.name
    table = Reminder.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect}")
    stmt = stmt.values(**values).on_conflict_do_nothing(index_elements=["active_key"]).returning(table.c.id)
    return session.execute(stmt).scalar_one_or_none()


def _flip(session: Session, reminder_id: int, old: str, new: str, values: dict[str, Any]) -> bool:
    """Conditional UPDATE: change the state only if it is still ``old``. True when one row changed."""
    result = session.execute(
        update(Reminder).where(Reminder.id == reminder_id, Reminder.state == old).values(state=new, **values)  # type: ignore[arg-type]
    )
    return result.rowcount == 1


def _event(session: Session, reminder_id: int, old: str | None, new: str, reason: str, at: datetime) -> ReminderEvent:
    event = ReminderEvent(reminder_id=reminder_id, old_state=old, new_state=new, reason=reason, created_at=at)
    session.add(event)
    return event


@dataclass(frozen=True)
class Announcer:
    """Writes the notification of a reminder change into the outbox, in the same transaction
    as its event (README, "Notifications"): when a reminder opens or re-opens after a snooze,
    and when it resolves if the person asked for that. None of it for a look back."""

    settings: Settings

    def __call__(self, session: Session, person: Person, event: ReminderEvent, change: str,
                 reminder_id: int, kind: str, headshot_id: int | None, since: datetime,
                 message: str, details: dict[str, Any], at: datetime) -> None:
        from freshness.links import person_page
        from freshness.notify import outbox

        if change == "resolved" and not person.notify_resolved:
            return
        headshot = session.get(Headshot, headshot_id) if headshot_id is not None else None
        published = headshot.published_on.isoformat() if headshot is not None else None
        link = person_page(self.settings)
        subject, text = words.reminder_notification(
            kind, change, message, platform=headshot.platform if headshot else None, published_on=published, link=link)
        session.flush()  # the event's id
        payload = {
            "type": f"reminder.{change}",
            "person": {"id": person.id, "name": person.name},
            "reminder": {
                "id": reminder_id, "kind": kind, "title": words.reminder_title(kind),
                "state": RESOLVED if change == "resolved" else OPEN, "since": since.isoformat(),
                "headshot": None if headshot is None else {
                    "id": headshot.id, "platform": headshot.platform, "published_on": published},
                "message": message, "details": details,
            },
            "link": link,
            "at": at.isoformat(),
        }
        outbox.enqueue(session, person.id, "reminder", subject, text, payload, at, event_id=event.id)  # type: ignore[arg-type]


@dataclass
class Plan:
    """What one evaluation read: the reminders that should be open as of ``as_of`` and the
    unresolved ones stored (with the state each had when read). ``_write`` applies it."""

    person: Person
    as_of: datetime
    desired: dict[tuple[str, int | None], rules.DesiredReminder]
    have: dict[tuple[str, int | None], Reminder]
    to_open: frozenset[tuple[str, int | None]]
    to_resolve: frozenset[tuple[str, int | None]]


def _read(session: Session, person: Person, as_of: datetime, policy: rules.Policy) -> Plan:
    """The read half of an evaluation: what should be open, what is stored, the diff. Writes nothing."""
    data = load_person_data(session, person)
    person_facts, head_facts = data.facts(as_of)
    desired = {r.key: r for r in rules.evaluate(person_facts, head_facts, policy, as_of)}
    stored = session.exec(
        select(Reminder).where(Reminder.person_id == person.id, Reminder.state.in_(UNRESOLVED))  # type: ignore[attr-defined]
    ).all()
    have = {(r.kind, r.headshot_id): r for r in stored}
    to_open, to_resolve = rules.reconcile(frozenset(have), desired.values())
    return Plan(person, as_of, desired, have, frozenset(to_open), frozenset(to_resolve))


def _write(session: Session, plan: Plan, announce: Announcer | None = None) -> list[Transition]:
    """The write half: apply a plan with conditional writes, so that what another evaluator
    recorded since the plan was read is neither undone nor recorded twice. With
    ``announce``, each change that notifies writes its notification with its event."""
    person, as_of, desired, have = plan.person, plan.as_of, plan.desired, plan.have
    out: list[Transition] = []

    for key in sorted(plan.to_resolve, key=lambda k: (k[1] or 0, k[0])):
        r = have[key]
        was = r.state  # read before the UPDATE: the session synchronises r.state with it
        if _flip(session, r.id, was, RESOLVED, {"active_key": None, "resolved_at": as_of, "updated_at": as_of}):  # type: ignore[arg-type]
            reason = "condition cleared"
            event = _event(session, r.id, was, RESOLVED, reason, as_of)  # type: ignore[arg-type]
            if announce is not None:
                announce(session, person, event, "resolved", r.id, r.kind, r.headshot_id, r.since,  # type: ignore[arg-type]
                         r.message, r.details, as_of)
            out.append(Transition(r.id, r.kind, r.headshot_id, was, RESOLVED, reason))  # type: ignore[arg-type]

    for key in sorted(plan.to_open, key=lambda k: (k[1] or 0, k[0])):
        d = desired[key]
        details = {**d.details, "since": d.since.isoformat()}
        rid = _insert_if_absent(
            session,
            {
                "person_id": person.id,
                "headshot_id": d.headshot_id,
                "kind": d.kind,
                "state": OPEN,
                "active_key": active_key(person.id, d.headshot_id, d.kind),  # type: ignore[arg-type]
                "opened_at": as_of,
                "since": d.since,
                "updated_at": as_of,
                "message": d.message,
                "details": details,
            },
        )
        if rid is not None:
            event = _event(session, rid, None, OPEN, d.message, as_of)
            if announce is not None:
                announce(session, person, event, "opened", rid, d.kind, d.headshot_id, d.since, d.message,
                         details, as_of)
            out.append(Transition(rid, d.kind, d.headshot_id, None, OPEN, d.message))

    for key, r in have.items():
        d = desired.get(key)  # type: ignore[assignment]
        if d is None:
            continue
        details = {**d.details, "since": d.since.isoformat()}
        if r.state == SNOOZED and r.snoozed_until is not None and r.snoozed_until <= as_of:
            values = {"snoozed_until": None, "updated_at": as_of, "message": d.message, "details": details,
                      "since": d.since}
            if _flip(session, r.id, SNOOZED, OPEN, values):  # type: ignore[arg-type]
                reason = "snooze ended; the condition still holds"
                event = _event(session, r.id, SNOOZED, OPEN, reason, as_of)  # type: ignore[arg-type]
                if announce is not None:
                    announce(session, person, event, "reopened", r.id, r.kind, r.headshot_id, d.since,  # type: ignore[arg-type]
                             d.message, details, as_of)
                out.append(Transition(r.id, r.kind, r.headshot_id, SNOOZED, OPEN, reason))  # type: ignore[arg-type]
        elif r.message != d.message or r.details != details or r.since != d.since:
            # same state, fresher numbers (e.g. a new projected date): no event
            session.execute(
                update(Reminder)
                .where(Reminder.id == r.id, Reminder.state == r.state)  # type: ignore[arg-type]
                .values(message=d.message, details=details, since=d.since, updated_at=as_of)
            )
    return out


def _evaluate_once(
    session: Session, person: Person, as_of: datetime, policy: rules.Policy, announce: Announcer | None = None
) -> list[Transition]:
    return _write(session, _read(session, person, as_of, policy), announce)


def evaluate_person(
    session: Session,
    person: Person,
    as_of: datetime,
    settings: Settings | None = None,
    retries: int = 20,
    *,
    now: datetime | None = None,
) -> list[Transition]:
    """Evaluate one person as of ``as_of`` in one transaction; return the transitions recorded.

    The record follows the real clock: with ``now`` given, an ``as_of`` later than
    ``now`` is refused (use ``preview_person`` to look ahead without recording), and
    the changes of an evaluation at most ``notify_max_age_hours`` old are announced
    (notifications written into the outbox with their events).
    A transaction that loses a write race on SQLite ("database is locked") is retried:
    evaluation is idempotent. Retries stop once the busy timeout has passed since the
    first attempt: a lock another process holds that long is an error, not waited out
    once per retry (20 retries used to wait 20 busy timeouts).
    """
    if now is not None and as_of > now:
        raise UsageError(
            f"cannot record an evaluation as of {as_of.isoformat()}, later than now ({now.isoformat()}): "
            "a look ahead is a preview and records nothing"
        )
    policy = policy_for(person, settings)
    announce = None
    if now is not None:  # a real evaluation (not a replay in a test): changes are news if recent
        settings = settings or get_settings()
        if as_of >= now - timedelta(hours=settings.notify_max_age_hours):
            announce = Announcer(settings)
    from freshness.db import busy_timeout_ms

    give_up = _time.monotonic() + busy_timeout_ms(settings) / 1000
    for attempt in range(retries + 1):
        try:
            out = _evaluate_once(session, person, as_of, policy, announce)
            session.commit()
            session.expire_all()  # rows were changed with Core UPDATEs: reload on next access
            return out
        except OperationalError as exc:
            session.rollback()
            if "locked" not in str(exc).lower() or attempt == retries or _time.monotonic() >= give_up:
                raise
            _time.sleep(min(0.05 * (attempt + 1), 0.5))
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Preview:
    """A reminder that the rules say would be open as of a (future) time, with the
    stored reminder of the same key if one is unresolved now."""

    desired: rules.DesiredReminder
    stored: Reminder | None


def preview_person(session: Session, person: Person, as_of: datetime) -> list[Preview]:
    """The reminders that would be open as of ``as_of``; reads only, records nothing."""
    data = load_person_data(session, person)
    person_facts, head_facts = data.facts(as_of)
    desired = rules.evaluate(person_facts, head_facts, policy_for(person), as_of)
    stored = {(r.kind, r.headshot_id): r for r in unresolved(session, person)}
    return [Preview(d, stored.get(d.key)) for d in desired]


def unresolved(session: Session, person: Person | None = None) -> list[Reminder]:
    query = select(Reminder).where(Reminder.state.in_(UNRESOLVED))  # type: ignore[attr-defined]
    if person is not None:
        query = query.where(Reminder.person_id == person.id)
    return list(session.exec(query.order_by(Reminder.person_id, Reminder.opened_at, Reminder.id)).all())


def _get(session: Session, reminder_id: int) -> Reminder:
    r = session.get(Reminder, reminder_id)
    if r is None:
        raise NotFound(f"no reminder with id {reminder_id}")
    return r


def acknowledge(session: Session, reminder_id: int, now: datetime) -> tuple[Reminder, bool]:
    """Acknowledge: it stays until its condition clears but is not notified again.
    Returns (reminder, changed); acknowledging twice changes nothing."""
    r = _get(session, reminder_id)
    if r.state == RESOLVED:
        raise UsageError(f"reminder #{reminder_id} is already resolved")
    if r.state == ACKNOWLEDGED:
        return r, False
    old = r.state
    if not _flip(session, r.id, old, ACKNOWLEDGED, {"acknowledged_at": now, "snoozed_until": None, "updated_at": now}):  # type: ignore[arg-type]
        session.rollback()
        raise UsageError(f"reminder #{reminder_id} changed meanwhile; try again")
    _event(session, r.id, old, ACKNOWLEDGED, "acknowledged", now)  # type: ignore[arg-type]
    session.commit()
    session.refresh(r)
    return r, True


def snooze(session: Session, reminder_id: int, until: datetime, now: datetime) -> Reminder:
    """Snooze until ``until``: the next evaluation at or after it re-opens the reminder
    if its condition still holds."""
    r = _get(session, reminder_id)
    if r.state == RESOLVED:
        raise UsageError(f"reminder #{reminder_id} is already resolved")
    if until <= r.opened_at:
        raise UsageError(
            f"--until must be after the reminder opened ({r.opened_at.date().isoformat()})"
        )
    old = r.state
    if not _flip(session, r.id, old, SNOOZED, {"snoozed_until": until, "updated_at": now}):  # type: ignore[arg-type]
        session.rollback()
        raise UsageError(f"reminder #{reminder_id} changed meanwhile; try again")
    _event(session, r.id, old, SNOOZED, f"snoozed until {until.date().isoformat()}", now)  # type: ignore[arg-type]
    session.commit()
    session.refresh(r)
    return r


def preview_dict(p: Preview, person: Person, as_of: datetime) -> dict[str, Any]:
    """A previewed reminder in the shape of ``reminder_dict`` (``preview`` true; ``id`` and
    ``opened_at`` are those of the stored reminder with the same key, if one is unresolved now)."""
    d, r = p.desired, p.stored
    out = reminder_dict(r, person) if r is not None else {
        "id": None, "person": {"id": person.id, "name": person.name}, "headshot": d.headshot_id,
        "kind": d.kind, "title": words.reminder_title(d.kind), "state": OPEN, "since": None,
        "opened_at": None, "acknowledged_at": None, "snoozed_until": None, "resolved_at": None,
    }
    if out["state"] == SNOOZED and r is not None and r.snoozed_until is not None and r.snoozed_until <= as_of:
        out["state"] = OPEN
    return {**out, "since": d.since.isoformat(), "message": d.message, "details": d.details,
            "preview": True, "as_of": as_of.isoformat()}


def reminder_dict(r: Reminder, person: Person | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "person": {"id": r.person_id, "name": person.name} if person is not None else {"id": r.person_id},
        "headshot": r.headshot_id,
        "kind": r.kind,
        "title": words.reminder_title(r.kind),
        "state": r.state,
        "since": r.since.isoformat(),
        "opened_at": r.opened_at.isoformat(),
        "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
        "snoozed_until": r.snoozed_until.isoformat() if r.snoozed_until else None,
        "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
        "message": r.message,
        "details": r.details,
    }


def events_of(session: Session, person: Person) -> list[tuple[ReminderEvent, Reminder]]:
    rows = session.exec(
        select(ReminderEvent, Reminder)
        .join(Reminder, ReminderEvent.reminder_id == Reminder.id)  # type: ignore[arg-type]
        .where(Reminder.person_id == person.id)
        .order_by(ReminderEvent.created_at, ReminderEvent.id)
    ).all()
    return list(rows)  # type: ignore[arg-type]
