"""Pure reminder rules: policy + facts + ``as_of`` -> the reminders that should be open.

No I/O, no clock, no project imports except ``freshness.likeness`` and the pure
``freshness.words`` (sentences); stdlib only
besides what ``likeness`` uses. ``evaluate`` is a pure function of the data up to
``as_of``: evaluating at any sequence of earlier times, in any order, never
changes what it returns at ``as_of`` (hysteresis is replayed from the data, not
read from stored state).

Rules (defaults; every number is a ``Policy`` field, see ``docs/rules.md``):

* likeness_diverged -- replayed per daily point: opens when at least k=2 of the
  last n=3 points are >= the open threshold (0.60, or min(0.60, baseline + 0.12)
  once a baseline exists); closes when fewer than k of the last n are >= the
  open threshold - 0.03.
* likeness_drifting -- >= 6 points spanning >= 150 days in the last 365;
  Theil-Sen slope >= 0.10 per year whose lower 95 % bound is > 0; the level has
  covered at least half the way from the baseline to the effective threshold;
  the trend line reaches that threshold within 180 days. Not raised while
  likeness_diverged is.
* refresh_due -- from published_on + 12 calendar months; refresh_overdue from
  published_on + 24 months (refresh_due is then no longer raised).
* checkin_missed -- last check-in + cadence + max(3 days, cadence / 2) <= as_of.
* disclosure_missing -- AI-generated, not disclosed, sector in
  healthcare / legal / government / finance. An intact AI label embedded in the
  file counts as disclosure only when the person says the file is published
  with it (``disclosed_by``).
"""

from __future__ import annotations

import calendar
import dataclasses
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from freshness.likeness import (
    EPS,
    Bands,
    Point,
    Sample,
    Trend,
    band,
    daily_points,
    ensure_aware,
    projected_crossing,
    resolve_timezone,
    trend,
)
from freshness.likeness import baseline as compute_baseline
from freshness.likeness import level as compute_level
from freshness.words import reminder_message

__all__ = [
    "KINDS",
    "DesiredReminder",
    "HeadshotAnalysis",
    "HeadshotFacts",
    "PersonFacts",
    "Policy",
    "ReminderKey",
    "add_months",
    "checkin_deadline",
    "effective_threshold",
    "evaluate",
    "headshot_analysis",
    "evaluate_with_analyses",
    "reconcile",
    "refresh_dates",
]

#: Every reminder kind, in the order used for sorting within one headshot.
KINDS: tuple[str, ...] = (
    "likeness_diverged",
    "likeness_drifting",
    "refresh_due",
    "refresh_overdue",
    "checkin_missed",
    "disclosure_missing",
)

#: Identity of a reminder: at most one unresolved reminder per (kind, headshot_id)
#: for a person. ``headshot_id`` is None for person-level kinds (checkin_missed).
ReminderKey = tuple[str, int | None]


# =========================================================================== policy

# name -> (type, low, high, low inclusive, high inclusive)
_NUMERIC_RULES: dict[str, tuple[type, float, float, bool, bool]] = {
    "abs_threshold": (float, 0.0, 2.0, False, False),
    "baseline_margin": (float, 0.0, 1.0, False, False),
    "diverge_k": (int, 1, 30, True, True),
    "diverge_n": (int, 1, 30, True, True),
    "hysteresis": (float, 0.0, 0.5, True, False),
    "baseline_n": (int, 1, 30, True, True),
    "level_n": (int, 1, 30, True, True),
    "drift_min_points": (int, 3, 1000, True, True),
    "drift_min_span_days": (int, 1, 3650, True, True),
    "drift_window_days": (int, 1, 3650, True, True),
    "drift_confidence": (float, 0.5, 1.0, False, False),
    "drift_horizon_days": (int, 1, 3650, True, True),
    "drift_min_slope_per_year": (float, 0.0, 2.0, True, False),
    "drift_min_rise_fraction": (float, 0.0, 1.0, True, False),
    "refresh_due_months": (int, 6, 36, True, True),
    "refresh_overdue_months": (int, 6, 36, True, True),
    "checkin_grace_min_days": (float, 0.0, 365.0, True, True),
    "band_strong_below": (float, 0.0, 2.0, False, False),
    "band_good_below": (float, 0.0, 2.0, False, False),
    "band_weak_below": (float, 0.0, 2.0, False, False),
}


def _range_text(lo: float, hi: float, lo_inc: bool, hi_inc: bool) -> str:
    return f"{'[' if lo_inc else '('}{lo:g}, {hi:g}{']' if hi_inc else ')'}"


def _coerce_number(name: str, value: Any) -> float | int:
    kind, lo, hi, lo_inc, hi_inc = _NUMERIC_RULES[name]
    what = "an integer" if kind is int else "a number"
    rng = _range_text(lo, hi, lo_inc, hi_inc)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"policy: {name} must be {what} in {rng}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"policy: {name} must be {what} in {rng}, got {value!r}")
    if kind is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"policy: {name} must be {what} in {rng}, got {value!r}")
            value = int(value)
    else:
        value = float(value)
    ok_lo = value >= lo if lo_inc else value > lo
    ok_hi = value <= hi if hi_inc else value < hi
    if not (ok_lo and ok_hi):
        raise ValueError(f"policy: {name} must be {what} in {rng}, got {value!r}")
    return value


def _coerce_sectors(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [s for s in value.split(",")]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise ValueError(
            "policy: trust_critical_sectors must be a list of sector names "
            f"(or a comma-separated string), got {value!r}"
        )
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(
                f"policy: trust_critical_sectors entries must be non-empty strings, got {item!r}"
            )
        s = item.strip().lower()
        if s not in out:
            out.append(s)
    return tuple(out)


@dataclass(frozen=True)
class Policy:
    """Every tunable number of the rules, with the defaults from DESIGN.md.

    Likeness (distances are dlib embedding distances, never percentages):

    * ``abs_threshold`` 0.60 -- dlib's identity ball radius: at or above it the
      model would not call the headshot the same person.
    * ``baseline_margin`` 0.12 -- once a baseline b exists the open threshold is
      min(abs_threshold, b + 0.12) (one person's distances to a fixed reference
      spread about +/-0.09 around their median).
    * ``diverge_k`` 2 of ``diverge_n`` 3 -- points at/above threshold to open.
    * ``hysteresis`` 0.03 -- closes only when fewer than k of the last n points
      are >= threshold - 0.03.
    * ``baseline_n`` 3 -- points (on/after publication) forming the baseline.
    * ``level_n`` 3 -- points in the current level (median).
    * ``drift_min_points`` 6, ``drift_min_span_days`` 150,
      ``drift_window_days`` 365, ``drift_confidence`` 0.95 (two-sided),
      ``drift_horizon_days`` 180, ``drift_min_slope_per_year`` 0.10,
      ``drift_min_rise_fraction`` 0.5 -- likeness_drifting: a trend of at least
      6 check-in days over 150 days, rising by at least 0.10 a year with a lower
      95 % bound above 0, a level at least half way from the baseline to the
      threshold, and a projected crossing within 180 days. Chosen so that no
      same-person timeline of the test photos raises it (the first cut, 4 points
      over 60 days at 90 %, did in 1.4 % of them): see docs/rules.md and
      benchmarks/drift_timelines.py.

    Freshness and habits:

    * ``refresh_due_months`` 12, ``refresh_overdue_months`` 24 (each 6-36,
      due < overdue).
    * ``checkin_grace_min_days`` 3 -- grace = max(3 days, cadence / 2).
    * ``trust_critical_sectors`` healthcare, legal, government, finance
      (compared case-insensitively; stored stripped, lower-case, de-duplicated).

    Bands: ``band_strong_below`` 0.40, ``band_good_below`` 0.50,
    ``band_weak_below`` 0.60.

    Construction validates every value (ValueError with a clear message); use
    ``with_overrides`` to apply a mapping of overrides by field name.
    """

    abs_threshold: float = 0.60
    baseline_margin: float = 0.12
    diverge_k: int = 2
    diverge_n: int = 3
    hysteresis: float = 0.03
    baseline_n: int = 3
    level_n: int = 3
    drift_min_points: int = 6
    drift_min_span_days: int = 150
    drift_window_days: int = 365
    drift_confidence: float = 0.95
    drift_horizon_days: int = 180
    drift_min_slope_per_year: float = 0.10
    drift_min_rise_fraction: float = 0.5
    refresh_due_months: int = 12
    refresh_overdue_months: int = 24
    checkin_grace_min_days: float = 3.0
    trust_critical_sectors: tuple[str, ...] = ("healthcare", "legal", "government", "finance")
    band_strong_below: float = 0.40
    band_good_below: float = 0.50
    band_weak_below: float = 0.60

    def __post_init__(self) -> None:
        for name in _NUMERIC_RULES:
            object.__setattr__(self, name, _coerce_number(name, getattr(self, name)))
        object.__setattr__(self, "trust_critical_sectors", _coerce_sectors(self.trust_critical_sectors))
        if self.diverge_k > self.diverge_n:
            raise ValueError(
                f"policy: diverge_k ({self.diverge_k}) must be <= diverge_n ({self.diverge_n})"
            )
        if self.refresh_due_months >= self.refresh_overdue_months:
            raise ValueError(
                f"policy: refresh_due_months ({self.refresh_due_months}) must be < "
                f"refresh_overdue_months ({self.refresh_overdue_months})"
            )
        if self.hysteresis >= self.abs_threshold:
            raise ValueError(
                f"policy: hysteresis ({self.hysteresis}) must be < abs_threshold ({self.abs_threshold})"
            )
        if self.drift_min_span_days > self.drift_window_days:
            raise ValueError(
                f"policy: drift_min_span_days ({self.drift_min_span_days}) must be <= "
                f"drift_window_days ({self.drift_window_days})"
            )
        if not self.band_strong_below < self.band_good_below < self.band_weak_below:
            raise ValueError(
                "policy: band cut-offs must increase: band_strong_below < band_good_below < "
                f"band_weak_below, got {self.band_strong_below} / {self.band_good_below} / "
                f"{self.band_weak_below}"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The accepted override keys, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @property
    def bands(self) -> Bands:
        """The band cut-offs as a ``likeness.Bands``."""
        return Bands(self.band_strong_below, self.band_good_below, self.band_weak_below)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Policy:
        """A copy with ``overrides`` (field name -> value) applied and validated.

        Unknown keys raise ValueError listing the accepted keys; values are
        validated as in construction (types, ranges, k <= n, due < overdue,
        increasing band cut-offs...). Integral floats are accepted for integer
        fields (JSON), ints for float fields; booleans and None are refused.
        ``trust_critical_sectors`` takes a list or a comma-separated string.
        """
        if overrides is None:
            return self
        if not isinstance(overrides, Mapping):
            raise ValueError(f"policy overrides must be a mapping of field names to values, got {overrides!r}")
        accepted = self.field_names()
        unknown = sorted(str(k) for k in overrides if k not in accepted)
        if unknown:
            raise ValueError(
                f"policy: unknown override(s) {', '.join(unknown)}; accepted keys: {', '.join(accepted)}"
            )
        for key, value in overrides.items():
            if value is None:
                raise ValueError(f"policy: {key} must not be null; omit the key to keep the default")
        return dataclasses.replace(self, **dict(overrides))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (sectors as a list).

        ``Policy().with_overrides(p.as_dict()) == p`` for every valid policy.
        """
        out: dict[str, Any] = {}
        for name in self.field_names():
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


# =========================================================================== facts


def _check_int(value: Any, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class PersonFacts:
    """What the rules need to know about a person.

    ``timezone`` is an IANA name (check-in days are local days);
    ``checkin_every_days`` the cadence (>= 1); ``created_at`` and
    ``last_checkin_at`` timezone-aware (normalised to UTC); ``last_checkin_at``
    None if the person never checked in.
    """

    person_id: int
    sector: str | None
    timezone: str
    checkin_every_days: int
    created_at: datetime
    last_checkin_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_int(self.person_id, "PersonFacts.person_id")
        if self.sector is not None and not isinstance(self.sector, str):
            raise ValueError(f"PersonFacts.sector must be a string or None, got {self.sector!r}")
        resolve_timezone(self.timezone)
        _check_int(self.checkin_every_days, "PersonFacts.checkin_every_days", 1)
        object.__setattr__(self, "created_at", ensure_aware(self.created_at, "PersonFacts.created_at"))
        if self.last_checkin_at is not None:
            object.__setattr__(
                self, "last_checkin_at", ensure_aware(self.last_checkin_at, "PersonFacts.last_checkin_at")
            )


@dataclass(frozen=True)
class HeadshotFacts:
    """What the rules need to know about one headshot.

    ``samples`` are this headshot's distances to every check-in selfie (any
    iterable is accepted and stored as a tuple). ``retired_at`` is
    timezone-aware or None.
    """

    headshot_id: int
    platform: str
    published_on: date
    ai_generated: bool
    disclosed: bool
    retired_at: datetime | None = None
    samples: tuple[Sample, ...] = ()
    # What the file itself says (freshness.provenance): an AI label is embedded, readable and not
    # broken (label_source: "c2pa" or "xmp"); and the person's word that the file is published
    # with that label. Together they count as disclosure (see ``disclosed_by``).
    label_intact: bool = False
    label_source: str | None = None
    published_with_label: bool = False

    def __post_init__(self) -> None:
        _check_int(self.headshot_id, "HeadshotFacts.headshot_id")
        for name in ("label_intact", "published_with_label"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"HeadshotFacts.{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.platform, str):
            raise ValueError(f"HeadshotFacts.platform must be a string, got {self.platform!r}")
        if not isinstance(self.published_on, date) or isinstance(self.published_on, datetime):
            raise ValueError(f"HeadshotFacts.published_on must be a datetime.date, got {self.published_on!r}")
        if self.retired_at is not None:
            object.__setattr__(self, "retired_at", ensure_aware(self.retired_at, "HeadshotFacts.retired_at"))
        samples = tuple(self.samples)
        for s in samples:
            if not isinstance(s, Sample):
                raise ValueError(f"HeadshotFacts.samples must contain Sample objects, got {s!r}")
        object.__setattr__(self, "samples", samples)


@dataclass(frozen=True)
class DesiredReminder:
    """A reminder that should be open as of the evaluation time.

    ``key`` = (kind, headshot_id) identifies it (at most one unresolved reminder
    per key). ``since`` is when the condition began according to the data (see
    docs/rules.md per kind). ``details`` is JSON-serialisable: floats rounded to
    4 decimals, dates and datetimes as ISO strings. (Because ``details`` is a
    dict, instances compare by value but are not hashable: use ``key``.)
    """

    kind: str
    headshot_id: int | None
    since: datetime
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reminder kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        object.__setattr__(self, "since", ensure_aware(self.since, "DesiredReminder.since"))

    @property
    def key(self) -> ReminderKey:
        return (self.kind, self.headshot_id)


# =========================================================================== helpers


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months, clamping the day to the month's end
    (2024-02-29 + 12 -> 2025-02-28; 2024-01-31 + 1 -> 2024-02-29). Negative
    ``months`` go back.
    """
    if not isinstance(d, date) or isinstance(d, datetime):
        raise ValueError(f"add_months expects a datetime.date, got {d!r}")
    _check_int(months, "months")
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"add_months: {d.isoformat()} + {months} months is out of range")
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def _months_between(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end`` (0 if end < start + 1 month)."""
    m = (end.year - start.year) * 12 + (end.month - start.month)
    while m > 0 and add_months(start, m) > end:
        m -= 1
    return max(m, 0)


def _day_start(d: date, tz: str) -> datetime:
    """The start of day ``d`` in the person's time zone, as a UTC instant."""
    return datetime.combine(d, time(0, 0), tzinfo=resolve_timezone(tz)).astimezone(timezone.utc)


def refresh_dates(published_on: date, policy: Policy) -> tuple[date, date]:
    """(due_date, overdue_date) = published_on + refresh_due_months (12) and
    + refresh_overdue_months (24), calendar months with day clamping.
    Each boundary takes effect at the start of that date in the person's time zone.
    """
    return (
        add_months(published_on, policy.refresh_due_months),
        add_months(published_on, policy.refresh_overdue_months),
    )


def effective_threshold(baseline: float | None, policy: Policy) -> float:
    """The divergence (open) threshold: ``abs_threshold`` (0.60) without a
    baseline, ``min(abs_threshold, baseline + baseline_margin)`` (b + 0.12) with one.
    """
    if baseline is None:
        return policy.abs_threshold
    return min(policy.abs_threshold, baseline + policy.baseline_margin)


def checkin_deadline(last: datetime, cadence_days: int, policy: Policy) -> tuple[datetime, datetime]:
    """(due_at, missed_at) for a check-in cadence.

    due_at = last + cadence; missed_at = due_at + max(checkin_grace_min_days (3),
    cadence / 2). checkin_missed holds from missed_at (inclusive).
    """
    last = ensure_aware(last, "last")
    _check_int(cadence_days, "cadence_days", 1)
    grace = max(policy.checkin_grace_min_days, cadence_days / 2)
    due_at = last + timedelta(days=cadence_days)
    return due_at, due_at + timedelta(days=grace)


def _json_safe(value: Any) -> Any:
    """Floats rounded to 4 decimals; dates/datetimes to ISO strings; tuples to lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 4)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return _json_safe(value.item())
    raise TypeError(f"not JSON-serialisable: {value!r}")


# =========================================================================== analysis


@dataclass(frozen=True)
class HeadshotAnalysis:
    """Everything the status screen and the rules know about one headshot as of
    ``as_of``. ``evaluate`` derives its likeness reminders from this object, so
    the status screen and the reminders never disagree.

    * ``active`` -- published on or before ``as_of`` (the start of published_on, local, <=
      as_of) and not retired (retired_at None or > as_of).
    * ``points`` -- daily points from samples taken at or before ``as_of``.
    * ``baseline``/``has_baseline`` -- see ``likeness.baseline``.
    * ``level``/``band`` -- median of the last ``level_n`` points and its band.
    * ``threshold`` -- the effective open threshold at ``as_of``;
      ``resolve_below`` = threshold - hysteresis.
    * ``diverged``/``diverged_since`` -- state of the replayed state machine
      after the last point, and the ``taken_at`` of the point that opened the
      current episode.
    * ``exceedances`` -- how many of the last ``diverge_n`` points are >= threshold.
    * ``from_start`` -- diverged, and the headshot never looked like the person:
      its baseline is itself >= abs_threshold or, before a baseline exists, the
      first divergence episode opened within the first ``diverge_n`` points
      and never closed.
    * ``baseline_points`` -- points on/after publication counted towards the
      baseline (at most ``baseline_n``).
    * ``state`` -- the one-word likeness verdict (see ``LIKENESS_STATES``).
    * ``drifting_since`` -- when the current drifting episode began (see ``_drifting_since``).
    * ``trend``/``projected_date`` -- Theil-Sen trend and when its line reaches
      ``threshold`` (None without a trend or with a non-positive slope).
    * ``drifting`` -- likeness_drifting should be raised (never together with
      ``diverged``).
    * ``refresh_due_on``/``refresh_overdue_on`` -- see ``refresh_dates``.
    """

    headshot_id: int
    active: bool
    points: tuple[Point, ...]
    baseline: float | None
    has_baseline: bool
    level: float | None
    band: str | None
    threshold: float
    resolve_below: float
    diverged: bool
    diverged_since: datetime | None
    exceedances: int
    from_start: bool
    trend: Trend | None
    projected_date: datetime | None
    drifting: bool
    refresh_due_on: date
    refresh_overdue_on: date
    baseline_points: int = 0
    state: str = "no_checkins"
    drifting_since: datetime | None = None


#: The likeness verdict of one headshot, from the rules' point of view (the
#: words for each live in ``freshness.words``):
#:
#: * ``no_checkins`` -- nothing to compare with yet;
#: * ``unlike_so_far`` -- fewer points than a reminder needs, and their level is
#:   already at or above the threshold: unconfirmed, no reminder on one point;
#: * ``alike_so_far`` -- below the threshold, but no baseline yet;
#: * ``alike`` -- below the threshold with a baseline;
#: * ``drifting`` -- likeness_drifting is raised;
#: * ``diverged`` -- likeness_diverged is raised (it looked like the person once);
#: * ``never_alike`` -- likeness_diverged is raised and it never looked like them.
LIKENESS_STATES: tuple[str, ...] = (
    "no_checkins", "unlike_so_far", "alike_so_far", "alike", "drifting", "diverged", "never_alike",
)


def _likeness_state(
    points: int, has_baseline: bool, level: float | None, threshold: float,
    diverged: bool, from_start: bool, drifting: bool,
) -> str:
    if diverged:
        return "never_alike" if from_start else "diverged"
    if drifting:
        return "drifting"
    if points == 0 or level is None:
        return "no_checkins"
    if not has_baseline:
        return "unlike_so_far" if level >= threshold - EPS else "alike_so_far"
    return "alike"


def _replay_divergence(
    points: list[Point], published_on: date, policy: Policy
) -> tuple[bool, datetime | None, bool]:
    """Replay the likeness_diverged state machine over ``points`` (chronological).

    At point i, with window = the last ``diverge_n`` points up to and including i,
    and threshold T_i = abs_threshold, or min(abs_threshold, b + margin) once the
    baseline exists among points[0..i]:
      closed -> open   when >= diverge_k window points are >= T_i;
      open   -> closed when <  diverge_k window points are >= T_i - hysteresis.
    Returns (open, taken_at of the point that opened the current episode,
    whether that episode is the first and opened within the first n points).
    """
    k, n = policy.diverge_k, policy.diverge_n
    is_open = False
    since: datetime | None = None
    episodes = 0
    early = False
    after: list[float] = []  # distances of points on/after publication, in order
    base: float | None = None
    for i, p in enumerate(points):
        if p.day >= published_on and base is None:
            after.append(p.distance)
            if len(after) >= policy.baseline_n:
                base = float(statistics.median(after[: policy.baseline_n]))
        thr = effective_threshold(base, policy)
        window = points[max(0, i - n + 1) : i + 1]
        if not is_open:
            if sum(1 for w in window if w.distance >= thr - EPS) >= k:
                is_open, since = True, p.taken_at
                episodes += 1
                early = episodes == 1 and i < n
        else:
            if sum(1 for w in window if w.distance >= thr - policy.hysteresis - EPS) < k:
                is_open, since = False, None
    return is_open, since, is_open and early


def _rise_needed(base: float | None, threshold: float, policy: Policy) -> float | None:
    """How far the level must be above the baseline for likeness_drifting:
    ``drift_min_rise_fraction`` of the way from the baseline to the threshold.
    None without a baseline (then a positive fraction cannot be met)."""
    if base is None:
        return None
    return policy.drift_min_rise_fraction * max(threshold - base, 0.0)


def _level_has_risen(base: float | None, lvl: float | None, threshold: float, policy: Policy) -> bool:
    """level >= baseline + drift_min_rise_fraction * (threshold - baseline); always
    true when the fraction is 0 (the first-cut rule, which needed no baseline)."""
    if policy.drift_min_rise_fraction <= 0:
        return True
    needed = _rise_needed(base, threshold, policy)
    return needed is not None and lvl is not None and base is not None and lvl >= base + needed - EPS


def _drift(
    points: list[Point], base: float | None, lvl: float | None, thr: float, diverged: bool,
    policy: Policy, as_of: datetime,
) -> tuple[Trend | None, datetime | None, bool]:
    """The trend, its projected crossing of ``thr`` and whether likeness_drifting holds."""
    tr = trend(
        points,
        as_of,
        window_days=policy.drift_window_days,
        min_points=policy.drift_min_points,
        min_span_days=policy.drift_min_span_days,
        confidence=policy.drift_confidence,
    )
    projected = projected_crossing(tr, thr, as_of) if tr is not None else None
    drifting = (
        not diverged
        and tr is not None
        and tr.low_per_year > EPS
        and tr.slope_per_year >= policy.drift_min_slope_per_year - EPS
        and _level_has_risen(base, lvl, thr, policy)
        and projected is not None
        and projected <= as_of + timedelta(days=policy.drift_horizon_days)
    )
    return tr, projected, drifting


def _drifting_since(points: list[Point], published_on: date, policy: Policy) -> datetime:
    """When the current drifting episode began: the earliest check-in of the trailing run of
    check-ins as of each of which likeness_drifting already held (replayed from the data,
    so it does not depend on when evaluations ran). The latest check-in when it held at none
    of them (the horizon moved with the evaluation time)."""
    since = points[-1].taken_at
    for i in range(len(points) - 1, -1, -1):
        prefix = points[: i + 1]
        base = compute_baseline(prefix, published_on, policy.baseline_n)
        thr = effective_threshold(base, policy)
        diverged = _replay_divergence(prefix, published_on, policy)[0]
        held = _drift(prefix, base, compute_level(prefix, policy.level_n), thr, diverged, policy,
                      prefix[-1].taken_at)[2]
        if not held:
            break
        since = prefix[-1].taken_at
    return since


def headshot_analysis(
    headshot: HeadshotFacts, person: PersonFacts, policy: Policy, as_of: datetime
) -> HeadshotAnalysis:
    """Analyse one headshot as of ``as_of`` (see ``HeadshotAnalysis``).

    Only samples taken at or before ``as_of`` are used; points are local days in
    ``person.timezone``. Points before ``published_on`` count for level,
    divergence and trend (they are real measurements of this headshot against
    the person) but never for the baseline.
    """
    as_of = ensure_aware(as_of, "as_of")
    published_at = _day_start(headshot.published_on, person.timezone)
    active = published_at <= as_of and (headshot.retired_at is None or headshot.retired_at > as_of)
    points = daily_points((s for s in headshot.samples if s.taken_at <= as_of), person.timezone)
    base = compute_baseline(points, headshot.published_on, policy.baseline_n)
    lvl = compute_level(points, policy.level_n)
    thr = effective_threshold(base, policy)
    diverged, since, opened_early = _replay_divergence(points, headshot.published_on, policy)
    exceed = sum(1 for p in points[-policy.diverge_n :] if p.distance >= thr - EPS)
    tr, projected, drifting = _drift(points, base, lvl, thr, diverged, policy, as_of)
    drifting_since = _drifting_since(points, headshot.published_on, policy) if drifting else None
    due_on, overdue_on = refresh_dates(headshot.published_on, policy)
    from_start = diverged and (
        base >= policy.abs_threshold - EPS if base is not None else opened_early
    )
    after_publication = sum(1 for p in points if p.day >= headshot.published_on)
    return HeadshotAnalysis(
        headshot_id=headshot.headshot_id,
        active=active,
        points=tuple(points),
        baseline=base,
        has_baseline=base is not None,
        level=lvl,
        band=band(lvl, policy.bands) if lvl is not None else None,
        threshold=thr,
        resolve_below=thr - policy.hysteresis,
        diverged=diverged,
        diverged_since=since,
        exceedances=exceed,
        from_start=from_start,
        trend=tr,
        projected_date=projected,
        drifting=drifting,
        refresh_due_on=due_on,
        refresh_overdue_on=overdue_on,
        baseline_points=min(after_publication, policy.baseline_n),
        drifting_since=drifting_since,
        state=_likeness_state(len(points), base is not None, lvl, thr, diverged, from_start, drifting),
    )


# =========================================================================== reminders


def _diverged_reminder(
    h: HeadshotFacts, a: HeadshotAnalysis, policy: Policy, tz: str
) -> DesiredReminder:
    assert a.diverged_since is not None and a.level is not None
    bands = policy.bands
    details = _json_safe(
        {
            "platform": h.platform,
            "level": a.level,
            "band": band(a.level, bands),
            "level_points": min(policy.level_n, len(a.points)),
            "baseline": a.baseline,
            "baseline_band": band(a.baseline, bands) if a.baseline is not None else None,
            "baseline_n": policy.baseline_n,
            "threshold": a.threshold,
            "abs_threshold": policy.abs_threshold,
            "margin": policy.baseline_margin,
            "resolve_below": a.resolve_below,
            "exceedances": a.exceedances,
            "k": policy.diverge_k,
            "window": policy.diverge_n,
            "from_start": a.from_start,
            "points": len(a.points),
            "undisclosed_ai": h.ai_generated and not _is_disclosed(h),
        }
    )
    message = reminder_message("likeness_diverged", details, tz)
    return DesiredReminder("likeness_diverged", h.headshot_id, a.diverged_since, message, details)


def _drifting_reminder(
    h: HeadshotFacts, a: HeadshotAnalysis, policy: Policy, tz: str
) -> DesiredReminder:
    t = a.trend
    assert t is not None and a.projected_date is not None and a.points
    since = a.drifting_since or a.points[-1].taken_at
    details = _json_safe(
        {
            "platform": h.platform,
            "slope_per_year": t.slope_per_year,
            "low_per_year": t.low_per_year,
            "high_per_year": t.high_per_year,
            "fitted_now": t.intercept_at_as_of,
            "projected_date": a.projected_date.date(),
            "threshold": a.threshold,
            "level": a.level,
            "baseline": a.baseline,
            "n": t.n,
            "span_days": t.span_days,
            "confidence": policy.drift_confidence,
            "band": band(a.level, policy.bands) if a.level is not None else None,
            "rise": a.level - a.baseline if a.level is not None and a.baseline is not None else None,
            "rise_needed": _rise_needed(a.baseline, a.threshold, policy),
            "min_slope_per_year": policy.drift_min_slope_per_year,
        }
    )
    message = reminder_message("likeness_drifting", details, tz)
    return DesiredReminder("likeness_drifting", h.headshot_id, since, message, details)


def _refresh_reminder(
    h: HeadshotFacts, a: HeadshotAnalysis, policy: Policy, as_of: datetime, tz: str
) -> DesiredReminder | None:
    due_at = _day_start(a.refresh_due_on, tz)
    overdue_at = _day_start(a.refresh_overdue_on, tz)
    if as_of < due_at:
        return None
    details = _json_safe(
        {
            "platform": h.platform,
            "published_on": h.published_on,
            "due_on": a.refresh_due_on,
            "overdue_on": a.refresh_overdue_on,
            "months_since_published": _months_between(h.published_on, as_of.date()),
            "due_months": policy.refresh_due_months,
            "overdue_months": policy.refresh_overdue_months,
            "level": a.level,
            "band": band(a.level, policy.bands) if a.level is not None else None,
        }
    )
    kind, since = ("refresh_overdue", overdue_at) if as_of >= overdue_at else ("refresh_due", due_at)
    return DesiredReminder(kind, h.headshot_id, since, reminder_message(kind, details, tz), details)


def disclosed_by(disclosed: bool, label_intact: bool, published_with_label: bool) -> str | None:
    """How a headshot counts as disclosed: ``"person"`` (they marked it disclosed: a caption, a
    note), ``"embedded_label"`` (its file carries an intact AI label and they say it is published
    with it; platforms often strip metadata, so only their word makes the label count), or None."""
    if disclosed:
        return "person"
    if label_intact and published_with_label:
        return "embedded_label"
    return None


def _is_disclosed(h: HeadshotFacts) -> bool:
    return disclosed_by(h.disclosed, h.label_intact, h.published_with_label) is not None


def _disclosure_reminder(h: HeadshotFacts, person: PersonFacts, policy: Policy) -> DesiredReminder | None:
    if not h.ai_generated or _is_disclosed(h) or person.sector is None:
        return None
    sector = person.sector.strip().lower()
    if sector not in policy.trust_critical_sectors:
        return None
    label: dict[str, Any] = {}
    if h.label_intact:  # the file is labelled, but nobody said it is published with the label
        label = {"label_intact": True, "label_source": h.label_source}
    elif h.published_with_label:  # said to be published with a label the file does not carry
        label = {"published_with_label": True}
    details = _json_safe({"platform": h.platform, "sector": sector, "published_on": h.published_on, **label})
    return DesiredReminder(
        "disclosure_missing", h.headshot_id, _day_start(h.published_on, person.timezone),
        reminder_message("disclosure_missing", details, person.timezone), details,
    )


def _checkin_reminder(
    person: PersonFacts, headshots: Iterable[HeadshotFacts], policy: Policy, as_of: datetime
) -> DesiredReminder | None:
    candidates: list[datetime] = []
    if person.last_checkin_at is not None and person.last_checkin_at <= as_of:
        candidates.append(person.last_checkin_at)
    for h in headshots:
        candidates.extend(s.taken_at for s in h.samples if s.taken_at <= as_of)
    last = max(candidates) if candidates else person.created_at
    never = not candidates
    cadence = person.checkin_every_days
    due_at, missed_at = checkin_deadline(last, cadence, policy)
    if as_of < missed_at:
        return None
    overdue_days = int((as_of - due_at).total_seconds() // 86400)
    details = _json_safe(
        {
            "last_checkin_at": None if never else last,
            "counted_from": last,
            "due_at": due_at,
            "missed_at": missed_at,
            "overdue_days": overdue_days,
            "cadence_days": cadence,
            "grace_days": max(policy.checkin_grace_min_days, cadence / 2),
        }
    )
    message = reminder_message("checkin_missed", details, person.timezone)
    return DesiredReminder("checkin_missed", None, missed_at, message, details)


def _sort_key(r: DesiredReminder) -> tuple[int, int, int]:
    return (
        0 if r.headshot_id is None else 1,
        0 if r.headshot_id is None else r.headshot_id,
        KINDS.index(r.kind),
    )


def evaluate(
    person: PersonFacts,
    headshots: Iterable[HeadshotFacts],
    policy: Policy,
    as_of: datetime,
) -> list[DesiredReminder]:
    """The reminders that should be open as of ``as_of`` (see ``evaluate_with_analyses``)."""
    return evaluate_with_analyses(person, headshots, policy, as_of)[0]


def evaluate_with_analyses(
    person: PersonFacts,
    headshots: Iterable[HeadshotFacts],
    policy: Policy,
    as_of: datetime,
) -> tuple[list[DesiredReminder], dict[int, HeadshotAnalysis]]:
    """The reminders that should be open as of ``as_of``.

    A pure function of the data up to ``as_of``: samples after it, headshots
    published after it (the start of published_on, local, > as_of) and headshots retired at
    or before it are ignored. Person-level reminders come first, then headshots
    by id, each in ``KINDS`` order. The result does not depend on the order of
    ``headshots`` or of their samples. Raises ValueError on a naive ``as_of``
    or duplicate headshot ids.
    """
    as_of = ensure_aware(as_of, "as_of")
    if not isinstance(person, PersonFacts):
        raise ValueError(f"person must be PersonFacts, got {type(person).__name__}")
    if not isinstance(policy, Policy):
        raise ValueError(f"policy must be a Policy, got {type(policy).__name__}")
    hs = list(headshots)
    ids = [h.headshot_id for h in hs if isinstance(h, HeadshotFacts)]
    if len(ids) != len(hs):
        raise ValueError("headshots must be HeadshotFacts")
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate headshot ids: {sorted(i for i in set(ids) if ids.count(i) > 1)}")

    out: list[DesiredReminder] = []
    analyses: dict[int, HeadshotAnalysis] = {}
    checkin = _checkin_reminder(person, hs, policy, as_of)
    if checkin is not None:
        out.append(checkin)
    for h in hs:
        a = analyses[h.headshot_id] = headshot_analysis(h, person, policy, as_of)
        if not a.active:
            continue
        if a.diverged:
            out.append(_diverged_reminder(h, a, policy, person.timezone))
        elif a.drifting:
            out.append(_drifting_reminder(h, a, policy, person.timezone))
        refresh = _refresh_reminder(h, a, policy, as_of, person.timezone)
        if refresh is not None:
            out.append(refresh)
        disclosure = _disclosure_reminder(h, person, policy)
        if disclosure is not None:
            out.append(disclosure)
    out.sort(key=_sort_key)
    return out, analyses


def reconcile(
    open_keys: frozenset[ReminderKey] | set[ReminderKey], desired: Iterable[DesiredReminder]
) -> tuple[frozenset[ReminderKey], frozenset[ReminderKey]]:
    """Diff what is open against what should be open.

    Returns ``(to_open, to_resolve)``: keys (kind, headshot_id) in ``desired``
    but not in ``open_keys``, and keys in ``open_keys`` but not in ``desired``.
    Keys in both stay as they are (the engine may refresh their details).
    Applying the diff -- ``(open_keys - to_resolve) | to_open`` -- always yields
    exactly the desired key set, so the open set after any sequence of
    evaluations equals the last evaluation's desired set.
    """
    want = frozenset(r.key for r in desired)
    have = frozenset(open_keys)
    return want - have, have - want
