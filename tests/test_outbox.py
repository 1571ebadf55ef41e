"""The outbox on a real SQLite file: notifications written with their cause, each delivery
sent once, retried with backoff, given up, or cancelled; prompts once per cycle.

A fake transport stands in for the channels here (tests/test_channels.py sends through
real SMTP and HTTP servers on loopback).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
import pytest
from sqlmodel import Session, select

from freshness import jobs, prompts
from freshness.db import get_engine
from freshness.config import Settings
from freshness.models import Channel, Delivery, Notification, Person, Reminder, ReminderEvent
from freshness.notify import outbox
from freshness.notify.base import PermanentError, TemporaryError
from freshness.notify.fake import FakeTransport
from freshness.reminders import acknowledge, evaluate_person
from tests import dbseed

UTC = timezone.utc
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def settings_overrides() -> dict:
    return {"base_url": "https://fresh.example.org/"}


def channel(session: Session, p: Person, kind: str = "webhook", target: str = "https://hook.example/x") -> Channel:
    c = Channel(person_id=p.id, kind=kind, target=target, secret="whsec_dGVzdA==", created_at=NOW)
    session.add(c)
    session.commit()
    return c


def deliveries(session: Session) -> list[Delivery]:
    session.expire_all()
    return list(session.exec(select(Delivery).order_by(Delivery.id)).all())


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def refresh_due_person(session: Session, **kw) -> tuple[Person, Channel, Channel]:
    """A person whose LinkedIn headshot passed its refresh date, with two channels."""
    p = dbseed.person(session, every=365, **kw)
    dbseed.headshot(session, p, date(2024, 3, 1), disclosed=True)
    dbseed.checkin(session, p, datetime(2025, 5, 1, tzinfo=UTC), {})
    return p, channel(session, p, "webhook"), channel(session, p, "email", "pat@example.org")


# ------------------------------------------------------------------ writing notifications


def test_it_writes_a_notification_and_a_delivery_per_channel_with_the_event(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    (t,) = evaluate_person(session, p, NOW, settings, now=NOW)
    assert (t.kind, t.new_state) == ("refresh_due", "open")
    (note,) = session.exec(select(Notification)).all()
    event = session.exec(select(ReminderEvent)).one()
    assert note.event_id == event.id and note.kind == "reminder" and note.person_id == p.id
    assert note.subject == "Headshot due for a refresh (LinkedIn headshot, published 2024-03-01)"
    assert note.text.startswith("Your LinkedIn headshot was published on 2024-03-01, 15 months ago: it is due")
    assert "Open freshness: https://fresh.example.org/me" in note.text
    assert note.payload["type"] == "reminder.opened" and note.payload["reminder"]["kind"] == "refresh_due"
    assert note.payload["reminder"]["headshot"]["published_on"] == "2024-03-01"
    assert note.payload["reminder"]["since"] == "2025-03-01T00:00:00+00:00"
    rows = deliveries(session)
    assert [(d.channel_id, d.status, d.attempts) for d in rows] == [(hook.id, "pending", 0), (mail.id, "pending", 0)]
    assert len({d.idempotency_key for d in rows}) == 2 and all(d.next_attempt_at == NOW for d in rows)
    # evaluating again changes nothing and announces nothing
    assert evaluate_person(session, p, NOW, settings, now=NOW) == []
    assert len(deliveries(session)) == 2


def test_it_announces_nothing_for_a_look_back_or_a_replay(session: Session, settings) -> None:
    p, _, _ = refresh_due_person(session)
    evaluate_person(session, p, NOW - timedelta(days=2), settings, now=NOW)  # older than 24 hours: history
    evaluate_person(session, p, NOW, settings)  # no clock given (a replay): no news either
    assert session.exec(select(Notification)).all() == []
    assert session.exec(select(ReminderEvent)).all()  # the changes themselves are recorded


def test_it_writes_no_delivery_to_a_disabled_channel(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    outbox.disable_channel(session, hook.id, "410 Gone", NOW)
    evaluate_person(session, p, NOW, settings, now=NOW)
    assert [d.channel_id for d in deliveries(session)] == [mail.id]


def test_it_announces_a_resolved_reminder_only_when_asked(session: Session, settings) -> None:
    p = dbseed.person(session, every=7)
    channel(session, p)
    dbseed.checkin(session, p, datetime(2025, 5, 1, tzinfo=UTC), {})
    (missed,) = evaluate_person(session, p, NOW, settings, now=NOW)
    assert missed.kind == "checkin_missed"
    dbseed.checkin(session, p, NOW, {})
    later = NOW + timedelta(hours=1)
    (resolved,) = evaluate_person(session, p, later, settings, now=later)
    assert resolved.new_state == "resolved"
    assert [n.payload["type"] for n in session.exec(select(Notification)).all()] == ["reminder.opened"]
    p.notify_resolved = True
    session.add(p)
    session.commit()
    dbseed.checkin(session, p, NOW + timedelta(days=20), {})  # missed again, then resolved again
    t1 = NOW + timedelta(days=40)
    evaluate_person(session, p, t1, settings, now=t1)
    dbseed.checkin(session, p, t1, {})
    t2 = t1 + timedelta(hours=1)
    evaluate_person(session, p, t2, settings, now=t2)
    types = [n.payload["type"] for n in session.exec(select(Notification).order_by(Notification.id)).all()]
    assert types == ["reminder.opened", "reminder.opened", "reminder.resolved"]
    last = session.exec(select(Notification).order_by(Notification.id.desc())).first()  # type: ignore[union-attr]
    assert last.subject.startswith("Resolved: Check-in missed") and last.text.startswith("This no longer applies:")


# ------------------------------------------------------------------ sending


def test_it_sends_each_delivery_once(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    evaluate_person(session, p, NOW, settings, now=NOW)
    fake = FakeTransport()
    report = outbox.dispatch(session, {"webhook": fake, "email": fake}, settings, Clock())
    assert (report.sent, report.retried, report.dead) == (2, 0, 0)
    assert [t for t, _ in fake.sent] == ["https://hook.example/x", "pat@example.org"]
    assert all(d.status == "sent" and d.sent_at == NOW and d.attempts == 1 for d in deliveries(session))
    keys = {m.idempotency_key for _, m in fake.sent}
    assert keys == {d.idempotency_key for d in deliveries(session)}
    assert outbox.dispatch(session, {"webhook": fake, "email": fake}, settings, Clock(NOW + timedelta(days=1))).sent == 0
    assert len(fake.sent) == 2


def test_it_retries_with_backoff_and_the_same_key(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    outbox.disable_channel(session, mail.id, "not in this test", NOW)
    evaluate_person(session, p, NOW, settings, now=NOW)
    failures = iter([TemporaryError("503 Service Unavailable"), TemporaryError("timed out")])
    fake = FakeTransport(fail=lambda target, m: next(failures, None))
    clock = Clock()
    assert outbox.dispatch(session, {"webhook": fake}, settings, clock).retried == 1
    (d,) = deliveries(session)
    assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
    assert d.last_error == "attempt 1: 503 Service Unavailable"
    clock.now = NOW + timedelta(seconds=59)  # not due yet
    assert outbox.dispatch(session, {"webhook": fake}, settings, clock).attempted == 0
    clock.now = NOW + timedelta(seconds=60)
    outbox.dispatch(session, {"webhook": fake}, settings, clock)
    (d,) = deliveries(session)
    assert (d.attempts, d.next_attempt_at) == (2, NOW + timedelta(seconds=180))  # then twice the wait
    clock.now = NOW + timedelta(seconds=180)
    assert outbox.dispatch(session, {"webhook": fake}, settings, clock).sent == 1
    (d,) = deliveries(session)
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, None)
    assert fake.attempts == 3 and [m.idempotency_key for _, m in fake.sent] == [d.idempotency_key]


def test_backoff_doubles_up_to_its_cap(settings: Settings) -> None:
    waits = [outbox.backoff(n, settings).total_seconds() for n in range(1, 11)]
    assert waits[:5] == [60, 120, 240, 480, 960] and waits[-1] == 21600 and max(waits) == 21600


def test_it_gives_up_after_the_last_attempt(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    outbox.disable_channel(session, mail.id, "not in this test", NOW)
    evaluate_person(session, p, NOW, settings, now=NOW)
    fake = FakeTransport(fail=lambda target, m: TemporaryError("connection refused"))
    short = settings.model_copy(update={"delivery_max_attempts": 3})
    clock = Clock()
    for _ in range(3):
        outbox.dispatch(session, {"webhook": fake}, short, clock)
        clock.now += timedelta(days=1)
    (d,) = deliveries(session)
    assert (d.status, d.attempts, d.last_error) == ("dead", 3, "attempt 3: connection refused")
    assert outbox.dispatch(session, {"webhook": fake}, short, clock).attempted == 0 and fake.attempts == 3
    assert session.get(Channel, hook.id).enabled  # a temporary error never disables the channel


def test_a_permanent_error_disables_the_channel_with_its_reason(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    evaluate_person(session, p, NOW, settings, now=NOW)
    dbseed.checkin(session, p, NOW - timedelta(days=400), {})  # (nothing new: refresh_due stays)
    fake = FakeTransport(fail=lambda target, m: PermanentError("410 Gone") if target.startswith("https") else None)
    report = outbox.dispatch(session, {"webhook": fake, "email": fake}, settings, Clock())
    assert (report.sent, report.dead) == (1, 1)
    session.expire_all()
    hook = session.get(Channel, hook.id)
    assert (hook.enabled, hook.disabled_reason, hook.disabled_at) == (False, "410 Gone", NOW)
    # later notifications skip it
    outbox.enqueue(session, p.id, "test", "s", "t", {}, NOW)
    session.commit()
    assert [d.channel_id for d in deliveries(session) if d.status == "pending"] == [mail.id]


def test_a_delivery_claimed_by_one_dispatcher_is_skipped_by_another(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    outbox.disable_channel(session, mail.id, "not in this test", NOW)
    evaluate_person(session, p, NOW, settings, now=NOW)
    (d,) = deliveries(session)
    with Session(get_engine(settings)) as other:
        assert outbox._claim(other, d.id, NOW, settings) == 1  # the other dispatcher owns it now
    fake = FakeTransport()
    report = outbox.dispatch(session, {"webhook": fake}, settings, Clock())
    assert (report.skipped, report.sent, fake.attempts) == (0, 0, 0)  # not due for us: it is being sent
    # the other dispatcher died without recording: once its lease is over, it is sent again, same key
    later = Clock(NOW + timedelta(seconds=settings.delivery_lease_seconds + 1))
    assert outbox.dispatch(session, {"webhook": fake}, settings, later).sent == 1
    (d2,) = deliveries(session)
    assert (d2.status, d2.attempts) == ("sent", 2) and fake.sent[0][1].idempotency_key == d.idempotency_key


def test_a_late_result_does_not_overwrite_a_newer_claim(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    outbox.disable_channel(session, mail.id, "not in this test", NOW)
    evaluate_person(session, p, NOW, settings, now=NOW)
    (d,) = deliveries(session)
    first = outbox._claim(session, d.id, NOW, settings)
    after_lease = NOW + timedelta(seconds=settings.delivery_lease_seconds + 1)
    second = outbox._claim(session, d.id, after_lease, settings)
    assert (first, second) == (1, 2)
    assert not outbox._record(session, d.id, first, {"status": "sent"})  # the first dispatcher is too late
    assert outbox._record(session, d.id, second, {"status": "sent"})


def test_it_cancels_a_reminder_message_once_the_reminder_is_acknowledged(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    evaluate_person(session, p, NOW, settings, now=NOW)
    reminder = session.exec(select(Reminder)).one()
    acknowledge(session, reminder.id, NOW)
    fake = FakeTransport()
    report = outbox.dispatch(session, {"webhook": fake, "email": fake}, settings, Clock())
    assert (report.cancelled, report.sent, fake.sent) == (2, 0, [])
    assert {d.last_error for d in deliveries(session)} == {"the reminder was acknowledged before this message went out"}


def test_an_unexpected_transport_failure_is_retried_and_the_others_still_go(session: Session, settings) -> None:
    p, hook, mail = refresh_due_person(session)
    evaluate_person(session, p, NOW, settings, now=NOW)

    class Broken:
        def send(self, target, secret, message):
            raise RuntimeError("bug")

    fake = FakeTransport()
    report = outbox.dispatch(session, {"webhook": Broken(), "email": fake}, settings, Clock())
    assert (report.retried, report.sent) == (1, 1)
    hook_delivery = next(d for d in deliveries(session) if d.channel_id == hook.id)
    assert hook_delivery.status == "pending" and "unexpected error: bug" in hook_delivery.last_error


# ------------------------------------------------------------------ prompts


def test_a_prompt_goes_out_once_per_cycle_at_the_local_hour(session: Session, settings) -> None:
    p = dbseed.person(session, every=30, tz="Europe/Paris")
    p.prompt_hour = 8
    session.add(p)
    channel(session, p)
    dbseed.checkin(session, p, datetime(2025, 5, 1, 10, tzinfo=UTC), {})
    assert prompts.schedule(session, p) == datetime(2025, 5, 31, 6, tzinfo=UTC)  # 08:00 CEST
    session.commit()
    assert prompts.send_due_prompts(session, settings, datetime(2025, 5, 31, 5, 59, tzinfo=UTC)).sent == 0
    report = prompts.send_due_prompts(session, settings, datetime(2025, 5, 31, 6, tzinfo=UTC))
    assert report.sent == 1
    (note,) = session.exec(select(Notification)).all()
    assert note.kind == "prompt" and note.subject == "Time for your check-in selfie"
    assert "due 2025-05-31 08:00 CEST" in note.text
    # a one-time sign-in link straight to the check-in page, valid three days
    link = re.search(r"signed in by this link \(once, until 2025-06-03 08:00 CEST\): "
                     r"(https://fresh\.example\.org/signin/(frlink_\S+))\?next=/me/checkin", note.text)
    assert link is not None, note.text
    from freshness.people import use_signin_link

    assert use_signin_link(session, link.group(2), datetime(2025, 6, 3, 5, 59, tzinfo=UTC)).id == p.id
    assert 'freshness checkin "Pat" selfie.jpg' in note.text
    session.refresh(p)
    assert p.next_prompt_at == datetime(2025, 6, 30, 6, tzinfo=UTC)  # the next cycle
    assert prompts.send_due_prompts(session, settings, datetime(2025, 6, 15, tzinfo=UTC)).sent == 0
    assert len(deliveries(session)) == 1


def test_a_scheduler_that_was_down_sends_one_prompt_not_a_burst(session: Session, settings) -> None:
    p = dbseed.person(session, every=7)
    dbseed.checkin(session, p, datetime(2025, 1, 1, 9, tzinfo=UTC), {})
    prompts.schedule(session, p)
    session.commit()
    later = datetime(2025, 3, 1, 12, tzinfo=UTC)  # eight cycles missed
    assert prompts.send_due_prompts(session, settings, later).sent == 1
    session.refresh(p)
    assert later < p.next_prompt_at <= later + timedelta(days=7)
    assert prompts.send_due_prompts(session, settings, later).sent == 0


def test_two_schedulers_send_a_prompt_once(session: Session, settings) -> None:
    p = dbseed.person(session, every=7)
    dbseed.checkin(session, p, datetime(2025, 1, 1, 9, tzinfo=UTC), {})
    due = prompts.schedule(session, p)
    session.commit()
    # the other scheduler reads the same due person, but this one advances it first
    with Session(get_engine(settings)) as other:
        (pid, seen) = other.exec(select(Person.id, Person.next_prompt_at).where(Person.id == p.id)).one()
        assert prompts.send_due_prompts(session, settings, due).sent == 1
        from sqlalchemy import update

        changed = other.execute(update(Person).where(Person.id == pid, Person.next_prompt_at == seen)
                                .values(next_prompt_at=seen + timedelta(days=7))).rowcount
        other.rollback()
    assert changed == 0  # its conditional update finds the row already advanced: no second prompt
    assert len(session.exec(select(Notification)).all()) == 1


def test_a_check_in_moves_the_next_prompt(session: Session, settings) -> None:
    p = dbseed.person(session, every=14)
    assert prompts.schedule(session, p) == datetime(2024, 1, 15, 9, tzinfo=UTC)  # 14 days after joining
    dbseed.checkin(session, p, datetime(2024, 1, 10, 20, tzinfo=UTC), {})
    assert prompts.schedule(session, p) == datetime(2024, 1, 24, 9, tzinfo=UTC)


def test_the_sweep_evaluates_everyone_and_keeps_going_past_a_failure(session: Session, settings) -> None:
    good, _, _ = refresh_due_person(session, name="Good")
    bad, _, _ = refresh_due_person(session, name="Bad")
    bad.policy_overrides = {"refresh_due_months": 99}
    session.add(bad)
    session.commit()
    report = jobs.sweep(settings, NOW, batch=1)
    assert report.people == 2 and report.transitions == 1
    assert len(report.failed) == 1 and "refresh_due_months" in report.failed[0] and report.failed[0].startswith(f"#{bad.id}")


def test_maintenance_removes_day_old_orphans_only(session: Session, settings, tmp_path) -> None:
    import os

    from freshness.blobs import BlobStore

    store = BlobStore(settings.blob_dir)
    kept, _ = store.put(b"a headshot")
    orphan, _ = store.put(b"left by a crash")
    fresh, _ = store.put(b"being committed right now")
    p = dbseed.person(session)
    h = dbseed.headshot(session, p, date(2024, 1, 1))
    h.image_digest = kept
    session.add(h)
    session.commit()
    day_old = (NOW - timedelta(days=2)).timestamp()
    for digest in (kept, orphan):
        os.utime(store.path(digest), (day_old, day_old))
    tmp = store.path(orphan).parent / ".abandoned.tmp"
    tmp.write_bytes(b"x")
    os.utime(tmp, (day_old, day_old))
    removed = jobs.maintenance(settings, NOW)
    assert removed == {"orphaned_files": 1, "temporary_files": 1, "inactive_people_purged": 0,  # tests/test_privacy.py
                       "inbox_files_removed": 0, "held_candidates_removed": 0}
    assert store.exists(kept) and store.exists(fresh) and not store.exists(orphan) and not tmp.exists()


def test_a_first_schedule_never_overwrites_one_another_scheduler_made_meanwhile(session: Session, settings,
                                                                               monkeypatch) -> None:
    # both schedulers see a person without a next prompt; the other one schedules it and sends
    # the (overdue) prompt between this one's read and its write
    p = dbseed.person(session, every=7)
    dbseed.checkin(session, p, datetime(2025, 1, 1, 9, tzinfo=UTC), {})
    real = prompts.schedule
    interleaved = []

    def schedule_after_the_other(s, person):
        if not interleaved:
            interleaved.append(True)
            with Session(get_engine(settings)) as other:
                assert prompts.send_due_prompts(other, settings, NOW).sent == 1
        return real(s, person)

    monkeypatch.setattr(prompts, "schedule", schedule_after_the_other)
    report = prompts.send_due_prompts(session, settings, NOW)
    assert interleaved and (report.scheduled, report.sent) == (0, 0)
    assert len(session.exec(select(Notification)).all()) == 1
    session.expire_all()
    assert session.get(Person, p.id).next_prompt_at > NOW  # the other's advance stands
