"""Pure likeness arithmetic: distances, daily points, baseline, level, trend, bands.

Everything here is a pure, deterministic function of its arguments: no I/O, no
clock (``as_of`` is always passed in), no project imports, the standard library
only (Theil-Sen is implemented here, not imported from scipy, whose import alone
costs about 0.6 s at every CLI start; nor is numpy needed for a dozen points, and
without it `freshness status` starts faster). Embeddings may be given as any
sequences of numbers (numpy arrays included).

Vocabulary (see ``docs/rules.md`` for the full rationale):

* distance ``d`` -- Euclidean distance between the dlib 128-d embedding of a
  headshot and that of a real selfie. Smaller is more alike. dlib's model was
  trained so that one identity fits in a ball of radius 0.6. A distance is a
  distance: it is never shown as a percentage.
* point -- one check-in session: all selfies taken on the same *local* calendar
  day (in the person's IANA timezone) collapse to one point whose distance is
  their median.
* baseline ``b`` -- median distance of the first 3 points on or after the day
  the headshot was published (the headshot's own starting likeness).
* level ``L`` -- median distance of the last 3 points.
* trend -- Theil-Sen slope of distance against time over the last 365 days.
* band -- a word for a distance: strong < 0.40 <= good < 0.50 <= weak < 0.60
  <= diverged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collections import Counter
from numbers import Real

__all__ = [
    "BANDS",
    "DAYS_PER_YEAR",
    "EPS",
    "Bands",
    "Point",
    "Sample",
    "Trend",
    "band",
    "baseline",
    "daily_points",
    "ensure_aware",
    "euclidean",
    "level",
    "projected_crossing",
    "resolve_timezone",
    "self_drift",
    "theil_sen",
    "trend",
]

#: Days in a year used to convert slopes per day into slopes per year (and back).
DAYS_PER_YEAR: float = 365.25

#: Tolerance used in threshold comparisons (``d >= threshold - EPS``) so that
#: decimal boundaries such as ``0.35 + 0.12`` behave as written despite binary
#: floating point. Far below any measurement resolution (distances are noisy at
#: the 0.01 level).
EPS: float = 1e-9

#: The band words, from most to least alike.
BANDS: tuple[str, str, str, str] = ("strong", "good", "weak", "diverged")


# --------------------------------------------------------------------------- helpers


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; raise ValueError if it is naive.

    All instants in freshness are timezone-aware. A naive datetime is ambiguous
    (local? UTC?) and is refused rather than guessed.
    """
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(timezone.utc)


def resolve_timezone(tz: str) -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA name; raise ValueError if unknown."""
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"timezone must be a non-empty IANA name such as 'Europe/Paris', got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {tz!r} (expected an IANA name such as 'Europe/Paris')") from exc


def _check_distance(value: float, name: str = "distance") -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def _vector(values: Iterable[Any], name: str) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers") from None
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must contain only finite values")
    return out


def euclidean(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between two embeddings of the same dimension.

    This is the distance ``face_recognition.face_distance`` computes for dlib
    embeddings (128-d). Computed in float64 (any sequence of numbers, numpy
    arrays included). Raises ValueError on a shape mismatch or non-finite values.
    """
    va = _vector(_flat(a), "embeddings")
    vb = _vector(_flat(b), "embeddings")
    if len(va) != len(vb):
        raise ValueError(f"embeddings differ in dimension: {len(va)} vs {len(vb)}")
    if not va:
        raise ValueError("embeddings must not be empty")
    return math.dist(va, vb)


def _flat(values: Any) -> Iterable[Any]:
    """A 1-d view of a sequence or a numpy array of any shape (as numpy's ``ravel``)."""
    ravel = getattr(values, "ravel", None)
    return ravel() if callable(ravel) else values


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Sample:
    """One selfie's distance to one headshot.

    ``taken_at`` must be timezone-aware (it is normalised to UTC); ``distance``
    must be a finite number >= 0.
    """

    taken_at: datetime
    distance: float
    checkin_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "taken_at", ensure_aware(self.taken_at, "Sample.taken_at"))
        object.__setattr__(self, "distance", _check_distance(self.distance, "Sample.distance"))
        if self.checkin_id is not None and (
            isinstance(self.checkin_id, bool) or not isinstance(self.checkin_id, int)
        ):
            raise ValueError(f"Sample.checkin_id must be an int or None, got {self.checkin_id!r}")


@dataclass(frozen=True)
class Point:
    """One check-in session for one headshot.

    ``day`` is the local calendar day (person's timezone); ``distance`` the
    median of that day's selfie distances; ``taken_at`` the latest selfie of the
    day (UTC); ``n`` the number of selfies; ``checkin_ids`` their ids in time
    order (selfies without an id are counted in ``n`` but not listed).
    """

    day: date
    taken_at: datetime
    distance: float
    n: int
    checkin_ids: tuple[int, ...] = ()


def daily_points(samples: Iterable[Sample], tz: str = "UTC") -> list[Point]:
    """Collapse samples into one point per local calendar day, sorted by day.

    Rule: selfies whose ``taken_at`` falls on the same calendar day in the
    person's IANA timezone ``tz`` form one check-in session; its distance is the
    median of their distances (the mean of the two middle values for an even
    count), its ``taken_at`` the latest of them. The result does not depend on
    the order of ``samples``.
    """
    zone = resolve_timezone(tz)
    by_day: dict[date, list[Sample]] = {}
    for s in samples:
        if not isinstance(s, Sample):
            raise ValueError(f"daily_points expects Sample objects, got {type(s).__name__}")
        by_day.setdefault(s.taken_at.astimezone(zone).date(), []).append(s)
    points: list[Point] = []
    for day in sorted(by_day):
        group = sorted(
            by_day[day],
            key=lambda s: (s.taken_at, -1 if s.checkin_id is None else s.checkin_id, s.distance),
        )
        points.append(
            Point(
                day=day,
                taken_at=group[-1].taken_at,
                distance=float(statistics.median(s.distance for s in group)),
                n=len(group),
                checkin_ids=tuple(s.checkin_id for s in group if s.checkin_id is not None),
            )
        )
    return points


def _sorted_points(points: Iterable[Point]) -> list[Point]:
    return sorted(points, key=lambda p: (p.day, p.taken_at))


def _check_n(n: int, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return n


# --------------------------------------------------------------------------- baseline / level


def baseline(points: Iterable[Point], published_on: date, n: int = 3) -> float | None:
    """The headshot's starting likeness: median distance of the first ``n`` points
    whose local day is on or after ``published_on`` (default n = 3).

    Returns None while fewer than ``n`` such points exist: a baseline is only
    formed from a full set, and once formed it never changes (later points are
    not "first").
    """
    _check_n(n)
    if not isinstance(published_on, date) or isinstance(published_on, datetime):
        raise ValueError(f"published_on must be a datetime.date, got {published_on!r}")
    after = [p for p in _sorted_points(points) if p.day >= published_on]
    if len(after) < n:
        return None
    return float(statistics.median(p.distance for p in after[:n]))


def level(points: Iterable[Point], n: int = 3) -> float | None:
    """Current likeness: median distance of the last ``n`` points (default 3).

    None when there are no points. With fewer than ``n`` points it is the median
    of those there are (one point: that point; two points: their mean), so a new
    headshot has a level from its first check-in -- but rules that need a robust
    value also require enough points (see ``rules``).
    """
    _check_n(n)
    pts = _sorted_points(points)
    if not pts:
        return None
    return float(statistics.median(p.distance for p in pts[-n:]))


# --------------------------------------------------------------------------- trend


def _tie_term(values: Sequence[float]) -> int:
    """Sum of t (t - 1) (2t + 5) over the groups of t equal values (Sen 1968, 2.6)."""
    return sum(t * (t - 1) * (2 * t + 5) for t in Counter(values).values())


def theil_sen(
    y: Sequence[float], x: Sequence[float], confidence: float = 0.90
) -> tuple[float, float, float, float]:
    """Theil-Sen line with Sen's (1968) confidence interval for the slope.

    Returns ``(slope, intercept, low_slope, high_slope)``, the same numbers as
    ``scipy.stats.theilslopes(y, x, alpha=confidence)`` (method "separate"):

    * slope -- the median of the pairwise slopes (y_j - y_i) / (x_j - x_i) over
      the pairs with x_j > x_i;
    * intercept -- median(y) - slope * median(x);
    * low/high -- order statistics of the sorted pairwise slopes: with N slopes,
      n points, z the standard normal quantile of (1 - confidence) / 2 (for a
      confidence <= 0.5, of confidence / 2, as scipy does) and the tie-corrected
      variance of Kendall's S,
      sigma^2 = [n(n-1)(2n+5) - sum over tied x groups - sum over tied y groups
      of t(t-1)(2t+5)] / 18, the indices are round((N + z sigma) / 2) - 1 and
      round((N - z sigma) / 2) (round half to even), clipped to [0, N - 1].

    NaN for the bounds when sigma^2 < 0 (heavy ties), and NaN everywhere when
    no pair has x_j > x_i. Raises ValueError for unequal lengths, fewer than
    2 points or a confidence outside (0, 1).
    """
    yv = [float(v) for v in _flat(y)]
    xv = [float(v) for v in _flat(x)]
    if len(xv) != len(yv):
        raise ValueError(f"x and y differ in length: {len(xv)} vs {len(yv)}")
    if len(xv) < 2:
        raise ValueError("theil_sen needs at least 2 points")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    nan = float("nan")
    slopes = sorted(
        (yi - yj) / (xi - xj) for xi, yi in zip(xv, yv) for xj, yj in zip(xv, yv) if xi - xj > 0
    )
    nt = len(slopes)
    if nt == 0:
        return nan, nan, nan, nan
    slope = statistics.median(slopes)
    intercept = statistics.median(yv) - slope * statistics.median(xv)
    a = 1.0 - confidence if confidence > 0.5 else confidence
    z = statistics.NormalDist().inv_cdf(a / 2.0)
    n = len(yv)
    sigsq = 1 / 18.0 * (n * (n - 1) * (2 * n + 5) - _tie_term(xv) - _tie_term(yv))
    if not sigsq >= 0:
        return slope, intercept, nan, nan
    sigma = math.sqrt(sigsq)
    hi = min(round((nt - z * sigma) / 2.0), nt - 1)  # round half to even, as numpy's
    lo = max(round((nt + z * sigma) / 2.0) - 1, 0)
    return slope, intercept, slopes[lo], slopes[hi]



@dataclass(frozen=True)
class Trend:
    """A Theil-Sen trend of distance over time.

    ``slope_per_year`` is the median pairwise slope (distance units per year of
    365.25 days); ``low_per_year``/``high_per_year`` its two-sided confidence
    interval (95 % by default, so the lower bound is a one-sided 97.5 % bound);
    ``intercept_at_as_of`` the fitted distance at ``as_of``; ``n`` the number of
    points used and ``span_days`` the days between the first and last of them.
    """

    slope_per_year: float
    low_per_year: float
    high_per_year: float
    intercept_at_as_of: float
    n: int
    span_days: float


def trend(
    points: Iterable[Point],
    as_of: datetime,
    window_days: int = 365,
    min_points: int = 6,
    min_span_days: float = 150,
    confidence: float = 0.95,
) -> Trend | None:
    """Theil-Sen trend of the points in the window ``(as_of - window_days, as_of]``.

    Rule: uses points with ``as_of - window_days < taken_at <= as_of``; returns
    None when fewer than ``min_points`` (6) points are in the window or the
    first and last of them are less than ``min_span_days`` (150) days apart.
    Otherwise fits ``theil_sen`` (the numbers of ``scipy.stats.theilslopes``)
    with x = days relative to ``as_of`` (so the intercept is the fitted value
    at ``as_of``) and the given two-sided ``confidence`` (0.95) for the slope
    interval. Theil-Sen is the median of pairwise slopes: one bad selfie cannot
    tilt it. (The defaults are ``rules.Policy``'s; see docs/rules.md for why.)
    """
    as_of = ensure_aware(as_of, "as_of")
    _check_n(min_points, "min_points")
    if window_days <= 0:
        raise ValueError(f"window_days must be > 0, got {window_days!r}")
    if min_span_days < 0:
        raise ValueError(f"min_span_days must be >= 0, got {min_span_days!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    start = as_of - timedelta(days=window_days)
    pts = [p for p in _sorted_points(points) if start < p.taken_at <= as_of]
    if len(pts) < max(min_points, 2):
        return None
    x = [(p.taken_at - as_of).total_seconds() / 86400.0 for p in pts]
    y = [p.distance for p in pts]
    span = max(x) - min(x)
    if span < min_span_days or span <= 0:
        return None
    slope, intercept, low, high = theil_sen(y, x, confidence)
    if not all(math.isfinite(v) for v in (slope, intercept, low, high)):  # pragma: no cover - defensive
        return None
    return Trend(
        slope_per_year=slope * DAYS_PER_YEAR,
        low_per_year=low * DAYS_PER_YEAR,
        high_per_year=high * DAYS_PER_YEAR,
        intercept_at_as_of=intercept,
        n=len(pts),
        span_days=span,
    )


def projected_crossing(trend: Trend, threshold: float, as_of: datetime) -> datetime | None:
    """The instant the trend line reaches ``threshold``.

    Rule: if the fitted value at ``as_of`` is already at or above the threshold,
    returns ``as_of`` (whatever the slope); otherwise None when the slope is
    <= 0 (the line never gets there), else ``as_of + (threshold - fitted) / slope``.
    None too if that instant lies beyond what ``datetime`` can represent.
    """
    as_of = ensure_aware(as_of, "as_of")
    t = trend  # the parameter shadows the module-level trend() here only
    if t.intercept_at_as_of >= threshold - EPS:
        return as_of
    if t.slope_per_year <= 0:
        return None
    days = (threshold - t.intercept_at_as_of) / (t.slope_per_year / DAYS_PER_YEAR)
    try:
        return as_of + timedelta(days=days)
    except OverflowError:
        return None


# --------------------------------------------------------------------------- bands


@dataclass(frozen=True)
class Bands:
    """Band cut-offs: a distance is ``strong`` below ``strong``, ``good`` below
    ``good``, ``weak`` below ``weak`` and ``diverged`` from ``weak`` up.

    Defaults 0.40 / 0.50 / 0.60. Rationale: distinct real photos of the same
    person measured 0.33-0.53 (median 0.40) apart with the product's pipeline
    (copies of one picture: 0.04-0.10), so < 0.40 is as alike as two real
    photos usually are; AI portraits sit at a median of about 0.50 against real
    photos of the same person, so 0.40-0.50 is a typical good AI headshot;
    0.60 is the radius of dlib's identity ball, beyond which the model itself
    would not call it the same person.
    """

    strong: float = 0.40
    good: float = 0.50
    weak: float = 0.60

    def __post_init__(self) -> None:
        for name in ("strong", "good", "weak"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v < 2:
                raise ValueError(f"band cut-off {name} must be a number in (0, 2), got {v!r}")
            object.__setattr__(self, name, float(v))
        if not self.strong < self.good < self.weak:
            raise ValueError(
                "band cut-offs must increase: strong < good < weak, got "
                f"{self.strong} / {self.good} / {self.weak}"
            )


def band(distance: float, cutoffs: Bands = Bands()) -> str:
    """The band word for a distance: "strong" (< 0.40), "good" (< 0.50),
    "weak" (< 0.60) or "diverged" (>= 0.60), with the default cut-offs.
    """
    d = _check_distance(distance)
    if d < cutoffs.strong:
        return "strong"
    if d < cutoffs.good:
        return "good"
    if d < cutoffs.weak:
        return "weak"
    return "diverged"


# --------------------------------------------------------------------------- self drift


def _mean_embedding(embeddings: Sequence[Any], name: str) -> list[float] | None:
    vectors = [_vector(_flat(e), f"{name} embeddings") for e in embeddings]
    if not vectors:
        return None
    dims = {len(v) for v in vectors}
    if len(dims) != 1:
        raise ValueError(f"{name} embeddings differ in dimension: {sorted(dims)}")
    return [math.fsum(column) / len(vectors) for column in zip(*vectors)]


def self_drift(
    baseline_embeddings: Sequence[Sequence[float]], recent_embeddings: Sequence[Sequence[float]]
) -> float | None:
    """How much the face itself moved, independent of any headshot.

    Rule: Euclidean distance between the mean embedding of the baseline selfies
    and the mean embedding of the recent selfies (each a 128-d dlib embedding).
    None if either sequence is empty. Shown, not alerted on, by default.
    """
    a = _mean_embedding(baseline_embeddings, "baseline")
    b = _mean_embedding(recent_embeddings, "recent")
    if a is None or b is None:
        return None
    return euclidean(a, b)
