"""False drifting alarms: replay same-person timelines of real photos through the rules.

What is measured, and why
-------------------------
``likeness_drifting`` must not fire on a person who did not change. A person's
real photos, taken in any order, are such a timeline: the distances to the
headshot go up and down (pose, light, camera, age of the photo) but nothing
drifts. This script builds every such timeline it can from the test photos
and replays the reminder rules over it exactly as the service would, then
checks that real, sustained rises are still caught before likeness_diverged.

Embeddings come from the product's own pipeline: ``decode_image`` then
``analyze_image(..., purpose="headshot")`` (so that quality warnings never drop
a photo), computed once per photo and kept in memory (``--cache FILE`` keeps
them in an .npz between runs; it holds embeddings only, never pixels).

Same-person timelines (three sets):

* ``people``       -- people/<name>/: each photo in turn is the headshot,
  published on day 0; the person's other photos are monthly check-ins;
* ``ai-real``      -- the same with the real photos of ai/<name>/real/;
* ``ai-generated`` -- each AI portrait of ai/<name>/generated/ is the headshot,
  the person's real photos of ai/<name>/real/ are the check-ins.

Each in several orders: ``sorted`` (file names), ``reversed`` and ten seeded
random permutations (``seed-1`` ... ``seed-10``). Two lengths:

* ``raw``    -- each check-in photo once (1 to 6 check-ins: the issue's case);
* ``cycled`` -- lengthened to at least ``--min-checkins`` (13: one year and a
  month) by cycling the photos: round 0 is the photos themselves, round r >= 1
  uses a re-encoded variant r of each photo (a crop a few pixels smaller on each
  side, JPEG quality 92 - r: different bytes, same face, the measurement noise
  of the pipeline) -- sorted and reversed repeat their order every round, the
  seeded orders draw a new permutation each round (variants repeat after
  ``--max-variant`` 12 rounds).

Check-in i is taken at 12:00 UTC, i calendar months after publication. The rules
(``freshness.rules.evaluate``) are evaluated at EVERY check-in and 15, 30, 60
and 90 days after the last one (evaluations repeat: an alarm at any evaluation
counts); a timeline counts once per kind however many evaluations raised it.

Positive cases, which likeness_drifting must still catch before
likeness_diverged opens:

* ``look-alike`` -- a person's check-ins replaced step by step by another
  person's: no two different people in the test photos are closer than 0.67
  (beyond the 0.60 identity limit: a straight swap is a divergence, not a
  drift), so each check-in embedding is a mixture (1 - w) * own + w * other of
  the person's own (cycled) photo and the look-alike's, with w rising linearly
  from 0 after the third check-in to 1 over 12 or 24 months. The look-alike is
  the other person whose real photos are closest on average; the headshots are
  those of ``LOOK_ALIKE_HEADSHOTS``.
* ``steady`` -- b0 + rate * t plus a fixed +-0.03 pattern (about the pipeline's
  own noise), b0 from 0.30 to 0.50, rate 0.15, 0.20, 0.30 per year;
* ``synthetic`` -- distances b0 + rate * t + noise, monthly for 24 months, with
  b0 = 0.35 (median same-person distance) or 0.50 (median AI portrait against
  real photos), rate 0.15, 0.20, 0.30 per year, and noise drawn (bootstrap) from
  the measured deviations of one person's distances to a fixed reference around
  their mean -- over all photos (sd 0.09, inflated by four copies of one video
  frame) or over distinct photos only (sd 0.05); rate 0 is the synthetic
  false-alarm check.

Policies compared: ``first cut`` (the rule before issue 12: >= 4 points over
>= 60 days, lower 90 % bound > 0) and ``defaults`` (the current defaults);
``--policy JSON`` adds one more.

``--ablation`` adds a table with each part of the rule on its own.

    python benchmarks/drift_timelines.py [--faces DIR] [--cache FILE] [--policy JSON] [--runs N] [--ablation]
"""

from __future__ import annotations

import warnings

# face_recognition_models imports pkg_resources, which warns on import (setuptools<81).
warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)

import argparse  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date, datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from freshness.likeness import Sample  # noqa: E402
from freshness.rules import HeadshotFacts, PersonFacts, Policy, add_months, evaluate_with_analyses  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
UTC = timezone.utc
PUBLISHED = date(2024, 1, 1)
AFTER_DAYS = (15, 30, 60, 90)
ORDERS = ("sorted", "reversed") + tuple(f"seed-{i}" for i in range(1, 11))
MIN_CHECKINS = 13
MAX_VARIANT = 12

#: The rule before issue 12, as overrides of the current Policy.
FIRST_CUT: dict[str, Any] = {
    "drift_min_points": 4,
    "drift_min_span_days": 60,
    "drift_confidence": 0.90,
    "drift_min_slope_per_year": 0.0,
    "drift_min_rise_fraction": 0.0,
}


def default_faces_dir() -> Path:
    env = os.environ.get("FRESHNESS_TEST_FACES")
    return Path(env) if env else REPO.parent / "shared" / "faces"


# --------------------------------------------------------------------------- photos and embeddings


@dataclass(frozen=True)
class Photo:
    file: str  # relative to the faces directory
    person: str
    kind: str  # "photo" (real) or "generated"

    @property
    def group(self) -> str:
        return "people" if self.file.startswith("people/") else "ai"


def read_photos(faces: Path) -> list[Photo]:
    """Every manifest row with a person (real photos and AI portraits), in manifest order."""
    with open(faces / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [Photo(r["file"], r["person"], r["kind"]) for r in rows if r["person"] and r["kind"] in ("photo", "generated")]


def variant_bytes(path: Path, k: int) -> bytes:
    """Variant k >= 1 of a photo: different bytes, same face (as tests/test_scenario.py's ``variant``):
    a crop 1-4 px smaller on each side, re-encoded as JPEG at quality 92 - k."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    a, b = 1 + k % 4, 1 + (k // 4) % 4
    out = io.BytesIO()
    img.crop((a, a, w - b, h - b)).save(out, "JPEG", quality=92 - k)
    return out.getvalue()


class Embeddings:
    """Embeddings by (file, variant), computed once with the product's pipeline."""

    def __init__(self, faces: Path, cache: Path | None = None) -> None:
        self.faces = faces
        self.cache = cache
        self.store: dict[str, np.ndarray] = {}
        self.computed = 0
        self.seconds = 0.0
        if cache is not None and cache.is_file():
            with np.load(cache) as data:
                self.store = {k: data[k] for k in data.files}

    @staticmethod
    def key(file: str, k: int) -> str:
        return file if k == 0 else f"{file}#v{k}"

    def get(self, file: str, k: int = 0) -> np.ndarray:
        key = self.key(file, k)
        if key not in self.store:
            from freshness.faces import analyze_image, decode_image

            t0 = time.perf_counter()
            path = self.faces / file
            data = path.read_bytes() if k == 0 else variant_bytes(path, k)
            analysis = analyze_image(decode_image(data), purpose="headshot")
            self.store[key] = np.asarray(analysis.embedding, dtype=np.float64)
            self.computed += 1
            self.seconds += time.perf_counter() - t0
        return self.store[key]

    def save(self) -> None:
        if self.cache is not None and self.computed:
            np.savez(self.cache, **self.store)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


# --------------------------------------------------------------------------- timelines


@dataclass(frozen=True)
class Timeline:
    set: str  # people | ai-real | ai-generated
    person: str
    headshot: str
    order: str
    length: str  # raw | cycled
    checkins: tuple[tuple[str, int], ...]  # (file, variant) per monthly check-in

    @property
    def ai(self) -> bool:
        return self.set == "ai-generated"

    @property
    def name(self) -> str:
        return f"{self.set}/{self.length}/{self.order}: {self.headshot}"


def _rounds(photos: Sequence[str], order: str, rounds: int, max_variant: int = MAX_VARIANT) -> list[tuple[str, int]]:
    """``rounds`` passes over ``photos`` in ``order``; pass r >= 1 uses variant 1 + (r - 1) % max_variant."""
    base = sorted(photos)
    out: list[tuple[str, int]] = []
    for r in range(rounds):
        k = 0 if r == 0 else 1 + (r - 1) % max_variant
        if order == "sorted":
            seq = base
        elif order == "reversed":
            seq = base[::-1]
        else:
            seed = int(order.split("-")[1])
            seq = list(base)
            # round 0 of seed s is the same permutation in raw and cycled timelines
            random.Random(seed * 1000 + r).shuffle(seq)
        out.extend((f, k) for f in seq)
    return out


def same_person_sets(photos: Sequence[Photo]) -> list[tuple[str, str, str, list[str]]]:
    """(set, person, headshot file, check-in files) for every same-person pairing."""
    by: dict[tuple[str, str, str], list[str]] = {}
    for p in photos:
        by.setdefault((p.group, p.person, p.kind), []).append(p.file)
    out: list[tuple[str, str, str, list[str]]] = []
    for (group, person, kind), files in sorted(by.items()):
        if kind != "photo":
            continue
        name = "people" if group == "people" else "ai-real"
        for h in sorted(files):
            others = [f for f in files if f != h]
            if others:
                out.append((name, person, h, others))
        if group == "ai":
            for g in sorted(by.get((group, person, "generated"), [])):
                out.append(("ai-generated", person, g, list(files)))
    return out


def build_timelines(photos: Sequence[Photo], min_checkins: int = MIN_CHECKINS,
                    orders: Sequence[str] = ORDERS, max_variant: int = MAX_VARIANT) -> list[Timeline]:
    """Every same-person timeline: raw (each photo once) and cycled (at least ``min_checkins``,
    at least two passes), in every order."""
    out: list[Timeline] = []
    for name, person, h, others in same_person_sets(photos):
        cycles = max(2, math.ceil(min_checkins / len(others)))
        for order in orders:
            out.append(Timeline(name, person, h, order, "raw", tuple(_rounds(others, order, 1))))
            out.append(Timeline(name, person, h, order, "cycled",
                                tuple(_rounds(others, order, cycles, max_variant))))
    return out


def timeline_distances(t: Timeline, emb: Embeddings) -> list[float]:
    head = emb.get(t.headshot, 0)
    return [distance(head, emb.get(f, k)) for f, k in t.checkins]


# --------------------------------------------------------------------------- replay


def checkin_time(i: int, published: date = PUBLISHED) -> datetime:
    """Check-in i (1-based): 12:00 UTC, i calendar months after publication."""
    d = add_months(published, i)
    return datetime(d.year, d.month, d.day, 12, 0, tzinfo=UTC)


@dataclass
class Replay:
    """What the rules said over one timeline."""

    n: int  # check-ins
    evaluations: int = 0
    drifting: list[str] = field(default_factory=list)  # labels of evaluations that raised it
    diverged: list[str] = field(default_factory=list)
    first_drifting: int | None = None  # check-in number (n + 1 for evaluations after the last)
    first_diverged: int | None = None
    drift_detail: dict[str, Any] | None = None  # details of the first drifting reminder

    @property
    def drifting_before_diverged(self) -> bool:
        return self.first_drifting is not None and (
            self.first_diverged is None or self.first_drifting < self.first_diverged)


def replay(distances: Sequence[float], policy: Policy, ai: bool = False,
           after_days: Iterable[int] = AFTER_DAYS, published: date = PUBLISHED) -> Replay:
    """Evaluate the rules at every check-in and at ``after_days`` after the last one."""
    samples = [Sample(checkin_time(i + 1, published), d, i + 1) for i, d in enumerate(distances)]
    person = PersonFacts(1, None, "UTC", 30, datetime(published.year, published.month, published.day, tzinfo=UTC))
    head = HeadshotFacts(1, "linkedin", published, ai, True, None, tuple(samples))
    moments = [(str(i + 1), i + 1, s.taken_at) for i, s in enumerate(samples)]
    if samples:
        moments += [(f"+{d}d", len(samples) + 1, samples[-1].taken_at + timedelta(days=d)) for d in after_days]
    out = Replay(len(samples))
    for label, index, as_of in moments:
        reminders, _ = evaluate_with_analyses(person, [head], policy, as_of)
        out.evaluations += 1
        kinds = {r.kind: r for r in reminders}
        if "likeness_drifting" in kinds:
            out.drifting.append(label)
            if out.first_drifting is None:
                out.first_drifting = index
                out.drift_detail = kinds["likeness_drifting"].details
        if "likeness_diverged" in kinds:
            out.diverged.append(label)
            if out.first_diverged is None:
                out.first_diverged = index
    return out


# --------------------------------------------------------------------------- measurements


def pair_figures(photos: Sequence[Photo], emb: Embeddings) -> dict[str, Any]:
    """Distances between photos, with the product's pipeline."""

    def summary(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "min": min(values), "median": statistics.median(values), "max": max(values)}

    real = [p for p in photos if p.kind == "photo"]
    people = [p for p in real if p.group == "people"]
    same_people, diff_people, same_real, diff_real = [], [], [], []
    for a, b in itertools.combinations(real, 2):
        d = distance(emb.get(a.file), emb.get(b.file))
        same = a.person == b.person
        (same_real if same else diff_real).append(d)
        if a in people and b in people:
            (same_people if same else diff_people).append(d)
    generated = [distance(emb.get(g.file), emb.get(r.file)) for g in photos if g.kind == "generated"
                 for r in real if r.person == g.person]
    closest = min(((distance(emb.get(a.file), emb.get(b.file)), a.file, b.file)
                   for a, b in itertools.combinations(real, 2) if a.person != b.person))
    return {
        "people same-person": summary(same_people),
        "people different": summary(diff_people),
        "all real same-person": summary(same_real),
        "all real different": summary(diff_real),
        "AI portrait vs real, same person": {**summary(generated),
                                             "share >= 0.60": sum(d >= 0.6 - 1e-9 for d in generated) / len(generated)},
        "closest different-person pair": {"distance": closest[0], "a": closest[1], "b": closest[2]},
    }


#: Two photos of one person closer than this are copies of one picture (re-encoded or
#: resized: the pipeline's own noise reaches 0.12), not two pictures.
COPY_BELOW = 0.15


def distinct_photos(photos: Sequence[Photo], emb: Embeddings) -> list[Photo]:
    """Real photos, keeping one of each group of copies of one picture (e.g. one video
    frame at several resolutions), the first in file-name order."""
    kept: list[Photo] = []
    for p in sorted((p for p in photos if p.kind == "photo"), key=lambda p: p.file):
        if not any(k.person == p.person and distance(emb.get(k.file), emb.get(p.file)) < COPY_BELOW
                   for k in kept):
            kept.append(p)
    return kept


def reference_deviations(photos: Sequence[Photo], emb: Embeddings, distinct: bool = False) -> list[float]:
    """How one person's distances to a fixed reference spread: for each real photo of a
    person (the reference) with at least 2 other real photos, the distances to those
    others minus their mean, scaled by sqrt(k / (k - 1)) for k others so that their
    variance is unbiased. ``distinct``: copies of one picture count once."""
    real = distinct_photos(photos, emb) if distinct else [p for p in photos if p.kind == "photo"]
    out: list[float] = []
    for ref in real:
        others = [p for p in real if p.person == ref.person and p.file != ref.file]
        if len(others) < 2:
            continue
        ds = [distance(emb.get(ref.file), emb.get(o.file)) for o in others]
        m, k = statistics.mean(ds), len(ds)
        out.extend((d - m) * math.sqrt(k / (k - 1)) for d in ds)
    return out


def variant_noise(photos: Sequence[Photo], emb: Embeddings, k: int = 3) -> list[float]:
    return [distance(emb.get(p.file), emb.get(p.file, v)) for p in photos if p.kind == "photo"
            for v in range(1, k + 1)]


# --------------------------------------------------------------------------- positive cases


#: Headshots for the look-alike cases: every real photo of these people whose own
#: same-person timelines raise no likeness_diverged (obama.jpg and the other copies of
#: one video frame, and alex_lacamoire1.jpg / img1.jpg, do: see the report).
LOOK_ALIKE_HEADSHOTS: dict[str, tuple[str, ...] | None] = {
    "barack_obama": ("obama1.jpg", "obama2.jpg", "obama3.jpg"),
    "scarlett_johansson": None,  # all six
    "kit_harington": None,  # all three
    "alex_lacamoire": ("alex-lacamoire.png",),
}


def look_alike_headshots(person: str, photos: Sequence[Photo]) -> list[str]:
    names = LOOK_ALIKE_HEADSHOTS[person]
    return sorted(p.file for p in photos if p.person == person and p.kind == "photo"
                  and (names is None or p.file.rsplit("/", 1)[1] in names))


def look_alike(person: str, photos: Sequence[Photo], emb: Embeddings) -> str:
    """The other person whose real photos are closest on average to ``person``'s."""
    real = [p for p in photos if p.kind == "photo"]
    mine = [p for p in real if p.person == person]
    best: tuple[float, str] | None = None
    for other in sorted({p.person for p in real} - {person}):
        theirs = [p for p in real if p.person == other]
        d = statistics.mean(distance(emb.get(a.file), emb.get(b.file)) for a in mine for b in theirs)
        if best is None or d < best[0]:
            best = (d, other)
    assert best is not None
    return best[1]


def look_alike_distances(person: str, headshot: str, other: str, photos: Sequence[Photo], emb: Embeddings,
                         ramp_months: int, total: int, order: str = "sorted", start: int = 3,
                         max_variant: int = 3) -> list[float]:
    """Check-ins of ``person`` morphing into ``other``: w = 0 for the first ``start`` check-ins,
    then rising linearly to 1 over ``ramp_months``; embedding (1 - w) * own + w * other's
    (own photos cycled as in the same-person timelines, re-encoded variants up to ``max_variant``)."""
    own = [p.file for p in photos if p.person == person and p.kind == "photo" and p.file != headshot]
    theirs = sorted(p.file for p in photos if p.person == other and p.kind == "photo")
    seq = _rounds(own, order, math.ceil(total / len(own)), max_variant)[:total]
    head = emb.get(headshot)
    out = []
    for i, (f, k) in enumerate(seq):
        w = min(1.0, max(0.0, (i + 1 - start) / ramp_months))
        mix = (1 - w) * emb.get(f, k) + w * emb.get(theirs[i % len(theirs)], k)
        out.append(distance(head, mix))
    return out


#: A small fixed noise pattern, about the pipeline's own (re-encoded copies: median 0.05).
STEADY_NOISE = (0.02, -0.02, 0.01, -0.01, 0.0, 0.03, -0.03)


def steady(b0: float, rate: float, months: int = 24) -> list[float]:
    """b0 + rate * years + STEADY_NOISE, monthly."""
    return [b0 + rate * (i + 1) / 12 + STEADY_NOISE[i % len(STEADY_NOISE)] for i in range(months)]


def synthetic(b0: float, rate: float, noise: Sequence[float], months: int, rng: random.Random,
              scale: float = 1.0) -> list[float]:
    """b0 + rate * years + a deviation drawn from ``noise`` (times ``scale``), monthly."""
    return [max(0.0, b0 + rate * (i + 1) / 12 + scale * rng.choice(noise)) for i in range(months)]


# --------------------------------------------------------------------------- report


def fmt_first(values: list[int | None], n_total: int) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "never"
    return f"{statistics.median(got):g} ({len(got)}/{n_total})"


#: One condition at a time: the first cut plus (or the defaults minus) each part of the rule.
ABLATION: dict[str, dict[str, Any]] = {
    "first cut + 95 %": {"drift_confidence": 0.95},
    "first cut + 6 points over 150 days": {"drift_min_points": 6, "drift_min_span_days": 150},
    "first cut + 0.10 a year": {"drift_min_slope_per_year": 0.10},
    "first cut + level half way": {"drift_min_rise_fraction": 0.5},
    "defaults - 95 % (90 %)": {"drift_confidence": 0.90},
    "defaults - 6 points over 150 days (4 / 60)": {"drift_min_points": 4, "drift_min_span_days": 60},
    "defaults - 0.10 a year": {"drift_min_slope_per_year": 0.0},
    "defaults - level half way": {"drift_min_rise_fraction": 0.0},
    "defaults at 98 %": {"drift_confidence": 0.98},
}


def ablation(timelines: dict[Timeline, list[float]], noise: Sequence[float], runs: int,
             out: Callable[[str], None] = print) -> None:
    """Same-person alarms, synthetic false alarms and catches for each part of the rule."""
    rng = random.Random(5)
    flat = [synthetic(0.35, 0.0, noise, 24, rng) for _ in range(runs)]
    rise = [synthetic(0.35, 0.15, noise, 24, rng) for _ in range(runs)]
    first = Policy().with_overrides(FIRST_CUT)
    out(f"\nEach condition on its own: timelines with drifting / synthetic b0=0.35, distinct-photo noise, "
        f"{runs} runs each")
    out(f"  {'policy':44s} {'same-person':>12s} {'flat: alarm':>12s} {'+0.15/y: before diverged':>25s}")
    rows = [("first cut", first), *((k, (first if k.startswith("first") else Policy()).with_overrides(v))
                                   for k, v in ABLATION.items()), ("defaults", Policy())]
    for name, policy in rows:
        same = sum(1 for t, d in timelines.items() if replay(d, policy, t.ai).drifting)
        fa = sum(bool(replay(d, policy, after_days=()).drifting) for d in flat)
        caught = sum(replay(d, policy, after_days=()).drifting_before_diverged for d in rise)
        out(f"  {name:44s} {same:5d}/{len(timelines):<6d} {fa:5d}/{runs:<6d} {caught:17d}/{runs}")


def run(faces: Path, cache: Path | None, policies: dict[str, Policy], runs: int = 200,
        min_checkins: int = MIN_CHECKINS, max_variant: int = MAX_VARIANT, with_ablation: bool = False,
        out: Callable[[str], None] = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    photos = read_photos(faces)
    emb = Embeddings(faces, cache)
    timelines = build_timelines(photos, min_checkins, ORDERS, max_variant)
    dists = {t: timeline_distances(t, emb) for t in timelines}
    figures = pair_figures(photos, emb)
    noises = {"all photos": reference_deviations(photos, emb),
              "distinct photos": reference_deviations(photos, emb, distinct=True)}
    copies = sorted({p.file for p in photos if p.kind == "photo"} - {p.file for p in distinct_photos(photos, emb)})
    noise = variant_noise(photos, emb)
    emb.save()
    result: dict[str, Any] = {"figures": figures, "timelines": {}, "positive": {}}

    out(f"photos: {len(photos)}; embeddings computed: {emb.computed} in {emb.seconds:.1f} s "
        f"({len(emb.store)} in memory)")
    out("\nDistances with the product's pipeline (decode_image + analyze_image):")
    for name, f in figures.items():
        if "n" in f:
            extra = f"; {f['share >= 0.60']:.0%} >= 0.60" if "share >= 0.60" in f else ""
            out(f"  {name:34s} n={f['n']:3d}  {f['min']:.2f}-{f['max']:.2f}, median {f['median']:.2f}{extra}")
        else:
            out(f"  {name:34s} {f['distance']:.3f}  {f['a']} / {f['b']}")
    for label, devs in noises.items():
        q = np.percentile(devs, [5, 10, 90, 95])
        out(f"  one person's distances to a fixed reference around their mean, {label}: n={len(devs)}, "
            f"sd {statistics.pstdev(devs):.3f}, 10-90 % {q[1]:+.3f}..{q[2]:+.3f}, 5-95 % {q[0]:+.3f}..{q[3]:+.3f}")
    out(f"  (copies of one picture, closer than {COPY_BELOW} to another photo of the person: {', '.join(copies)})")
    result["noise_sd"] = {k: statistics.pstdev(v) for k, v in noises.items()}
    out(f"  re-encoded variant vs original (pipeline noise): n={len(noise)}, median {statistics.median(noise):.3f}, "
        f"max {max(noise):.3f}")

    # ---- same-person timelines
    out("\nSame-person timelines: timelines with an alarm at any evaluation (every check-in, +15/30/60/90 days)")
    header = f"  {'set':13s} {'length':7s} {'timelines':>9s} {'checkins':>8s} {'evals':>6s}"
    for name in policies:
        header += f" | {name + ': drifting':>22s} {'diverged':>8s}"
    out(header)
    keys = sorted({(t.set, t.length) for t in timelines}, key=lambda k: (k[1] != "raw", k[0]))
    replays: dict[str, dict[Timeline, Replay]] = {
        name: {t: replay(dists[t], p, t.ai) for t in timelines} for name, p in policies.items()}
    for key in keys + [("all", "all")]:
        ts = [t for t in timelines if key == ("all", "all") or (t.set, t.length) == key]
        ns = [len(t.checkins) for t in ts]
        row = f"  {key[0]:13s} {key[1]:7s} {len(ts):9d} {min(ns):>3d}-{max(ns):<4d} " \
              f"{sum(replays[next(iter(policies))][t].evaluations for t in ts):6d}"
        for name in policies:
            r = replays[name]
            drift = sum(1 for t in ts if r[t].drifting)
            div = sum(1 for t in ts if r[t].diverged)
            row += f" | {drift:>12d} ({drift / len(ts):5.1%}) {div:8d}"
            result["timelines"].setdefault(name, {})[f"{key[0]}/{key[1]}"] = {
                "timelines": len(ts), "drifting": drift, "diverged": div}
        out(row)
    for name in policies:
        r = replays[name]
        alarms = [(t, r[t]) for t in timelines if r[t].drifting]
        if alarms:
            out(f"\n  {name}: drifting alarms (first one's details)")
            for t, rep in alarms[:40]:
                d = rep.drift_detail or {}
                out(f"    {t.name} n={rep.n} at {rep.drifting[0]}: slope {d.get('slope_per_year')}/y "
                    f"low {d.get('low_per_year')} level {d.get('level')} baseline {d.get('baseline')} "
                    f"points {d.get('n')} span {d.get('span_days')}")
            if len(alarms) > 40:
                out(f"    ... and {len(alarms) - 40} more")
        div = [(t, r[t]) for t in timelines if r[t].diverged and t.length == "raw" and t.order == "sorted"]
        if div and name == list(policies)[-1]:
            out(f"\n  {name}: same-person headshots raising likeness_diverged (raw, sorted order), distances:")
            for t, rep in div:
                out(f"    {t.set} {t.headshot}: {', '.join(f'{d:.2f}' for d in dists[t])} at {rep.diverged[0]}")

    # ---- positive cases
    out("\nPositive cases: check-in at which drifting first opens vs diverged (median over orders/runs; "
        "'n/N' = runs where it opened; 'before' = drifting opened strictly before diverged)")
    head = f"  {'case':52s}"
    for name in policies:
        head += f" | {name + ': drifting':>22s} {'diverged':>11s} {'before':>7s}"
    out(head)
    cases: list[tuple[str, list[tuple[list[float], bool]]]] = []
    for person in LOOK_ALIKE_HEADSHOTS:
        other = look_alike(person, photos, emb)
        mine = look_alike_headshots(person, photos)
        for ramp in (12, 24):
            series = [(look_alike_distances(person, h, other, photos, emb, ramp, 24, order), False)
                      for h in mine for order in ORDERS]
            cases.append((f"look-alike {person} -> {other}, over {ramp} months", series))
    for b0 in (0.30, 0.35, 0.40, 0.45, 0.50):
        cases.append((f"steady b0={b0:.2f}, +0.15/0.20/0.30 a year, +-0.03",
                      [(steady(b0, rate), b0 >= 0.45) for rate in (0.15, 0.20, 0.30)]))
    rng = random.Random(12)
    for b0 in (0.35, 0.50):
        for rate in (0.0, 0.15, 0.20, 0.30):
            for label, devs in noises.items():
                series = [(synthetic(b0, rate, devs, 24, rng), b0 >= 0.45) for _ in range(runs)]
                cases.append((f"synthetic b0={b0:.2f} +{rate:.2f}/y, {label}", series))
    for case, series in cases:
        row = f"  {case:52s}"
        for name, p in policies.items():
            reps = [replay(s, p, ai, after_days=()) for s, ai in series]
            before = sum(r.drifting_before_diverged for r in reps)
            row += (f" | {fmt_first([r.first_drifting for r in reps], len(reps)):>22s} "
                    f"{fmt_first([r.first_diverged for r in reps], len(reps)):>11s} {before:>3d}/{len(reps):<3d}")
            result["positive"].setdefault(name, {})[case] = {
                "runs": len(reps), "drifting": sum(r.first_drifting is not None for r in reps),
                "diverged": sum(r.first_diverged is not None for r in reps), "drifting_first": before,
                "median_first_drifting": statistics.median([r.first_drifting for r in reps if r.first_drifting]
                                                           or [0]),
            }
        out(row)
    if with_ablation:
        ablation(dists, noises["distinct photos"], runs, out)
    out(f"\n({time.perf_counter() - t0:.0f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=default_faces_dir(),
                        help="test photos directory (default: $FRESHNESS_TEST_FACES, else ../shared/faces)")
    parser.add_argument("--cache", type=Path, default=None, help="keep embeddings in this .npz between runs")
    parser.add_argument("--policy", default=None, help="JSON overrides: one more policy to compare")
    parser.add_argument("--runs", type=int, default=200, help="synthetic series per case (default 200)")
    parser.add_argument("--min-checkins", type=int, default=MIN_CHECKINS,
                        help=f"cycled timelines have at least this many check-ins (default {MIN_CHECKINS})")
    parser.add_argument("--max-variant", type=int, default=MAX_VARIANT,
                        help=f"re-encoded variants per photo before they repeat (default {MAX_VARIANT})")
    parser.add_argument("--ablation", action="store_true",
                        help="also replay with each part of the rule added to the first cut / removed from the defaults")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    args = parser.parse_args(argv)
    if not (args.faces / "manifest.csv").is_file():
        print(f"test photos not found: {args.faces}/manifest.csv (use --faces DIR or set FRESHNESS_TEST_FACES)",
              file=sys.stderr)
        return 2
    policies = {"first cut": Policy().with_overrides(FIRST_CUT), "defaults": Policy()}
    if args.policy:
        policies["custom"] = Policy().with_overrides(json.loads(args.policy))
    result = run(args.faces, args.cache, policies, args.runs, args.min_checkins, args.max_variant, args.ablation)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
