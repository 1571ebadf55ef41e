"""Table-driven boundary tests for freshness.rules (pure: no DB, no images)."""

from __future__ import annotations

import ast
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from freshness.likeness import Sample
from freshness.rules import (
    KINDS,
    DesiredReminder,
    HeadshotFacts,
    PersonFacts,
    Policy,
    add_months,
    checkin_deadline,
    effective_threshold,
    evaluate,
    headshot_analysis,
    evaluate_with_analyses,
    reconcile,
    refresh_dates,
)

UTC = timezone.utc
DEFAULT = Policy()
START = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
PUBLISHED = date(2024, 1, 1)


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=UTC)


def person(**kw: Any) -> PersonFacts:
    values: dict[str, Any] = {
        "person_id": 1,
        "sector": None,
        "timezone": "UTC",
        "checkin_every_days": 7,
        "created_at": at(2023, 12, 1),
        "last_checkin_at": None,
    }
    values.update(kw)
    return PersonFacts(**values)


def samples(distances: list[float], start: datetime = START, every_days: float = 7) -> tuple[Sample, ...]:
    return tuple(Sample(start + timedelta(days=i * every_days), d, i + 1) for i, d in enumerate(distances))


def headshot(
    distances: list[float] = (),  # type: ignore[assignment]
    *,
    headshot_id: int = 1,
    published_on: date = PUBLISHED,
    ai_generated: bool = True,
    disclosed: bool = True,
    retired_at: datetime | None = None,
    every_days: float = 7,
    start: datetime = START,
    platform: str = "LinkedIn",
) -> HeadshotFacts:
    return HeadshotFacts(
        headshot_id=headshot_id,
        platform=platform,
        published_on=published_on,
        ai_generated=ai_generated,
        disclosed=disclosed,
        retired_at=retired_at,
        samples=samples(list(distances), start, every_days),
    )


def last_time(h: HeadshotFacts) -> datetime:
    return max(s.taken_at for s in h.samples)


def of_kind(reminders: list[DesiredReminder], kind: str) -> list[DesiredReminder]:
    return [r for r in reminders if r.kind == kind]


def run(h: HeadshotFacts, as_of: datetime | None = None, policy: Policy = DEFAULT, **pkw: Any) -> list[DesiredReminder]:
    as_of = as_of if as_of is not None else last_time(h)
    return evaluate(person(last_checkin_at=as_of, **pkw), [h], policy, as_of)


# =================================================================== likeness_diverged


@pytest.mark.parametrize(
    ("name", "distances", "published_on", "expected_open", "expected_threshold", "expected_baseline"),
    [
        # absolute threshold 0.60 (baseline 0.50 -> min(0.60, 0.62) = 0.60)
        ("k-1 exceedances stay closed", [0.50, 0.50, 0.50, 0.45, 0.61, 0.45], PUBLISHED, False, 0.60, 0.50),
        ("k exceedances open", [0.50, 0.50, 0.50, 0.61, 0.45, 0.60], PUBLISHED, True, 0.60, 0.50),
        ("exactly the threshold counts", [0.50, 0.50, 0.50, 0.60, 0.60], PUBLISHED, True, 0.60, 0.50),
        ("just below the threshold does not", [0.50, 0.50, 0.50, 0.599, 0.599, 0.599], PUBLISHED, False, 0.60, 0.50),
        # baseline + 0.12 below the absolute threshold
        ("baseline+margin reached", [0.35, 0.35, 0.35, 0.47, 0.47], PUBLISHED, True, 0.47, 0.35),
        ("baseline+margin not reached", [0.35, 0.35, 0.35, 0.46, 0.46, 0.46], PUBLISHED, False, 0.47, 0.35),
        # baseline + 0.12 above 0.60: the absolute threshold wins
        ("absolute wins over a high baseline", [0.55, 0.55, 0.55, 0.59, 0.59, 0.59], PUBLISHED, False, 0.60, 0.55),
        ("absolute reached with a high baseline", [0.55, 0.55, 0.55, 0.60, 0.60], PUBLISHED, True, 0.60, 0.55),
        # no baseline yet (fewer than 3 points after publication): only 0.60 applies
        ("no baseline, below absolute", [0.55, 0.55], PUBLISHED, False, 0.60, None),
        ("no baseline, above absolute", [0.61, 0.62], PUBLISHED, True, 0.60, None),
        # points before publication count for divergence but never for the baseline
        ("pre-publication points form no baseline", [0.35, 0.35, 0.35, 0.50, 0.50], date(2024, 1, 30), False, 0.60, None),
        ("same points with a baseline open", [0.35, 0.35, 0.35, 0.50, 0.50], PUBLISHED, True, 0.47, 0.35),
    ],
)
def test_it_opens_likeness_diverged_at_k_of_n_exceedances(
    name: str,
    distances: list[float],
    published_on: date,
    expected_open: bool,
    expected_threshold: float,
    expected_baseline: float | None,
) -> None:
    h = headshot(distances, published_on=published_on)
    got = of_kind(run(h), "likeness_diverged")
    assert bool(got) is expected_open, name
    a = headshot_analysis(h, person(), DEFAULT, last_time(h))
    assert a.diverged is expected_open
    desired, analyses = evaluate_with_analyses(person(), [h], DEFAULT, last_time(h))
    assert analyses == {h.headshot_id: a} and desired == evaluate(person(), [h], DEFAULT, last_time(h))
    assert a.threshold == pytest.approx(expected_threshold)
    assert a.baseline == (pytest.approx(expected_baseline) if expected_baseline is not None else None)
    if got:
        d = got[0].details
        assert d["threshold"] == pytest.approx(expected_threshold)
        assert d["baseline"] == (pytest.approx(expected_baseline) if expected_baseline is not None else None)
        assert d["window"] == 3
        # only the headshot whose very first check-ins were unlike it "never looked like" the person
        assert d["from_start"] is (name == "no baseline, above absolute")


@pytest.mark.parametrize(
    ("tail", "expected_open"),
    [
        ([0.59, 0.59, 0.59], True),  # in [0.57, 0.60): stays open
        ([0.57, 0.57, 0.57], True),  # exactly threshold - hysteresis: stays open
        ([0.5699, 0.5699, 0.5699], False),  # below threshold - hysteresis: closes
        ([0.40], True),  # one good selfie does not close it
        ([0.40, 0.40], False),  # two of the last three below 0.57: closes
        ([0.58, 0.50, 0.50], False),
        ([0.58, 0.50, 0.58], True),
    ],
)
def test_it_keeps_likeness_diverged_open_until_below_threshold_minus_hysteresis(
    tail: list[float], expected_open: bool
) -> None:
    h = headshot([0.50, 0.50, 0.50, 0.62, 0.62, *tail])
    got = of_kind(run(h), "likeness_diverged")
    assert bool(got) is expected_open
    if got:
        assert got[0].since == START + timedelta(days=4 * 7)  # the point that opened it
        assert got[0].details["resolve_below"] == pytest.approx(0.57)


def test_it_does_not_reopen_in_the_hysteresis_band_after_closing() -> None:
    # Open, close, then values in [0.57, 0.60): closed stays closed (opening needs >= 0.60).
    h = headshot([0.50, 0.50, 0.50, 0.62, 0.62, 0.40, 0.40, 0.59, 0.59, 0.59])
    assert of_kind(run(h), "likeness_diverged") == []


def test_it_dates_a_reopened_episode_from_its_own_first_point() -> None:
    h = headshot([0.50, 0.50, 0.50, 0.62, 0.62, 0.40, 0.40, 0.40, 0.65, 0.66])
    (r,) = of_kind(run(h), "likeness_diverged")
    assert r.since == START + timedelta(days=9 * 7)


def test_it_says_plainly_when_a_headshot_never_looked_like_the_person() -> None:
    h = headshot([0.63, 0.64, 0.62, 0.63], ai_generated=True, disclosed=False)
    (r,) = of_kind(run(h), "likeness_diverged")
    assert r.details["from_start"] is True
    assert r.details["baseline"] == pytest.approx(0.63)
    assert "has never looked like you" in r.message
    assert "its starting likeness (the median of your first 3 check-ins after publication) was 0.63, diverged" \
        in r.message
    assert "AI-generated" in r.message  # undisclosed AI headshot: the message says to disclose
    assert r.since == START + timedelta(days=7)  # opened at the second point, before the baseline existed


def test_it_says_a_headshot_never_looked_like_the_person_before_a_baseline_exists() -> None:
    (r,) = of_kind(run(headshot([0.61, 0.62])), "likeness_diverged")
    assert r.details["baseline"] is None
    assert r.details["from_start"] is True
    assert "has never looked like you" in r.message and "no longer" not in r.message
    assert "your first check-ins after it was published were already at 0.61, diverged" in r.message
    assert r.details["exceedances"] == 2
    assert r.details["level"] == pytest.approx(0.615)


def test_it_reports_a_null_baseline_before_one_exists() -> None:
    # three alike check-ins before publication (no baseline: they are not "after"), then two unlike
    h = headshot([0.40, 0.40, 0.40, 0.61, 0.62], published_on=START.date() + timedelta(days=20))
    (r,) = of_kind(run(h), "likeness_diverged")
    assert r.details["baseline"] is None and r.details["from_start"] is False
    assert "no longer looks like you" in r.message and "no baseline yet" in r.message


def test_it_does_not_call_a_headshot_never_alike_when_it_diverged_later() -> None:
    # alike at first, unlike from the third point on: the episode opened after the first n points
    (r,) = of_kind(run(headshot([0.40, 0.40, 0.62, 0.62])), "likeness_diverged")
    assert r.details["from_start"] is False and r.details["baseline"] == pytest.approx(0.40)
    assert "looks much less like you than when it was published" in r.message


def test_it_explains_a_baseline_relative_divergence() -> None:
    (r,) = of_kind(run(headshot([0.35, 0.35, 0.35, 0.48, 0.49])), "likeness_diverged")
    assert "0.35 + 0.12" in r.message
    assert "less like you than when it was published" in r.message
    assert "0.48, good" in r.message  # level = median(0.35, 0.48, 0.49)
    assert r.details["exceedances"] == 2


def test_it_honours_custom_k_and_n() -> None:
    policy = DEFAULT.with_overrides({"diverge_k": 3, "diverge_n": 5})
    two = headshot([0.50, 0.50, 0.50, 0.61, 0.40, 0.61])
    three = headshot([0.50, 0.50, 0.50, 0.61, 0.40, 0.61, 0.40, 0.61])
    assert of_kind(run(two, policy=policy), "likeness_diverged") == []
    assert len(of_kind(run(three, policy=policy), "likeness_diverged")) == 1


def test_it_ignores_samples_after_as_of() -> None:
    h = headshot([0.45, 0.45, 0.45, 0.45, 0.70, 0.70, 0.70])
    as_of = START + timedelta(days=3 * 7, hours=1)
    assert of_kind(evaluate(person(last_checkin_at=as_of), [h], DEFAULT, as_of), "likeness_diverged") == []
    assert len(of_kind(run(h), "likeness_diverged")) == 1


# =================================================================== likeness_drifting


MONTH = 30  # days between check-ins in the drifting tests


def drift_series(step: float, count: int = 8, base: float = 0.35) -> list[float]:
    """A steady rise of ``step`` per check-in from ``base``."""
    return [round(base + step * i, 6) for i in range(count)]


def per_check_in(per_year: float) -> float:
    """The step per monthly check-in of a rise of ``per_year``."""
    return per_year * MONTH / 365.25


#: First cut of the rule (before issue 12), as overrides.
FIRST_CUT = {"drift_min_points": 4, "drift_min_span_days": 60, "drift_confidence": 0.90,
             "drift_min_slope_per_year": 0.0, "drift_min_rise_fraction": 0.0}

# 8 monthly points; pairwise slopes <= 0: 6 and 5 of 28. With 8 points the 95 % interval's
# lower end is the 6th smallest slope (the 7th at 90 %).
SIX_DOWN = [0.39, 0.35, 0.41, 0.43, 0.47, 0.43, 0.47, 0.47]
FIVE_DOWN = [0.39, 0.35, 0.41, 0.43, 0.47, 0.44, 0.47, 0.47]


@pytest.mark.parametrize(
    ("name", "distances", "every_days", "policy", "published_on", "expected"),
    [
        # +0.015 a month (0.18 a year) from 0.35: baseline 0.365, threshold 0.485, level 0.44
        # (0.075 above the baseline, half the way is 0.06), crossing in 60 days
        ("steady rise", drift_series(0.015), MONTH, DEFAULT, PUBLISHED, True),
        ("falling", drift_series(-0.015, base=0.50), MONTH, DEFAULT, PUBLISHED, False),
        ("flat", [0.45] * 8, MONTH, DEFAULT, PUBLISHED, False),
        # points: 5 or 6 of them over 160-200 days (min 6)
        ("5 points", drift_series(0.035, 5), 40, DEFAULT, PUBLISHED, False),
        ("6 points", drift_series(0.035, 6), 40, DEFAULT, PUBLISHED, True),
        ("5 points when 5 are enough", drift_series(0.035, 5), 40,
         DEFAULT.with_overrides({"drift_min_points": 5}), PUBLISHED, True),
        # span: 6 points over 149 or 150 days (min 150)
        ("span 149 days", drift_series(0.035, 6), 29.8, DEFAULT, PUBLISHED, False),
        ("span 150 days", drift_series(0.035, 6), MONTH, DEFAULT, PUBLISHED, True),
        # confidence: the 95 % lower bound is the 6th smallest pairwise slope
        ("6 of 28 slopes <= 0: lower 95 % bound 0", SIX_DOWN, MONTH, DEFAULT, PUBLISHED, False),
        ("5 of 28 slopes <= 0: lower 95 % bound > 0", FIVE_DOWN, MONTH, DEFAULT, PUBLISHED, True),
        ("6 of 28 slopes <= 0 at 90 %", SIX_DOWN, MONTH, DEFAULT.with_overrides({"drift_confidence": 0.90}),
         PUBLISHED, True),
        # minimum slope 0.10 a year (12 points: level 0.07 above the baseline, crossing in < 150 days)
        ("0.098 a year", drift_series(per_check_in(0.098), 12), MONTH, DEFAULT, PUBLISHED, False),
        ("0.102 a year", drift_series(per_check_in(0.102), 12), MONTH, DEFAULT, PUBLISHED, True),
        # the level must be half the way from the baseline to the threshold: 3 steps >= 0.06
        ("level 0.0585 above the baseline", drift_series(0.0195, 6), MONTH, DEFAULT, PUBLISHED, False),
        ("level 0.0615 above the baseline", drift_series(0.0205, 6), MONTH, DEFAULT, PUBLISHED, True),
        # with a high baseline the threshold is 0.60: half of the way left (about 0.043)
        ("baseline 0.514: level 0.042 above, needs 0.043", drift_series(0.014, 6, 0.50), MONTH, DEFAULT,
         PUBLISHED, False),
        ("baseline 0.5146: level 0.0438 above, needs 0.0427", drift_series(0.0146, 6, 0.50), MONTH, DEFAULT,
         PUBLISHED, True),
        # no baseline (fewer than 3 points after publication): nothing to have risen from
        ("no baseline", drift_series(0.03), MONTH, DEFAULT, date(2024, 7, 1), False),
        ("no baseline, no level condition", drift_series(0.03), MONTH,
         DEFAULT.with_overrides({"drift_min_rise_fraction": 0}), date(2024, 7, 1), True),
        # horizon: +0.005 a month from 0.35: threshold 0.475 reached from 0.385 in 540 days
        ("crossing beyond 180 days", drift_series(0.005), MONTH,
         DEFAULT.with_overrides({"drift_min_slope_per_year": 0, "drift_min_rise_fraction": 0}), PUBLISHED, False),
        ("same with a 600-day horizon", drift_series(0.005), MONTH,
         DEFAULT.with_overrides({"drift_min_slope_per_year": 0, "drift_min_rise_fraction": 0,
                                 "drift_horizon_days": 600}), PUBLISHED, True),
    ],
)
def test_it_raises_likeness_drifting_only_for_a_significant_sustained_rise(
    name: str, distances: list[float], every_days: float, policy: Policy, published_on: date, expected: bool
) -> None:
    h = headshot(distances, every_days=every_days, published_on=published_on)
    got = of_kind(run(h, policy=policy), "likeness_drifting")
    assert bool(got) is expected, name
    assert of_kind(run(h, policy=policy), "likeness_diverged") == []


# The false alarm: noisy same-person points, 4-7 of them over 91-182 days.
NOISY = [0.36, 0.33, 0.38, 0.35, 0.41, 0.40, 0.43]


def test_it_no_longer_raises_the_first_cuts_false_alarm() -> None:
    h = headshot(NOISY, every_days=MONTH)
    first = of_kind(run(h, policy=DEFAULT.with_overrides(FIRST_CUT)), "likeness_drifting")
    assert len(first) == 1 and 0 < first[0].details["low_per_year"] < 0.1  # "just above 0"
    a = headshot_analysis(h, person(), DEFAULT, last_time(h))
    assert a.trend is not None and a.trend.n == 7 and a.trend.slope_per_year > 0
    assert a.trend.low_per_year <= 0 and not a.drifting
    assert of_kind(run(h), "likeness_drifting") == []


def test_it_carries_the_projection_in_drifting_details() -> None:
    h = headshot(drift_series(0.015), every_days=MONTH)
    as_of = last_time(h)
    (r,) = of_kind(run(h), "likeness_drifting")
    d = r.details
    assert d["threshold"] == pytest.approx(0.485)
    assert d["baseline"] == pytest.approx(0.365) and d["level"] == pytest.approx(0.44)
    assert d["rise"] == pytest.approx(0.075) and d["rise_needed"] == pytest.approx(0.06)
    assert d["min_slope_per_year"] == 0.10 and d["confidence"] == 0.95
    assert d["n"] == 8 and d["span_days"] == 210
    assert d["slope_per_year"] == pytest.approx(round(0.015 / MONTH * 365.25, 4))
    assert d["low_per_year"] > 0
    assert d["high_per_year"] >= d["slope_per_year"]
    assert d["projected_date"] == (as_of + timedelta(days=60)).date().isoformat()
    # since = when the drift began: evaluated as of the check-in before the last it already held,
    # as of the one before that it did not (too few points)
    previous = as_of - timedelta(days=MONTH)
    assert of_kind(run(h, previous), "likeness_drifting")
    assert not of_kind(run(h, previous - timedelta(days=MONTH)), "likeness_drifting")
    assert r.since == previous


def test_it_keeps_the_start_of_a_drift_while_it_goes_on() -> None:
    shorter = headshot(drift_series(0.015)[:-1], every_days=MONTH)
    longer = headshot(drift_series(0.015) + [0.455], every_days=MONTH)
    (first,) = of_kind(run(shorter), "likeness_drifting")
    (later,) = of_kind(run(longer), "likeness_drifting")
    assert first.since == later.since == last_time(shorter)  # a new drifting check-in does not move it


def test_it_does_not_raise_drifting_while_diverged() -> None:
    h = headshot([0.40, 0.40, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65], every_days=MONTH)
    reminders = run(h)
    assert len(of_kind(reminders, "likeness_diverged")) == 1
    assert of_kind(reminders, "likeness_drifting") == []
    a = headshot_analysis(h, person(), DEFAULT, last_time(h))
    assert a.trend is not None and a.trend.low_per_year > 0 and not a.drifting


def test_it_only_trends_the_last_365_days() -> None:
    # A rise long ago followed by a flat year: no drifting now.
    old = samples(drift_series(0.015), START, MONTH)
    flat = samples([0.45] * 8, START + timedelta(days=400), 40)
    h = HeadshotFacts(1, "web", PUBLISHED, False, False, None, old + flat)
    as_of = max(s.taken_at for s in flat)
    a = headshot_analysis(h, person(), DEFAULT, as_of)
    assert a.trend is not None and a.trend.n == 8
    assert of_kind(evaluate(person(last_checkin_at=as_of), [h], DEFAULT, as_of), "likeness_drifting") == []


# =================================================================== refresh_due / refresh_overdue


@pytest.mark.parametrize(
    ("published_on", "as_of", "expected", "since"),
    [
        (date(2024, 1, 15), at(2025, 1, 14), None, None),
        (date(2024, 1, 15), at(2025, 1, 14, 23, 59, 59), None, None),
        (date(2024, 1, 15), at(2025, 1, 15), "refresh_due", at(2025, 1, 15)),
        (date(2024, 1, 15), at(2025, 1, 16), "refresh_due", at(2025, 1, 15)),
        (date(2024, 1, 15), at(2026, 1, 14), "refresh_due", at(2025, 1, 15)),
        (date(2024, 1, 15), at(2026, 1, 14, 23, 59, 59), "refresh_due", at(2025, 1, 15)),
        (date(2024, 1, 15), at(2026, 1, 15), "refresh_overdue", at(2026, 1, 15)),
        (date(2024, 1, 15), at(2026, 1, 16), "refresh_overdue", at(2026, 1, 15)),
        (date(2024, 1, 15), at(2030, 1, 1), "refresh_overdue", at(2026, 1, 15)),
        # 29 February clamps to 28 February
        (date(2024, 2, 29), at(2025, 2, 27), None, None),
        (date(2024, 2, 29), at(2025, 2, 28), "refresh_due", at(2025, 2, 28)),
        (date(2024, 2, 29), at(2025, 3, 1), "refresh_due", at(2025, 2, 28)),
        (date(2024, 2, 29), at(2026, 2, 27), "refresh_due", at(2025, 2, 28)),
        (date(2024, 2, 29), at(2026, 2, 28), "refresh_overdue", at(2026, 2, 28)),
    ],
)
def test_it_raises_refresh_due_at_12_months_and_overdue_at_24(
    published_on: date, as_of: datetime, expected: str | None, since: datetime | None
) -> None:
    h = headshot([], published_on=published_on)
    got = [r for r in evaluate(person(last_checkin_at=as_of), [h], DEFAULT, as_of) if r.kind.startswith("refresh")]
    if expected is None:
        assert got == []
    else:
        (r,) = got
        assert r.kind == expected
        assert r.since == since
        assert r.details["published_on"] == published_on.isoformat()


def test_it_honours_refresh_month_overrides() -> None:
    policy = DEFAULT.with_overrides({"refresh_due_months": 6, "refresh_overdue_months": 18})
    h = headshot([], published_on=date(2024, 1, 31))
    assert refresh_dates(date(2024, 1, 31), policy) == (date(2024, 7, 31), date(2025, 7, 31))
    kinds = lambda t: [r.kind for r in evaluate(person(last_checkin_at=t), [h], policy, t)]  # noqa: E731
    assert kinds(at(2024, 7, 30)) == []
    assert kinds(at(2024, 7, 31)) == ["refresh_due"]
    assert kinds(at(2025, 7, 31)) == ["refresh_overdue"]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 5, 15), 0, date(2024, 5, 15)),
    ],
)
def test_it_adds_calendar_months_clamping_the_day(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


# =================================================================== checkin_missed


@pytest.mark.parametrize(
    ("cadence", "grace_days"),
    [
        (7, 3.5),  # cadence / 2 = 3.5 > 3
        (4, 3.0),  # cadence / 2 = 2 < 3: the 3-day minimum applies
        (6, 3.0),  # equal
        (30, 15.0),
    ],
)
@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(days=-1), False),  # day before
        (timedelta(seconds=-1), False),
        (timedelta(0), True),  # the moment it becomes missed
        (timedelta(days=1), True),  # day after
    ],
)
def test_it_raises_checkin_missed_after_cadence_plus_grace(
    cadence: int, grace_days: float, offset: timedelta, expected: bool
) -> None:
    last = at(2024, 3, 1, 12)
    missed_at = last + timedelta(days=cadence + grace_days)
    assert checkin_deadline(last, cadence, DEFAULT) == (last + timedelta(days=cadence), missed_at)
    p = person(checkin_every_days=cadence, last_checkin_at=last)
    got = of_kind(evaluate(p, [], DEFAULT, missed_at + offset), "checkin_missed")
    assert bool(got) is expected
    if got:
        (r,) = got
        assert r.headshot_id is None
        assert r.since == missed_at
        assert r.details["last_checkin_at"] == last.isoformat()
        assert r.details["due_at"] == (last + timedelta(days=cadence)).isoformat()
        assert r.details["overdue_days"] == int((missed_at + offset - last).total_seconds() // 86400) - cadence


def test_it_counts_from_account_creation_without_any_checkin() -> None:
    created = at(2024, 1, 1)
    p = person(created_at=created, last_checkin_at=None, checkin_every_days=7)
    assert of_kind(evaluate(p, [], DEFAULT, at(2024, 1, 11, 11)), "checkin_missed") == []
    (r,) = of_kind(evaluate(p, [], DEFAULT, at(2024, 1, 11, 12)), "checkin_missed")
    assert r.details["last_checkin_at"] is None
    assert r.details["counted_from"] == created.isoformat()


def test_it_treats_samples_up_to_as_of_as_checkins_and_ignores_later_ones() -> None:
    # person.last_checkin_at lies after as_of (a historical evaluation): the latest
    # sample at or before as_of is the last check-in known at that time.
    h = headshot([0.4, 0.4], start=at(2024, 3, 1, 12), every_days=30)  # 1 March, 31 March
    p = person(last_checkin_at=at(2024, 3, 31, 12), checkin_every_days=7)
    assert of_kind(evaluate(p, [h], DEFAULT, at(2024, 3, 12)), "checkin_missed") != []
    assert of_kind(evaluate(p, [h], DEFAULT, at(2024, 3, 11, 23)), "checkin_missed") == []
    assert of_kind(evaluate(p, [h], DEFAULT, at(2024, 4, 1)), "checkin_missed") == []


# =================================================================== disclosure_missing


@pytest.mark.parametrize("ai_generated", [True, False])
@pytest.mark.parametrize("disclosed", [True, False])
@pytest.mark.parametrize(
    ("sector", "critical"),
    [
        ("healthcare", True),
        ("Legal", True),
        (" GOVERNMENT ", True),
        ("finance", True),
        ("retail", False),
        ("", False),
        (None, False),
    ],
)
def test_it_raises_disclosure_missing_for_undisclosed_ai_in_trust_critical_sectors(
    ai_generated: bool, disclosed: bool, sector: str | None, critical: bool
) -> None:
    h = headshot([], ai_generated=ai_generated, disclosed=disclosed)
    as_of = at(2024, 2, 1)
    got = of_kind(evaluate(person(sector=sector, last_checkin_at=as_of), [h], DEFAULT, as_of), "disclosure_missing")
    assert bool(got) is (ai_generated and not disclosed and critical)
    if got:
        assert got[0].headshot_id == 1
        assert got[0].since == at(2024, 1, 1)
        assert got[0].details["sector"] == sector.strip().lower()  # type: ignore[union-attr]


def test_it_honours_custom_trust_critical_sectors() -> None:
    policy = DEFAULT.with_overrides({"trust_critical_sectors": ["Education", "retail"]})
    assert policy.trust_critical_sectors == ("education", "retail")
    h = headshot([], ai_generated=True, disclosed=False)
    as_of = at(2024, 2, 1)
    kinds = lambda s: [r.kind for r in evaluate(person(sector=s, last_checkin_at=as_of), [h], policy, as_of)]  # noqa: E731
    assert kinds("education") == ["disclosure_missing"]
    assert kinds("healthcare") == []


# =================================================================== active headshots


def noisy_everything(**kw: Any) -> HeadshotFacts:
    """An undisclosed AI headshot, diverged, 3 years old."""
    return headshot([0.70, 0.70, 0.70], ai_generated=True, disclosed=False, published_on=date(2021, 1, 1), **kw)


@pytest.mark.parametrize(
    ("retired_offset", "expected_kinds"),
    [
        (None, {"likeness_diverged", "refresh_overdue", "disclosure_missing"}),
        (timedelta(seconds=1), {"likeness_diverged", "refresh_overdue", "disclosure_missing"}),  # retired later
        (timedelta(0), set()),  # retired exactly at as_of
        (timedelta(days=-30), set()),
    ],
)
def test_it_raises_nothing_for_retired_headshots(retired_offset: timedelta | None, expected_kinds: set[str]) -> None:
    as_of = START + timedelta(days=20)
    h = noisy_everything(retired_at=None if retired_offset is None else as_of + retired_offset)
    p = person(sector="healthcare", last_checkin_at=as_of)
    assert {r.kind for r in evaluate(p, [h], DEFAULT, as_of)} == expected_kinds


@pytest.mark.parametrize(
    ("published_on", "as_of", "active"),
    [
        (date(2024, 6, 2), at(2024, 6, 1, 23, 59), False),
        (date(2024, 6, 2), at(2024, 6, 2), True),
    ],
)
def test_it_ignores_headshots_published_after_as_of(published_on: date, as_of: datetime, active: bool) -> None:
    h = headshot([0.70, 0.70, 0.70], published_on=published_on, ai_generated=True, disclosed=False,
                 start=as_of - timedelta(days=30))
    p = person(sector="legal", last_checkin_at=as_of)
    got = [r for r in evaluate(p, [h], DEFAULT, as_of) if r.headshot_id is not None]
    assert bool(got) is active
    assert headshot_analysis(h, p, DEFAULT, as_of).active is active


# =================================================================== evaluate: shape, messages


def test_it_sorts_person_reminders_first_then_headshots_by_id_and_kind() -> None:
    as_of = at(2026, 6, 1)
    hs = [noisy_everything(headshot_id=7), noisy_everything(headshot_id=3)]
    got = evaluate(person(sector="finance"), hs, DEFAULT, as_of)
    keys = [r.key for r in got]
    assert keys[0] == ("checkin_missed", None)
    assert keys[1:] == sorted(keys[1:], key=lambda k: (k[1], KINDS.index(k[0])))
    assert [r.key for r in evaluate(person(sector="finance"), list(reversed(hs)), DEFAULT, as_of)] == keys


def test_it_refuses_naive_as_of_and_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(person(), [], DEFAULT, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="duplicate"):
        evaluate(person(), [headshot(), headshot()], DEFAULT, at(2024, 2, 1))


@pytest.mark.parametrize(
    "field_values, message",
    [
        ({"created_at": datetime(2024, 1, 1)}, "PersonFacts.created_at must be timezone-aware"),
        ({"last_checkin_at": datetime(2024, 1, 1)}, "PersonFacts.last_checkin_at must be timezone-aware"),
        ({"timezone": "Nowhere/Town"}, "unknown timezone 'Nowhere/Town'"),
        ({"checkin_every_days": 0}, "PersonFacts.checkin_every_days must be >= 1, got 0"),
    ],
)
def test_it_refuses_invalid_person_facts(field_values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        person(**field_values)


def test_it_refuses_a_naive_retirement_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        headshot([], retired_at=datetime(2024, 1, 1))


def all_kinds_reminders() -> list[DesiredReminder]:
    as_of = START + timedelta(days=15 * 5)
    drifting = headshot(drift_series(0.015), every_days=MONTH, headshot_id=1, published_on=date(2023, 1, 1),
                        disclosed=False, start=as_of - timedelta(days=7 * MONTH))
    diverged = headshot([0.63, 0.64, 0.62], headshot_id=2, published_on=date(2024, 1, 1))
    due = headshot([0.35, 0.36, 0.34], headshot_id=3, published_on=date(2022, 12, 1))
    p = person(sector="healthcare", last_checkin_at=at(2024, 1, 1))
    out = evaluate(p, [drifting, diverged, due], DEFAULT, as_of)
    out += evaluate(p, [headshot([0.40, 0.41, 0.42], headshot_id=4, published_on=date(2022, 1, 1))], DEFAULT, as_of)
    return out


def test_it_produces_every_kind_with_json_serialisable_details() -> None:
    got = all_kinds_reminders()
    assert {r.kind for r in got} == set(KINDS)
    for r in got:
        json.dumps(r.details)
        for value in r.details.values():
            if isinstance(value, float):
                assert value == round(value, 4)


def test_it_never_shows_a_distance_as_a_percentage() -> None:
    for r in all_kinds_reminders():
        # The only percentage anywhere is the confidence level of the trend interval.
        assert re.findall(r"\d+(?:\.\d+)?\s*%", r.message) in ([], [f"{DEFAULT.drift_confidence:.0%}"]), r.message
        assert "percent" not in r.message.lower()


def test_it_shows_distances_with_two_decimals_and_the_band_word() -> None:
    (r,) = of_kind(run(headshot([0.50, 0.50, 0.50, 0.612, 0.655])), "likeness_diverged")
    assert "0.61, diverged" in r.message
    assert re.search(r"\b0\.\d{3,}", r.message) is None


def test_it_tells_the_person_what_to_do_in_every_message() -> None:
    actions = {
        "likeness_diverged": ("Refresh the headshot", "Replace it with a headshot"),
        "likeness_drifting": ("Plan a refresh",),
        "refresh_due": ("generate a new headshot",),
        "refresh_overdue": ("retire the old one",),
        "checkin_missed": ("Take a check-in selfie",),
        "disclosure_missing": ("Say plainly that it is AI-generated",),
    }
    seen = set()
    for r in all_kinds_reminders():
        assert any(a in r.message for a in actions[r.kind]), r.kind
        seen.add(r.kind)
    assert seen == set(KINDS)


def test_it_agrees_with_the_status_analysis() -> None:
    h = headshot(drift_series(0.015, base=0.40), every_days=MONTH)
    as_of = last_time(h)
    a = headshot_analysis(h, person(), DEFAULT, as_of)
    assert a.has_baseline and a.baseline == pytest.approx(0.415)
    assert a.level == pytest.approx(0.49)
    assert a.band == "good"
    assert a.threshold == pytest.approx(effective_threshold(0.415, DEFAULT)) == pytest.approx(0.535)
    assert a.drifting is True
    assert a.projected_date is not None
    assert a.refresh_due_on == date(2025, 1, 1)
    assert a.refresh_overdue_on == date(2026, 1, 1)
    (r,) = of_kind(run(h), "likeness_drifting")
    assert r.details["projected_date"] == a.projected_date.date().isoformat()


def test_it_computes_the_effective_threshold() -> None:
    assert effective_threshold(None, DEFAULT) == 0.60
    assert effective_threshold(0.35, DEFAULT) == pytest.approx(0.47)
    assert effective_threshold(0.55, DEFAULT) == 0.60
    assert effective_threshold(0.70, DEFAULT) == 0.60


# =================================================================== reconcile


def test_it_diffs_open_keys_against_desired_reminders() -> None:
    desired = [
        DesiredReminder("refresh_due", 1, at(2025, 1, 1), "m", {}),
        DesiredReminder("checkin_missed", None, at(2025, 1, 1), "m", {}),
    ]
    open_keys = frozenset({("refresh_due", 1), ("likeness_diverged", 2)})
    to_open, to_resolve = reconcile(open_keys, desired)
    assert to_open == {("checkin_missed", None)}
    assert to_resolve == {("likeness_diverged", 2)}
    assert (open_keys - to_resolve) | to_open == {r.key for r in desired}


def test_it_refuses_unknown_reminder_kinds() -> None:
    with pytest.raises(ValueError, match="unknown reminder kind"):
        DesiredReminder("likeness_gone", 1, at(2025, 1, 1), "m", {})


# =================================================================== Policy


def test_it_has_the_design_defaults() -> None:
    p = Policy()
    assert (p.abs_threshold, p.baseline_margin, p.diverge_k, p.diverge_n, p.hysteresis) == (0.60, 0.12, 2, 3, 0.03)
    assert (p.baseline_n, p.level_n) == (3, 3)
    assert (p.drift_min_points, p.drift_min_span_days, p.drift_window_days) == (6, 150, 365)
    assert (p.drift_confidence, p.drift_horizon_days) == (0.95, 180)
    assert (p.drift_min_slope_per_year, p.drift_min_rise_fraction) == (0.10, 0.5)
    assert (p.refresh_due_months, p.refresh_overdue_months, p.checkin_grace_min_days) == (12, 24, 3)
    assert p.trust_critical_sectors == ("healthcare", "legal", "government", "finance")
    assert (p.band_strong_below, p.band_good_below, p.band_weak_below) == (0.40, 0.50, 0.60)


def test_it_round_trips_policy_through_as_dict() -> None:
    p = Policy().with_overrides({"abs_threshold": 0.58, "diverge_k": 3, "diverge_n": 4, "trust_critical_sectors": "legal"})
    d = p.as_dict()
    json.dumps(d)
    assert set(d) == set(Policy.field_names())
    assert Policy().with_overrides(d) == p


def test_it_accepts_integral_floats_for_integer_fields_and_ints_for_floats() -> None:
    p = Policy().with_overrides({"refresh_due_months": 18.0, "abs_threshold": 1})
    assert p.refresh_due_months == 18 and isinstance(p.refresh_due_months, int)
    assert p.abs_threshold == 1.0 and isinstance(p.abs_threshold, float)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"abs_treshold": 0.5}, r"unknown override\(s\) abs_treshold; accepted keys: abs_threshold, baseline_margin"),
        ({"refresh_due_months": 5}, r"refresh_due_months must be an integer in \[6, 36\], got 5"),
        ({"refresh_overdue_months": 37}, r"refresh_overdue_months must be an integer in \[6, 36\]"),
        ({"refresh_due_months": 24}, r"refresh_due_months \(24\) must be < refresh_overdue_months \(24\)"),
        ({"refresh_due_months": 18, "refresh_overdue_months": 12}, r"must be < refresh_overdue_months"),
        ({"refresh_due_months": 12.5}, r"refresh_due_months must be an integer"),
        ({"abs_threshold": 0}, r"abs_threshold must be a number in \(0, 2\)"),
        ({"abs_threshold": 2.0}, r"abs_threshold must be a number in \(0, 2\)"),
        ({"abs_threshold": float("nan")}, r"abs_threshold must be a number"),
        ({"abs_threshold": "0.6"}, r"abs_threshold must be a number"),
        ({"baseline_margin": -0.1}, r"baseline_margin must be a number"),
        ({"diverge_k": 4}, r"diverge_k \(4\) must be <= diverge_n \(3\)"),
        ({"diverge_k": 0}, r"diverge_k must be an integer in \[1, 30\]"),
        ({"diverge_k": True}, r"diverge_k must be an integer"),
        ({"hysteresis": 0.6}, r"hysteresis must be a number in \[0, 0.5\)"),
        ({"drift_confidence": 1.0}, r"drift_confidence must be a number in \(0.5, 1\)"),
        ({"drift_min_points": 2}, r"drift_min_points must be an integer in \[3, 1000\]"),
        ({"drift_min_span_days": 400}, r"drift_min_span_days \(400\) must be <= drift_window_days \(365\)"),
        ({"drift_min_slope_per_year": -0.01}, r"drift_min_slope_per_year must be a number in \[0, 2\)"),
        ({"drift_min_slope_per_year": 2}, r"drift_min_slope_per_year must be a number in \[0, 2\)"),
        ({"drift_min_rise_fraction": 1}, r"drift_min_rise_fraction must be a number in \[0, 1\)"),
        ({"drift_min_rise_fraction": -0.1}, r"drift_min_rise_fraction must be a number in \[0, 1\)"),
        ({"checkin_grace_min_days": -1}, r"checkin_grace_min_days must be a number"),
        ({"band_good_below": 0.35}, r"band cut-offs must increase"),
        ({"trust_critical_sectors": 5}, r"trust_critical_sectors must be a list"),
        ({"trust_critical_sectors": ["legal", ""]}, r"entries must be non-empty strings"),
        ({"level_n": None}, r"level_n must not be null"),
    ],
)
def test_it_validates_policy_overrides(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy().with_overrides(overrides)


def test_it_refuses_non_mapping_overrides() -> None:
    with pytest.raises(ValueError, match="mapping"):
        Policy().with_overrides([("abs_threshold", 0.5)])  # type: ignore[arg-type]
    assert Policy().with_overrides(None) == Policy()
    assert Policy().with_overrides({}) == Policy()


def test_it_validates_direct_policy_construction_too() -> None:
    with pytest.raises(ValueError, match="diverge_k"):
        Policy(diverge_k=5, diverge_n=3)


# =================================================================== dependency rule


@pytest.mark.parametrize(
    ("module", "allowed_project"),
    [("likeness.py", set()), ("rules.py", {"freshness.likeness", "freshness.words"}), ("words.py", set())],
)
def test_it_keeps_the_pure_modules_free_of_io_dependencies(module: str, allowed_project: set[str]) -> None:
    path = Path(__file__).resolve().parent.parent / "freshness" / module
    tree = ast.parse(path.read_text(encoding="utf-8"))
    stdlib_ok = {
        "__future__", "calendar", "collections", "dataclasses", "datetime", "math",
        "statistics", "typing", "zoneinfo", "numbers",
    }
    third_party_ok: set[str] = set()  # not even numpy: `freshness status` starts without it
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if top == "freshness":
                assert name in allowed_project, f"{module} imports {name}"
            else:
                assert top in stdlib_ok | third_party_ok, f"{module} imports {name}"


# =================================================================== time zones, through the rules

PAGO_PAGO = "Pacific/Pago_Pago"  # UTC-11: local 23:30 and 00:30 fall on the same UTC day
KIRITIMATI = "Pacific/Kiritimati"  # UTC+14


def _around_midnight(tz: str) -> tuple[datetime, datetime]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    late = datetime(2024, 3, 4, 23, 30, tzinfo=zone).astimezone(UTC)
    early = datetime(2024, 3, 5, 0, 30, tzinfo=zone).astimezone(UTC)
    return late, early


def test_it_counts_selfies_either_side_of_local_midnight_as_two_check_ins() -> None:
    late, early = _around_midnight(PAGO_PAGO)
    assert late.date() == early.date()  # one UTC day, two local days
    alike = [Sample(START + timedelta(days=7 * i), 0.40, i + 1) for i in range(3)]
    h = HeadshotFacts(1, "linkedin", PUBLISHED, True, True, None,
                      (*alike, Sample(late, 0.65, 10), Sample(early, 0.66, 11)))
    as_of = early + timedelta(hours=1)
    # in the person's zone the two unlike selfies are two check-in days: 2 of the last 3 -> diverged
    local = evaluate(person(timezone=PAGO_PAGO, last_checkin_at=early), [h], DEFAULT, as_of)
    assert [r.kind for r in local] == ["likeness_diverged"]
    # read in UTC they would be one day (their median), one unlike point: nothing opens
    assert evaluate(person(timezone="UTC", last_checkin_at=early), [h], DEFAULT, as_of) == []


def test_it_starts_refresh_windows_at_local_midnight() -> None:
    from zoneinfo import ZoneInfo

    h = HeadshotFacts(1, "linkedin", date(2024, 3, 5), True, True, None, ())
    due_local = datetime(2025, 3, 5, 0, 0, tzinfo=ZoneInfo(KIRITIMATI))
    p = person(timezone=KIRITIMATI, checkin_every_days=365, created_at=at(2025, 1, 1))
    before = evaluate(p, [h], DEFAULT, due_local - timedelta(minutes=1))
    (due,) = evaluate(p, [h], DEFAULT, due_local)
    assert before == [] and due.kind == "refresh_due"
    assert due.since == due_local.astimezone(UTC) == at(2025, 3, 4, 10, 0)  # 14 hours before UTC midnight


def test_it_reads_the_publication_day_in_the_persons_zone() -> None:
    from zoneinfo import ZoneInfo

    h = HeadshotFacts(1, "linkedin", date(2024, 3, 5), True, False, None, ())
    p = person(timezone=KIRITIMATI, sector="legal", checkin_every_days=365, created_at=at(2024, 3, 1))
    published = datetime(2024, 3, 5, 0, 0, tzinfo=ZoneInfo(KIRITIMATI))
    assert evaluate(p, [h], DEFAULT, published - timedelta(seconds=1)) == []  # not yet published
    (r,) = evaluate(p, [h], DEFAULT, published)
    assert r.kind == "disclosure_missing" and r.since == published.astimezone(UTC)


# =================================================================== likeness state (the verdict's input)


@pytest.mark.parametrize(
    ("distances", "state"),
    [
        ([], "no_checkins"),
        ([0.45], "alike_so_far"),
        ([0.45, 0.50], "alike_so_far"),
        ([0.65], "unlike_so_far"),  # one point: unconfirmed, and no reminder on one point
        ([0.40, 0.65], "alike_so_far"),  # their level 0.525 is below 0.60
        ([0.45, 0.45, 0.45], "alike"),
        ([0.45, 0.45, 0.45, 0.62, 0.63], "diverged"),
        ([0.62, 0.63], "never_alike"),
        ([0.62, 0.63, 0.61, 0.64], "never_alike"),
    ],
)
def test_it_names_the_likeness_state_of_a_headshot(distances: list[float], state: str) -> None:
    h = headshot(distances)
    as_of = last_time(h) if distances else START
    a = headshot_analysis(h, person(), DEFAULT, as_of)
    assert a.state == state
    kinds = {r.kind for r in run(h, as_of)}
    assert ("likeness_diverged" in kinds) is (state in ("diverged", "never_alike"))


def test_it_does_not_remind_on_one_unlike_check_in_but_says_so() -> None:
    h = headshot([0.66])
    a = headshot_analysis(h, person(), DEFAULT, last_time(h))
    assert a.state == "unlike_so_far" and a.level == pytest.approx(0.66) and a.band == "diverged"
    assert of_kind(run(h), "likeness_diverged") == []
