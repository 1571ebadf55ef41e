"""Tests for freshness.likeness (pure: no DB, no images)."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from freshness.likeness import (
    BANDS,
    DAYS_PER_YEAR,
    Bands,
    Point,
    Sample,
    Trend,
    band,
    baseline,
    daily_points,
    euclidean,
    level,
    projected_crossing,
    self_drift,
    theil_sen,
    trend,
)

UTC = timezone.utc


def at(y: int, m: int, d: int, h: int = 12, mi: int = 0, tz: timezone | ZoneInfo = UTC) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=tz)


def series(distances: list[float], start: datetime = at(2024, 1, 10), every_days: float = 10) -> list[Point]:
    """One sample per day at ``start + i * every_days`` with the given distances."""
    samples = [Sample(start + timedelta(days=i * every_days), d, i + 1) for i, d in enumerate(distances)]
    return daily_points(samples)


# ----------------------------------------------------------------- Sample / Point


def test_it_refuses_naive_sample_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Sample(datetime(2024, 1, 1, 12), 0.4)


@pytest.mark.parametrize(
    "bad, message",
    [(-0.01, "a finite number >= 0, got -0.01"), (math.nan, "a finite number >= 0, got nan"),
     (math.inf, "a finite number >= 0, got inf"), (True, "a number, got bool"), ("0.4", "a number, got str")],
)
def test_it_refuses_invalid_distances(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"Sample.distance must be {message}")):
        Sample(at(2024, 1, 1), bad)  # type: ignore[arg-type]


def test_it_normalises_sample_times_to_utc() -> None:
    s = Sample(at(2024, 1, 1, 13, tz=ZoneInfo("Europe/Paris")), 0.4)
    assert s.taken_at.tzinfo is UTC
    assert s.taken_at == at(2024, 1, 1, 12)


# ----------------------------------------------------------------- daily_points


def test_it_collapses_same_day_samples_to_their_median() -> None:
    samples = [
        Sample(at(2024, 3, 1, 9), 0.50, 11),
        Sample(at(2024, 3, 1, 10), 0.30, 12),
        Sample(at(2024, 3, 1, 11), 0.40, 13),
        Sample(at(2024, 3, 2, 9), 0.45, 14),
    ]
    pts = daily_points(samples)
    assert [p.day for p in pts] == [date(2024, 3, 1), date(2024, 3, 2)]
    assert pts[0].distance == pytest.approx(0.40)
    assert pts[0].n == 3
    assert pts[0].taken_at == at(2024, 3, 1, 11)  # latest selfie of the day
    assert pts[0].checkin_ids == (11, 12, 13)
    assert pts[1].distance == pytest.approx(0.45)


def test_it_uses_the_mean_of_the_two_middle_values_for_an_even_count() -> None:
    pts = daily_points([Sample(at(2024, 3, 1, 9), 0.40), Sample(at(2024, 3, 1, 10), 0.50)])
    assert pts[0].distance == pytest.approx(0.45)
    assert pts[0].checkin_ids == ()


def test_it_splits_2330_and_0030_local_into_two_days() -> None:
    paris = ZoneInfo("Europe/Paris")
    samples = [
        Sample(datetime(2024, 3, 1, 23, 30, tzinfo=paris), 0.40),
        Sample(datetime(2024, 3, 2, 0, 30, tzinfo=paris), 0.50),
    ]
    pts = daily_points(samples, "Europe/Paris")
    assert [p.day for p in pts] == [date(2024, 3, 1), date(2024, 3, 2)]
    assert [p.distance for p in pts] == [0.40, 0.50]


def test_it_collapses_2330_and_0030_utc_that_fall_on_the_same_local_day() -> None:
    samples = [Sample(at(2024, 3, 1, 23, 30), 0.40), Sample(at(2024, 3, 2, 0, 30), 0.50)]
    # New York is UTC-5 in early March: 18:30 and 19:30 on 1 March.
    pts = daily_points(samples, "America/New_York")
    assert len(pts) == 1
    assert pts[0].day == date(2024, 3, 1)
    assert pts[0].distance == pytest.approx(0.45)
    assert pts[0].taken_at == at(2024, 3, 2, 0, 30)
    # The same pair in UTC is two days.
    assert len(daily_points(samples, "UTC")) == 2


def test_it_does_not_depend_on_sample_order() -> None:
    samples = [Sample(at(2024, 3, d % 4 + 1, d % 7 + 8), 0.3 + d / 100, d) for d in range(20)]
    assert daily_points(samples) == daily_points(list(reversed(samples)))


def test_it_refuses_unknown_timezones() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        daily_points([Sample(at(2024, 1, 1), 0.4)], "Mars/Olympus_Mons")


# ----------------------------------------------------------------- baseline / level


def test_it_has_no_baseline_before_three_points_after_publication() -> None:
    pts = series([0.40, 0.45])
    assert baseline(pts, date(2024, 1, 1)) is None


def test_it_takes_the_median_of_the_first_three_points_after_publication() -> None:
    pts = series([0.30, 0.31, 0.50, 0.40, 0.48, 0.90])  # days 10, 20, 30, 9 Feb, 19 Feb, 29 Feb
    # Published 15 Jan: the first point (10 Jan) is before publication and never counts.
    assert baseline(pts, date(2024, 1, 15)) == pytest.approx(0.40)  # median(0.31, 0.50, 0.40)
    assert baseline(pts, date(2024, 1, 1)) == pytest.approx(0.31)  # median(0.30, 0.31, 0.50)
    assert baseline(pts, date(2024, 1, 1), n=5) == pytest.approx(0.40)


def test_it_counts_a_point_on_the_publication_day() -> None:
    pts = series([0.40, 0.41, 0.42])
    assert baseline(pts, pts[0].day) == pytest.approx(0.41)
    assert baseline(pts, pts[0].day + timedelta(days=1)) is None


def test_it_has_no_level_without_points() -> None:
    assert level([]) is None


def test_it_takes_the_median_of_the_last_three_points_as_the_level() -> None:
    assert level(series([0.9, 0.9, 0.40, 0.55, 0.45])) == pytest.approx(0.45)


@pytest.mark.parametrize(("distances", "expected"), [([0.42], 0.42), ([0.40, 0.50], 0.45)])
def test_it_uses_what_there_is_for_the_level_with_fewer_than_three_points(
    distances: list[float], expected: float
) -> None:
    assert level(series(distances)) == pytest.approx(expected)


def test_it_refuses_non_positive_n() -> None:
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        level(series([0.4]), n=0)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        baseline(series([0.4]), date(2024, 1, 1), n=0)


# ----------------------------------------------------------------- trend


#: The first cut's gate (4 points over 60 days): the mechanics below need no more.
SHORT = {"min_points": 4, "min_span_days": 60}


def test_it_fits_a_theil_sen_slope_per_year_and_the_value_at_as_of() -> None:
    # +0.01 every 10 days = 0.365 per 365 days.
    pts = series([0.40 + 0.01 * i for i in range(8)])
    as_of = pts[-1].taken_at + timedelta(days=10)
    t = trend(pts, as_of, **SHORT)
    assert t is not None
    assert t.n == 8
    assert t.span_days == pytest.approx(70)
    assert t.slope_per_year == pytest.approx(0.001 * DAYS_PER_YEAR)
    assert t.low_per_year <= t.slope_per_year <= t.high_per_year
    assert t.intercept_at_as_of == pytest.approx(0.48)  # one more step after the last point


def test_it_ignores_one_outlier_in_the_slope() -> None:
    ds = [0.40 + 0.01 * i for i in range(9)]
    ds[4] = 1.2
    t = trend(series(ds), at(2024, 4, 1), **SHORT)
    assert t is not None
    assert t.slope_per_year == pytest.approx(0.001 * DAYS_PER_YEAR, rel=0.05)


def test_it_reports_a_flat_slope_for_constant_distances() -> None:
    t = trend(series([0.45] * 6, every_days=15), at(2024, 6, 1), **SHORT)
    assert t is not None
    assert t.slope_per_year == 0 and t.low_per_year == 0 and t.high_per_year == 0


@pytest.mark.parametrize(
    ("count", "every_days", "expected_none"),
    [
        (5, 45, True),  # too few points (5 < 6) even over 180 days
        (6, 30, False),  # 6 points spanning exactly 150 days
        (6, 29.9, True),  # span 149.5 days < 150
        (20, 7, True),  # many points but span 133 days
    ],
)
def test_it_needs_six_points_over_150_days(count: int, every_days: float, expected_none: bool) -> None:
    pts = series([0.40 + 0.01 * i for i in range(count)], every_days=every_days)
    t = trend(pts, pts[-1].taken_at)
    assert (t is None) is expected_none


def test_it_uses_only_points_inside_the_window() -> None:
    pts = series([0.40 + 0.01 * i for i in range(10)], every_days=30)  # 270 days
    as_of = pts[-1].taken_at
    full = trend(pts, as_of, **SHORT)
    assert full is not None and full.n == 10
    # Window (as_of - 150, as_of]: points at 150 days before as_of are excluded.
    short = trend(pts, as_of, window_days=150, **SHORT)
    assert short is not None and short.n == 5
    # Points after as_of are excluded.
    early = trend(pts, pts[5].taken_at, **SHORT)
    assert early is not None and early.n == 6


def test_it_uses_the_interval_of_the_given_confidence() -> None:
    # 8 points, one pair out of order: 1 of the 28 pairwise slopes is negative.
    pts = series([0.40, 0.42, 0.41, 0.43, 0.44, 0.45, 0.46, 0.47], every_days=30)
    loose = trend(pts, pts[-1].taken_at, confidence=0.90)
    strict = trend(pts, pts[-1].taken_at, confidence=0.99)
    assert loose is not None and strict is not None
    assert loose.slope_per_year == strict.slope_per_year
    assert strict.low_per_year < loose.low_per_year <= loose.slope_per_year <= loose.high_per_year < strict.high_per_year


def test_it_refuses_a_naive_as_of_for_the_trend() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        trend(series([0.4] * 5, every_days=20), datetime(2024, 6, 1))


# ----------------------------------------------------------------- theil_sen (vs scipy)


def _random_inputs(count: int, seed: int = 12) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Inputs of every shape the rules can produce and some they cannot: continuous
    values, heavy ties in x and in y, constant y, distances on a 0.01 grid at daily
    offsets, and every confidence including those <= 0.5 (which scipy folds)."""
    rng = np.random.default_rng(seed)
    confidences = [0.90, 0.95, 0.99, 0.999, 0.80, 0.60, 0.30, 0.05]
    out = []
    for i in range(count):
        n = int(rng.integers(2, 41))
        kind = i % 5
        if kind == 0:
            x, y = rng.normal(size=n) * 100, rng.normal(size=n)
        elif kind == 1:  # ties in x and in y
            x, y = rng.integers(0, 6, n).astype(float), rng.integers(0, 4, n) / 10
        elif kind == 2:  # daily check-ins, distances with two decimals
            x = np.sort(rng.choice(400, n, replace=False)).astype(float) - 400
            y = np.round(0.35 + rng.normal(0, 0.08, n), 2)
        elif kind == 3:  # constant distances, sometimes with tied x (negative variance)
            x, y = rng.integers(-3, 4, n).astype(float), np.full(n, 0.4)
        else:  # two values only
            x, y = rng.normal(size=n), rng.integers(0, 2, n).astype(float)
        out.append((x, y, confidences[i % len(confidences)]))
    return out


def test_it_matches_scipy_theilslopes_exactly() -> None:
    import warnings

    from scipy.stats import theilslopes

    for x, y, confidence in _random_inputs(3000):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on identical x and on a negative variance
            expected = theilslopes(y, x, alpha=confidence)
        got = theil_sen(y, x, confidence)
        want = np.array([expected.slope, expected.intercept, expected.low_slope, expected.high_slope], float)
        assert np.array_equal(np.array(got), want, equal_nan=True), (x.tolist(), y.tolist(), confidence, got, want)


def test_it_gives_sens_interval_on_a_small_example() -> None:
    # 6 points, 15 slopes; sigma^2 = 6*5*17/18; at 95 % the interval is the 2nd..14th sorted slopes.
    x = np.arange(6.0)
    y = np.array([0.0, 1.0, 3.0, 2.0, 4.0, 5.0])
    slopes = sorted((y[j] - y[i]) / (x[j] - x[i]) for i in range(6) for j in range(i + 1, 6))
    slope, intercept, low, high = theil_sen(y, x, 0.95)
    assert slope == pytest.approx(float(np.median(slopes)))
    assert intercept == pytest.approx(float(np.median(y)) - slope * float(np.median(x)))
    assert (low, high) == (slopes[1], slopes[13])


def test_it_returns_nan_without_distinct_x_and_refuses_bad_input() -> None:
    assert all(math.isnan(v) for v in theil_sen([0.1, 0.2, 0.3], [1.0, 1.0, 1.0]))
    slope, intercept, low, high = theil_sen([0.4, 0.4, 0.4], [0.0, 1.0, 1.0])  # negative tie-corrected variance
    assert (slope, intercept) == (0.0, 0.4) and math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="length"):
        theil_sen([0.1, 0.2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        theil_sen([0.1], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        theil_sen([0.1, 0.2], [1.0, 2.0], 1.0)


def test_it_needs_no_scipy_at_run_time() -> None:
    import subprocess
    import sys

    # scipy's import alone cost about 0.6 s at every start; it is a test-only dependency now
    code = "import sys, freshness.rules; print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------- projected_crossing


def _trend(slope: float, fitted: float) -> Trend:
    return Trend(slope, slope, slope, fitted, 6, 90.0)


def test_it_projects_when_the_line_reaches_the_threshold() -> None:
    as_of = at(2024, 6, 1)
    crossing = projected_crossing(_trend(0.1 * DAYS_PER_YEAR / 100, 0.50), 0.60, as_of)  # 0.001/day
    assert crossing == as_of + timedelta(days=100)


@pytest.mark.parametrize("slope", [0.0, -0.2])
def test_it_projects_nothing_for_a_flat_or_falling_line_below_threshold(slope: float) -> None:
    assert projected_crossing(_trend(slope, 0.50), 0.60, at(2024, 6, 1)) is None


@pytest.mark.parametrize(("slope", "fitted"), [(0.1, 0.60), (0.1, 0.70), (-0.1, 0.65)])
def test_it_returns_as_of_when_the_line_is_already_at_or_above_threshold(slope: float, fitted: float) -> None:
    as_of = at(2024, 6, 1)
    assert projected_crossing(_trend(slope, fitted), 0.60, as_of) == as_of


def test_it_returns_none_for_a_crossing_beyond_representable_dates() -> None:
    assert projected_crossing(_trend(1e-12, 0.1), 0.6, at(2024, 6, 1)) is None


# ----------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("distance", "word"),
    [
        (0.0, "strong"),
        (0.3999, "strong"),
        (0.40, "good"),
        (0.4999, "good"),
        (0.50, "weak"),
        (0.5999, "weak"),
        (0.60, "diverged"),
        (1.2, "diverged"),
    ],
)
def test_it_names_the_band_of_a_distance(distance: float, word: str) -> None:
    assert band(distance) == word
    assert word in BANDS


def test_it_honours_custom_band_cutoffs() -> None:
    cut = Bands(strong=0.35, good=0.45, weak=0.55)
    assert [band(d, cut) for d in (0.34, 0.35, 0.45, 0.55)] == ["strong", "good", "weak", "diverged"]


@pytest.mark.parametrize(
    "args, message",
    [
        ((0.5, 0.4, 0.6), "band cut-offs must increase: strong < good < weak, got 0.5 / 0.4 / 0.6"),
        ((0.4, 0.5, 0.5), "band cut-offs must increase: strong < good < weak, got 0.4 / 0.5 / 0.5"),
        ((0.0, 0.5, 0.6), "band cut-off strong must be a number in (0, 2), got 0.0"),
        ((0.4, 0.5, 2.0), "band cut-off weak must be a number in (0, 2), got 2.0"),
    ],
)
def test_it_refuses_non_increasing_or_out_of_range_cutoffs(args: tuple[float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Bands(*args)


def test_it_refuses_to_band_a_negative_distance() -> None:
    with pytest.raises(ValueError, match="distance must be a finite number >= 0, got -0.1"):
        band(-0.1)


# ----------------------------------------------------------------- euclidean / self_drift


def test_it_computes_euclidean_distance() -> None:
    assert euclidean([0.0, 0.0], [3.0, 4.0]) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="dimension"):
        euclidean([0.0, 0.0], [1.0, 2.0, 3.0])


def test_it_measures_self_drift_between_mean_embeddings() -> None:
    rng = np.random.default_rng(0)
    base = [rng.normal(0, 0.1, 128) for _ in range(3)]
    shift = np.zeros(128)
    shift[0] = 0.2
    recent = [b + shift for b in base]
    assert self_drift(base, recent) == pytest.approx(0.2)
    assert self_drift(base, base) == pytest.approx(0.0)


def test_it_has_no_self_drift_without_both_sets() -> None:
    assert self_drift([], [np.zeros(128)]) is None
    assert self_drift([np.zeros(128)], []) is None


def test_it_refuses_mixed_embedding_dimensions() -> None:
    with pytest.raises(ValueError, match=re.escape("baseline embeddings differ in dimension: [64, 128]")):
        self_drift([np.zeros(128), np.zeros(64)], [np.zeros(128)])
    with pytest.raises(ValueError, match="embeddings differ in dimension: 128 vs 64"):
        self_drift([np.zeros(128)], [np.zeros(64)])
