"""Check-in prompts: each person is asked for a selfie on their own schedule.

A person's check-in is due ``checkin_every_days`` after their latest check-in (or after
they joined); the prompt goes out on that local day at their ``prompt_hour`` (default
09:00) in their time zone. ``Person.next_prompt_at`` holds that instant. The prompt job
asks the database which persons are due (an indexed query: no job per person, so it
scales to any number of people) and, for each, advances ``next_prompt_at`` by a
conditional UPDATE; only the process whose UPDATE changed the row writes the prompt,
so a prompt goes out once per cycle even with several schedulers. A new check-in moves
the next prompt to one cadence after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import Session, select

from freshness import words
from freshness.config import Settings
from freshness.models import Checkin, Person


def next_prompt_after(last: datetime, cadence_days: int, hour: int, tz: str) -> datetime:
    """The prompt for a check-in due ``cadence_days`` after ``last``: that local day at ``hour``."""
    zone = ZoneInfo(tz)
    due_day = (last + timedelta(days=cadence_days)).astimezone(zone).date()
    return datetime.combine(due_day, time(hour), zone).astimezone(timezone.utc)


def latest_checkin(session: Session, person_id: int) -> datetime | None:
    return session.exec(select(func.max(Checkin.taken_at)).where(Checkin.person_id == person_id)).first()  # type: ignore[arg-type]


def schedule(session: Session, person: Person) -> datetime:
    """Set (not commit) the person's next prompt from their latest check-in, or from when they
    joined; used when they check in and when their cadence, hour or time zone changes."""
    last = latest_checkin(session, person.id) if person.id is not None else None  # type: ignore[arg-type]
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    start = max(filter(None, [last, person.created_at]))  # type: ignore[type-var]
    person.next_prompt_at = next_prompt_after(start, person.checkin_every_days, person.prompt_hour, person.timezone)
    session.add(person)
    return person.next_prompt_at


def _following(prompt_at: datetime, person: Person, now: datetime) -> datetime:
    """The next cycle's prompt after one sent for ``prompt_at``: one cadence later, and after
    ``now`` (a scheduler that was down for several cycles sends one prompt, not a burst)."""
    nxt = next_prompt_after(prompt_at, person.checkin_every_days, person.prompt_hour, person.timezone)
    while nxt <= now:
        nxt = next_prompt_after(nxt, person.checkin_every_days, person.prompt_hour, person.timezone)
    return nxt


@dataclass
class PromptReport:
    scheduled: int = 0  # persons who had no next prompt yet
    sent: int = 0  # prompts written into the outbox
    lost_race: int = 0  # another scheduler sent the same prompt


def send_due_prompts(session: Session, settings: Settings, now: datetime, batch: int = 500) -> PromptReport:
    """Write the check-in prompt of every person whose prompt is due into the outbox (each with
    its advance of ``next_prompt_at``, in one transaction), ``batch`` persons at a time."""
    from freshness.links import checkin_page, signin_page
    from freshness.notify import outbox

    report = PromptReport()
    while True:
        unscheduled = session.exec(select(Person).where(Person.next_prompt_at.is_(None)).limit(batch)).all()  # type: ignore[union-attr]
        for person in unscheduled:
            first = schedule(session, person)
            session.expunge(person)  # the conditional update below decides, not this object
            # only if nobody scheduled it meanwhile: another scheduler may have scheduled it and
            # even sent its prompt already, and overwriting that would send it again
            report.scheduled += session.execute(
                update(Person).where(Person.id == person.id, Person.next_prompt_at.is_(None))  # type: ignore[arg-type,union-attr]
                .values(next_prompt_at=first)
            ).rowcount
        session.commit()
        if len(unscheduled) < batch:
            break
    while True:
        due = session.exec(
            select(Person.id, Person.next_prompt_at)
            .where(Person.next_prompt_at <= now)  # type: ignore[operator]
            .order_by(Person.next_prompt_at, Person.id)
            .limit(batch)
        ).all()
        for person_id, prompt_at in due:
            person = session.get(Person, person_id)
            if person is None:
                continue
            following = _following(prompt_at, person, now)  # type: ignore[arg-type]
            changed = session.execute(
                update(Person).where(Person.id == person_id, Person.next_prompt_at == prompt_at)  # type: ignore[arg-type]
                .values(next_prompt_at=following)
            ).rowcount
            if changed != 1:
                session.rollback()
                report.lost_race += 1
                continue
            inbox = settings.home / "inbox" / str(person_id)
            signin, until = None, None
            if settings.prompt_link_hours > 0:  # straight to the check-in page, signed in once
                from freshness.people import create_signin_link

                valid = timedelta(hours=settings.prompt_link_hours)
                token = create_signin_link(session, person, now, valid, commit=False)
                signin, until = f"{signin_page(settings, token)}?next=/me/checkin", now + valid
            subject, text = words.checkin_prompt(
                person.name, prompt_at, person.timezone, person.checkin_every_days,  # type: ignore[arg-type]
                link=checkin_page(settings), inbox=str(inbox) if inbox.is_dir() else None,
                signin_link=signin, signin_until=until)
            payload = {
                "type": "checkin.prompt",
                "person": {"id": person.id, "name": person.name},
                "due_at": prompt_at.isoformat(),  # type: ignore[union-attr]
                "cadence_days": person.checkin_every_days,
                "next_prompt_at": following.isoformat(),
                "link": checkin_page(settings),
                "inbox": str(inbox) if inbox.is_dir() else None,
            }
            outbox.enqueue(session, person_id, "prompt", subject, text, payload, now)  # type: ignore[arg-type]
            session.commit()
            session.expire(person)
            report.sent += 1
        if len(due) < batch:
            return report
