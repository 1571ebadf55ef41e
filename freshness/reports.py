"""Read-only views over a person's data: status and history (shared by CLI and web)."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlmodel import Session

from freshness.checkins import checkins_of, list_headshots, local_today, measurements_of
from freshness.models import Headshot, Person


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def person_dict(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "sector": person.sector,
        "timezone": person.timezone,
        "checkin_every_days": person.checkin_every_days,
        "next_checkin_due": _iso(person.next_checkin_due),
        "consent": {"version": person.consent_version, "at": _iso(person.consent_at)},
        "created_at": _iso(person.created_at),
    }


def headshot_dict(headshot: Headshot) -> dict[str, Any]:
    return {
        "id": headshot.id,
        "person_id": headshot.person_id,
        "platform": headshot.platform,
        "published_on": headshot.published_on.isoformat(),
        "ai_generated": headshot.ai_generated,
        "disclosed": headshot.disclosed,
        "image_sha256": headshot.image_digest,
        "retired_at": _iso(headshot.retired_at),
        "quality": headshot.quality,
    }


def status(session: Session, person: Person, as_of: datetime) -> dict[str, Any]:
    """Per active headshot (as of ``as_of``): platform, age and the latest and median distances."""
    checkins = checkins_of(session, person, until=as_of)
    taken = {c.id: c.taken_at for c in checkins}
    by_headshot: dict[int, list[tuple[datetime, float]]] = {}
    for m in measurements_of(session, person):
        if m.checkin_id in taken:
            by_headshot.setdefault(m.headshot_id, []).append((taken[m.checkin_id], m.distance))
    today = local_today(person, as_of)
    heads = []
    for h in list_headshots(session, person):
        if h.published_on > today or (h.retired_at is not None and h.retired_at <= as_of):
            continue
        series = sorted(by_headshot.get(h.id, []))  # type: ignore[arg-type]
        distances = [d for _, d in series]
        heads.append(
            {
                "id": h.id,
                "platform": h.platform,
                "published_on": h.published_on.isoformat(),
                "age_days": (today - h.published_on).days,
                "ai_generated": h.ai_generated,
                "disclosed": h.disclosed,
                "checkins": len(distances),
                "latest_distance": distances[-1] if distances else None,
                "latest_taken_at": _iso(series[-1][0]) if series else None,
                "median_distance": round(statistics.median(distances), 6) if distances else None,
            }
        )
    return {
        "person": {"id": person.id, "name": person.name},
        "as_of": as_of.isoformat(),
        "checkins": len(checkins),
        "last_checkin_at": _iso(checkins[-1].taken_at) if checkins else None,
        "next_checkin_due": _iso(person.next_checkin_due),
        "headshots": heads,
    }


def history(session: Session, person: Person, headshot_id: int | None = None) -> dict[str, Any]:
    """One row per check-in (oldest first) with its distance to each headshot (retired ones too)."""
    headshots = [h for h in list_headshots(session, person) if headshot_id is None or h.id == headshot_id]
    wanted = {h.id for h in headshots}
    dist: dict[int, dict[int, float]] = {}
    for m in measurements_of(session, person):
        if m.headshot_id in wanted:
            dist.setdefault(m.checkin_id, {})[m.headshot_id] = m.distance
    rows = []
    for c in checkins_of(session, person):
        rows.append(
            {
                "checkin_id": c.id,
                "taken_at": c.taken_at.isoformat(),
                "taken_at_source": c.taken_at_source,
                "distances": [
                    {"headshot_id": h.id, "distance": dist.get(c.id, {}).get(h.id)} for h in headshots  # type: ignore[arg-type, call-overload]
                ],
            }
        )
    return {
        "person": {"id": person.id, "name": person.name},
        "headshots": [
            {"id": h.id, "platform": h.platform, "published_on": h.published_on.isoformat(), "retired_at": _iso(h.retired_at)}
            for h in headshots
        ],
        "rows": rows,
    }
