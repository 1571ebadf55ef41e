"""Synthetic people on the real schema, inserted in bulk: for the sweep's tests and for
benchmarks/scale.py. Embeddings are placeholders (the rules never read them); distances are
realistic (0.30-0.50 around a person's own level, day-to-day noise of about 0.05), about one
person in ten drifting away, a few diverged, some past their refresh date, some who stopped
checking in, some in trust-critical sectors with undisclosed AI headshots, a few with rule
overrides, and people in several time zones.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, insert
from sqlmodel import Session, select

from freshness.models import Checkin, Headshot, Measurement, Person
from freshness.names import name_key

UTC = timezone.utc
ZONES = ("UTC", "Europe/London", "America/New_York", "Asia/Tokyo", "Pacific/Auckland")
SECTORS = (None, "technology", "finance", "healthcare", "media")
EMPTY_EMBEDDING = bytes(512)


def populate(session: Session, people: int, *, now: datetime, seed: int = 7, start_id: int | None = None) -> None:
    """Insert ``people`` persons (ids after the existing ones) with 1-2 headshots and 12-24
    check-ins each over the two years before ``now``."""
    rnd = random.Random(seed)
    first = start_id or (session.exec(select(func.max(Person.id))).one() or 0) + 1
    next_checkin = (session.exec(select(func.max(Checkin.id))).one() or 0) + 1
    next_headshot = (session.exec(select(func.max(Headshot.id))).one() or 0) + 1
    persons, headshots, checkins, measurements = [], [], [], []
    for i in range(people):
        pid = first + i
        created = now - timedelta(days=rnd.randint(400, 900))
        every = rnd.choice((7, 14, 30, 30, 30, 60))
        name = f"Person {pid}"
        persons.append({
            "id": pid, "name": name, "name_key": name_key(name), "email": None,
            "timezone": rnd.choice(ZONES), "sector": rnd.choice(SECTORS), "checkin_every_days": every,
            "policy_overrides": {"refresh_due_months": 18} if rnd.random() < 0.05 else {},
            "consent_version": "synthetic", "consent_at": created, "created_at": created,
            "prompt_hour": 9, "notify_resolved": False,
        })
        heads = []
        for _ in range(1 if rnd.random() < 0.8 else 2):
            published = (created + timedelta(days=rnd.randint(0, 200))).date()
            heads.append(next_headshot)
            headshots.append({
                "id": next_headshot, "person_id": pid, "platform": rnd.choice(("linkedin", "website", "resume")),
                "published_on": published, "ai_generated": rnd.random() < 0.7, "disclosed": rnd.random() < 0.5,
                "image_digest": f"{next_headshot:064x}", "thumb_digest": f"{next_headshot:064x}",
                "embedding": EMPTY_EMBEDDING, "quality": {}, "created_at": created, "retired_at": None,
                "active_key": f"{pid}:{next_headshot:064x}", "provenance": {},
            })
            next_headshot += 1
        kind = rnd.random()
        base = rnd.uniform(0.30, 0.45)
        count = rnd.randint(12, 24)
        stopped = rnd.random() < 0.15  # stopped checking in a while ago
        last = now - timedelta(days=rnd.randint(100, 300) if stopped else rnd.randint(0, every))
        for k in range(count):
            taken = last - timedelta(days=every * (count - 1 - k), hours=rnd.randint(0, 10))
            progress = k / max(count - 1, 1)
            if kind < 0.10:  # drifting away: +0.15 to +0.30 over the period
                level = base + progress * rnd.uniform(0.15, 0.30)
            elif kind < 0.13:  # a different face lately
                level = base + (0.35 if progress > 0.8 else 0.0)
            else:
                level = base
            checkins.append({
                "id": next_checkin, "person_id": pid, "taken_at": taken, "taken_at_source": "given",
                "received_at": taken, "image_digest": f"c{next_checkin:063x}", "original_kept": False,
                "thumb_digest": f"c{next_checkin:063x}", "embedding": EMPTY_EMBEDDING, "quality": {},
                "identity_confirmed": False,
            })
            for hid in heads:
                measurements.append({"checkin_id": next_checkin, "headshot_id": hid,
                                     "distance": round(max(0.0, rnd.gauss(level, 0.05)), 6)})
            next_checkin += 1
    for table, rows in ((Person, persons), (Headshot, headshots), (Checkin, checkins), (Measurement, measurements)):
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(table.__table__), rows[chunk:chunk + 5000])  # type: ignore[attr-defined]
    session.commit()


def clock_now() -> datetime:
    """A fixed 'now' for synthetic data (never the real clock)."""
    return datetime(2026, 6, 1, 12, tzinfo=UTC)


__all__ = ["populate", "clock_now", "date"]
