"""Read-only views over a person's data: status, history, candidate ranking.

Nothing here writes: ``status`` shows the reminders the rules say should be open
as of the given time, with the id and state of the stored reminder where
``freshness reminders`` (or the scheduler) has recorded it.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from freshness import likeness, rules, words
from freshness.checkins import local_today
from freshness.faces.embedding import embedding_values
from freshness.models import Headshot, Person
from freshness.reminders import PersonData, load_person_data, policy_for, unresolved


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


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
        **_provenance_fields(headshot),
    }


def _provenance_fields(headshot: Headshot) -> dict[str, Any]:
    """What the file says of its origin (freshness.provenance) and how the headshot counts as
    disclosed: ``person``, ``embedded_label`` or null (see ``rules.disclosed_by``)."""
    from freshness.provenance import view

    prov = view(headshot.provenance)
    return {
        "disclosed_by": rules.disclosed_by(headshot.disclosed, prov["label_intact"] is True,
                                           prov["published_with_label"]),
        "provenance": prov,
        "provenance_text": words.provenance_text(prov),
    }


def _self_drift(data: PersonData, analysis: rules.HeadshotAnalysis, headshot: Headshot, policy: rules.Policy) -> float | None:
    if not analysis.has_baseline:
        return None
    after = [p for p in analysis.points if p.day >= headshot.published_on][: policy.baseline_n]
    recent = list(analysis.points[-policy.level_n :])
    by_id = {c.id: c for c in data.checkins}

    def embeddings(points: list[likeness.Point]) -> list:
        return [embedding_values(by_id[i].embedding) for p in points for i in p.checkin_ids if i in by_id]

    return likeness.self_drift(embeddings(after), embeddings(recent))


def _trend_dict(t: likeness.Trend | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "slope_per_year": _r(t.slope_per_year),
        "low_per_year": _r(t.low_per_year),
        "high_per_year": _r(t.high_per_year),
        "n": t.n,
        "span_days": round(t.span_days, 1),
    }


def _band(value: float | None, policy: rules.Policy) -> str | None:
    return likeness.band(value, policy.bands) if value is not None else None


def verdict_of(headshot: Headshot, a: rules.HeadshotAnalysis, policy: rules.Policy) -> str:
    """The one-line plain verdict for a headshot's analysis (see ``words.verdict``)."""
    return words.verdict(
        headshot.platform, a.state, a.band, points=len(a.points),
        baseline_needed=policy.baseline_n - a.baseline_points,
        projected_on=a.projected_date.date() if a.projected_date else None,
    )


def status(session: Session, person: Person, as_of: datetime) -> dict[str, Any]:
    """Per active headshot (as of ``as_of``): age, refresh dates, distances, baseline, level,
    band, trend, projected divergence, self drift and the reminders that should be open."""
    data = load_person_data(session, person)
    policy = policy_for(person)
    person_facts, head_facts = data.facts(as_of)
    desired, analyses = rules.evaluate_with_analyses(person_facts, head_facts, policy, as_of)
    stored = {(r.kind, r.headshot_id): r for r in unresolved(session, person)}

    def reminder_view(d: rules.DesiredReminder) -> dict[str, Any]:
        r = stored.get(d.key)
        return {
            "id": r.id if r else None,
            "state": r.state if r else None,
            "kind": d.kind,
            "title": words.reminder_title(d.kind),
            "headshot": d.headshot_id,
            "since": d.since.isoformat(),
            "message": d.message,
            "details": d.details,
        }

    today = local_today(person, as_of)
    checkins = [c for c in data.checkins if c.taken_at <= as_of]
    heads = []
    for h in data.headshots:
        a = analyses[h.id]  # type: ignore[index]
        if not a.active:
            continue
        samples = sorted((s for s in data.samples.get(h.id, []) if s.taken_at <= as_of), key=lambda s: s.taken_at)  # type: ignore[arg-type]
        distances = [s.distance for s in samples]
        median = statistics.median(distances) if distances else None
        heads.append(
            {
                "id": h.id,
                "platform": h.platform,
                "published_on": h.published_on.isoformat(),
                "age_days": (today - h.published_on).days,
                "ai_generated": h.ai_generated,
                "disclosed": h.disclosed,
                **_provenance_fields(h),
                "refresh_due_on": a.refresh_due_on.isoformat(),
                "refresh_overdue_on": a.refresh_overdue_on.isoformat(),
                "checkins": len(distances),
                "points": len(a.points),
                "state": a.state,
                "verdict": verdict_of(h, a, policy),
                "latest_distance": distances[-1] if distances else None,
                "latest_band": _band(distances[-1] if distances else None, policy),
                "latest_taken_at": _iso(samples[-1].taken_at) if samples else None,
                "median_distance": _r(median, 6),
                "median_band": _band(median, policy),
                "baseline": _r(a.baseline),
                "baseline_band": _band(a.baseline, policy),
                "baseline_points": a.baseline_points,
                "baseline_needed": policy.baseline_n,
                "level": _r(a.level),
                "band": a.band,
                "threshold": _r(a.threshold),
                "trend": _trend_dict(a.trend),
                "projected_divergence_on": a.projected_date.date().isoformat() if a.projected_date else None,
                "self_drift": _r(_self_drift(data, a, h, policy)),
                "reminders": [reminder_view(d) for d in desired if d.headshot_id == h.id],
            }
        )
    return {
        "person": {"id": person.id, "name": person.name, "timezone": person.timezone},
        "as_of": as_of.isoformat(),
        "checkins": len(checkins),
        "last_checkin_at": _iso(checkins[-1].taken_at) if checkins else None,
        "next_checkin_due": _iso(person.next_checkin_due),
        "policy": policy.as_dict(),
        "headshots": heads,
        "reminders": [reminder_view(d) for d in desired if d.headshot_id is None],
    }


def _levels(points: list[likeness.Point], n: int) -> dict[Any, float]:
    """The level at each point's day: ``likeness.level`` of the points up to that day."""
    return {p.day: likeness.level(points[: i + 1], n) for i, p in enumerate(points)}  # type: ignore[misc]


def history(session: Session, person: Person, headshot_id: int | None = None) -> dict[str, Any]:
    """One row per check-in (oldest first) with, per headshot (retired ones too), the distance,
    the level at that check-in's day (median of the last 3 daily points) and the level's band."""
    data = load_person_data(session, person)
    policy = policy_for(person)
    tz = likeness.resolve_timezone(person.timezone)
    headshots = [h for h in data.headshots if headshot_id is None or h.id == headshot_id]
    dist: dict[int, dict[int, float]] = {}
    levels: dict[int, dict[Any, float]] = {}
    for h in headshots:
        samples = data.samples.get(h.id, [])  # type: ignore[arg-type]
        for s in samples:
            dist.setdefault(s.checkin_id, {})[h.id] = s.distance  # type: ignore[arg-type, index]
        levels[h.id] = _levels(likeness.daily_points(samples, person.timezone), policy.level_n)  # type: ignore[index]
    rows = []
    for c in data.checkins:
        day = c.taken_at.astimezone(tz).date()
        cells = []
        for h in headshots:
            d = dist.get(c.id, {}).get(h.id)  # type: ignore[arg-type, call-overload]
            lvl = levels[h.id].get(day) if d is not None else None  # type: ignore[index]
            cells.append({
                "headshot_id": h.id,
                "distance": d,
                "distance_band": _band(d, policy),
                "level": _r(lvl),
                "band": likeness.band(lvl, policy.bands) if lvl is not None else None,
            })
        rows.append({"checkin_id": c.id, "taken_at": c.taken_at.isoformat(), "taken_at_source": c.taken_at_source,
                     "distances": cells})
    return {
        "person": {"id": person.id, "name": person.name},
        "headshots": [
            {"id": h.id, "platform": h.platform, "published_on": h.published_on.isoformat(), "retired_at": _iso(h.retired_at)}
            for h in headshots
        ],
        "rows": rows,
    }


def plot_series(session: Session, person: Person, as_of: datetime, headshot_id: int | None = None) -> list:
    """Everything ``plot.draw`` needs, per headshot (retired ones too), as of ``as_of``.

    A headshot retired at or before ``as_of`` is analysed as of its retirement (its
    verdict then; no trend). Reminder markers come from the stored reminders: opened
    at ``since`` (when the condition began, according to the data), resolved at
    ``resolved_at``; the person's own reminders (no headshot) show on every active panel.
    """
    from freshness.plot import Series
    from freshness.reminders import events_of

    data = load_person_data(session, person)
    policy = policy_for(person)
    person_facts, head_facts = data.facts(as_of)
    stored = list({r.id: r for _, r in events_of(session, person)}.values())
    bands = policy.bands
    out = []
    for h, facts in zip(data.headshots, head_facts):
        if headshot_id is not None and h.id != headshot_id:
            continue
        retired = h.retired_at if h.retired_at is not None and h.retired_at <= as_of else None
        when = retired or as_of
        a = rules.headshot_analysis(facts, person_facts, policy, when)
        samples = sorted((s for s in facts.samples if s.taken_at <= when), key=lambda s: s.taken_at)
        t = a.trend if retired is None else None
        window = [p for p in a.points if p.taken_at > when - timedelta(days=policy.drift_window_days)]
        mine = [r for r in stored if r.headshot_id == h.id
                or (r.headshot_id is None and (retired is None or r.since <= retired))]
        out.append(Series(
            headshot_id=h.id,  # type: ignore[arg-type]
            platform=h.platform,
            published_on=h.published_on,
            timezone=person.timezone,
            headline=words.STATE_HEADLINES[a.state],
            verdict=verdict_of(h, a, policy),
            band=a.band,
            bands=(bands.strong, bands.good, bands.weak),
            taken=[s.taken_at for s in samples],
            distances=[s.distance for s in samples],
            day_taken=[p.taken_at for p in a.points],
            day_distances=[p.distance for p in a.points],
            baseline=a.baseline,
            threshold=a.threshold,
            abs_threshold=policy.abs_threshold,
            baseline_margin=policy.baseline_margin,
            retired_at=retired,
            refresh_due_on=a.refresh_due_on if retired is None else None,
            refresh_overdue_on=a.refresh_overdue_on if retired is None else None,
            trend_slope_per_year=t.slope_per_year if t else None,
            trend_at_as_of=t.intercept_at_as_of if t else None,
            trend_start=window[0].taken_at if (t and window) else None,
            projected=a.projected_date if t else None,
            opened=[(r.since, r.kind) for r in mine if r.since <= as_of],
            resolved=[(r.resolved_at, r.kind) for r in mine if r.resolved_at is not None and r.resolved_at <= as_of],
        ))
    return out


def history_csv(data: dict[str, Any]) -> str:
    """``history`` as CSV: ``checkin_id, taken_at``, then per headshot
    ``headshot_<id>_<platform>, level_<id>, band_<id>`` (empty cells for no value)."""
    import csv
    import io

    headers = ["checkin_id", "taken_at"]
    for h in data["headshots"]:
        headers += [f"headshot_{h['id']}_{h['platform']}", f"level_{h['id']}", f"band_{h['id']}"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    for r in data["rows"]:
        row = [r["checkin_id"], r["taken_at"]]
        for d in r["distances"]:
            row += [d["distance"], d["level"], d["band"]]
        writer.writerow([("" if v is None else v) for v in row])
    return buf.getvalue()
