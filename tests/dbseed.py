"""Seed a database directly (no images): for fast engine tests and the concurrency test.

Embeddings are placeholders; distances are written as Measurement rows, exactly
as the check-in service stores them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
from sqlmodel import Session

from freshness.faces import embedding_to_bytes
from freshness.models import Checkin, Headshot, Measurement, Person
from freshness.names import name_key

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def person(session: Session, name: str = "Pat", sector: str | None = None, every: int = 30, tz: str = "UTC",
           created: datetime = T0) -> Person:
    p = Person(name=name, name_key=name_key(name), sector=sector, timezone=tz, checkin_every_days=every, policy_overrides={},
               consent_version="test", consent_at=created, created_at=created)
    session.add(p)
    session.commit()
    return p


def headshot(session: Session, p: Person, published: date, ai: bool = True, disclosed: bool = False,
             platform: str = "linkedin") -> Headshot:
    h = Headshot(person_id=p.id, platform=platform, published_on=published, ai_generated=ai, disclosed=disclosed,
                 image_digest="0" * 64, thumb_digest="0" * 64, embedding=embedding_to_bytes(np.zeros(128)),
                 quality={}, created_at=T0)
    session.add(h)
    session.commit()
    return h


def checkin(session: Session, p: Person, taken: datetime, distances: dict[int, float]) -> Checkin:
    n = session.info.setdefault("seq", 0) + 1
    session.info["seq"] = n
    c = Checkin(person_id=p.id, taken_at=taken, taken_at_source="given", received_at=taken,
                image_digest=f"{n:064x}", thumb_digest="0" * 64,
                embedding=embedding_to_bytes(np.full(128, n / 1000.0)), quality={})
    session.add(c)
    session.flush()
    for hid, d in distances.items():
        session.add(Measurement(checkin_id=c.id, headshot_id=hid, distance=d))
    session.commit()
    return c
