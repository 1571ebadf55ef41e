"""Property tests for freshness.rules (hypothesis; pure: no DB, no images)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshness.likeness import Sample
from freshness.rules import (
    DesiredReminder,
    HeadshotFacts,
    PersonFacts,
    Policy,
    ReminderKey,
    evaluate,
    headshot_analysis,
    reconcile,
)

UTC = timezone.utc
ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT = Policy()
TIMEZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def person(tz: str = "UTC", sector: str | None = None, cadence: int = 14,
           last_checkin_at: datetime | None = None) -> PersonFacts:
    return PersonFacts(1, sector, tz, cadence, ORIGIN - timedelta(days=10), last_checkin_at)


# ------------------------------------------------------------------- strategies


@st.composite
def day_offsets(draw: st.DrawFn, min_size: int, max_size: int) -> list[float]:
    """Strictly increasing offsets (in days from ORIGIN) at least 1 day apart, so
    that each offset is its own local day in any timezone."""
    gaps = draw(st.lists(st.integers(1, 30), min_size=min_size, max_size=max_size))
    hour = draw(st.floats(0, 0.4))
    out, t = [], 0
    for g in gaps:
        t += g
        out.append(t + hour)
    return out


@st.composite
def stable_with_one_outlier(draw: st.DrawFn) -> tuple[HeadshotFacts, str, list[datetime]]:
    """Stable same-person distances (a 0.10-wide band inside 0.30-0.45, narrower
    than the 0.12 baseline margin) with one outlier day at any distance up to 1.2."""
    lo = draw(st.floats(0.30, 0.35))
    offsets = draw(day_offsets(4, 20))
    outlier_at = draw(st.integers(0, len(offsets) - 1))
    outlier = draw(st.floats(0.0, 1.2))
    tz = draw(st.sampled_from(TIMEZONES))
    samples: list[Sample] = []
    for i, off in enumerate(offsets):
        t = ORIGIN + timedelta(days=off)
        if i == outlier_at:
            samples.append(Sample(t, outlier, i))
            continue
        for j in range(draw(st.integers(1, 3))):  # 1-3 selfies in the session
            samples.append(Sample(t + timedelta(minutes=10 * j), lo + draw(st.floats(0, 0.0999)), None))
    published_on = (ORIGIN + timedelta(days=draw(st.integers(-30, int(offsets[-1]))))).date()
    h = HeadshotFacts(1, "LinkedIn", published_on, True, True, None, tuple(samples))
    times = sorted({s.taken_at for s in samples})
    return h, tz, times


@st.composite
def world(draw: st.DrawFn) -> tuple[PersonFacts, list[HeadshotFacts], datetime]:
    """A person with 1-3 headshots of arbitrary histories, and an evaluation time T."""
    tz = draw(st.sampled_from(TIMEZONES))
    sector = draw(st.sampled_from([None, "healthcare", "Finance", "retail"]))
    cadence = draw(st.sampled_from([3, 7, 14, 30]))
    headshots = []
    horizon = 0.0
    for hid in range(1, draw(st.integers(1, 3)) + 1):
        offsets = draw(day_offsets(0, 16))
        level = draw(st.floats(0.30, 0.60))
        slope = draw(st.sampled_from([-0.001, 0.0, 0.0005, 0.001, 0.002, 0.004]))  # per day
        noise = draw(st.sampled_from([0.0, 0.02, 0.08]))
        samples = tuple(
            Sample(ORIGIN + timedelta(days=off),
                   max(0.0, level + slope * off + draw(st.floats(-noise, noise))), 100 * hid + i)
            for i, off in enumerate(offsets)
        )
        horizon = max([horizon, *offsets])
        published_on = (ORIGIN + timedelta(days=draw(st.integers(-800, 200)))).date()
        retired = draw(st.one_of(st.none(), st.integers(0, 500)))
        headshots.append(
            HeadshotFacts(
                hid, draw(st.sampled_from(["LinkedIn", "resume", "website"])), published_on,
                draw(st.booleans()), draw(st.booleans()),
                None if retired is None else ORIGIN + timedelta(days=retired), samples,
            )
        )
    last = draw(st.one_of(st.none(), st.integers(0, 500)))
    p = person(tz, sector, cadence, None if last is None else ORIGIN + timedelta(days=last, hours=3))
    as_of = ORIGIN + timedelta(days=draw(st.one_of(st.floats(0, horizon + 100), st.floats(horizon, horizon + 5))))
    return p, headshots, as_of


# ------------------------------------------------------------------- properties


@PROPS
@given(stable_with_one_outlier())
def test_it_never_opens_likeness_diverged_for_a_single_outlier(case: tuple[HeadshotFacts, str, list[datetime]]) -> None:
    h, tz, times = case
    p = person(tz)
    for t in [*times, times[-1] + timedelta(days=1)]:
        assert not headshot_analysis(h, p, DEFAULT, t).diverged
        assert all(r.kind != "likeness_diverged" for r in evaluate(p, [h], DEFAULT, t))


@PROPS
@given(world(), st.randoms(use_true_random=False))
def test_it_is_deterministic_idempotent_and_order_independent(
    w: tuple[PersonFacts, list[HeadshotFacts], datetime], rnd: random.Random
) -> None:
    p, hs, as_of = w
    first = evaluate(p, hs, DEFAULT, as_of)
    assert evaluate(p, hs, DEFAULT, as_of) == first
    assert evaluate(p, hs, DEFAULT, as_of) == first  # no hidden state between calls
    shuffled = []
    for h in rnd.sample(hs, len(hs)):
        samples = list(h.samples)
        rnd.shuffle(samples)
        shuffled.append(HeadshotFacts(h.headshot_id, h.platform, h.published_on, h.ai_generated,
                                      h.disclosed, h.retired_at, tuple(samples)))
    assert evaluate(p, shuffled, DEFAULT, as_of) == first
    keys = [r.key for r in first]
    assert len(keys) == len(set(keys))  # at most one reminder per (kind, headshot)


@PROPS
@given(world(), st.lists(st.floats(0, 1), max_size=8), st.lists(st.floats(0, 0.2), max_size=3))
def test_it_reaches_the_same_open_set_whatever_the_evaluation_history(
    w: tuple[PersonFacts, list[HeadshotFacts], datetime], fractions: list[float], after: list[float]
) -> None:
    p, hs, T = w
    start = ORIGIN - timedelta(days=30)
    # Earlier evaluation times in arbitrary (drawn) order, plus a few after T (a
    # clock that jumped ahead and came back) -- none of it may leave a trace.
    times = [start + (T - start) * f for f in fractions] + [T + timedelta(days=400 * f) for f in after]
    open_keys: frozenset[ReminderKey] = frozenset()
    for t in times:
        to_open, to_resolve = reconcile(open_keys, evaluate(p, hs, DEFAULT, t))
        assert not (to_open & open_keys) and to_resolve <= open_keys
        open_keys = (open_keys - to_resolve) | to_open
    to_open, to_resolve = reconcile(open_keys, evaluate(p, hs, DEFAULT, T))
    open_keys = (open_keys - to_resolve) | to_open
    direct: list[DesiredReminder] = evaluate(p, hs, DEFAULT, T)
    assert open_keys == frozenset(r.key for r in direct)
    # And once there, evaluating again at T changes nothing.
    assert reconcile(open_keys, direct) == (frozenset(), frozenset())


@PROPS
@given(world(), st.lists(st.tuples(st.floats(0.001, 200), st.floats(0, 1.2)), min_size=1, max_size=6))
def test_it_ignores_data_after_as_of(
    w: tuple[PersonFacts, list[HeadshotFacts], datetime], extra: list[tuple[float, float]]
) -> None:
    p, hs, as_of = w
    before = evaluate(p, hs, DEFAULT, as_of)
    later = [Sample(as_of + timedelta(days=dt), d) for dt, d in extra]
    extended = [
        HeadshotFacts(h.headshot_id, h.platform, h.published_on, h.ai_generated, h.disclosed,
                      h.retired_at, h.samples + tuple(later))
        for h in hs
    ]
    future = HeadshotFacts(99, "web", as_of.date() + timedelta(days=2), True, False, None, tuple(later))
    assert evaluate(p, [*extended, future], DEFAULT, as_of) == before
