"""Check-in speed and embedding agreement: freshness's face pipeline vs the naive face_recognition path.

What is measured, and why
-------------------------
A check-in is a phone selfie: typically a 12-megapixel JPEG (4032x3024) whose
pixels are stored sideways with an EXIF Orientation tag. The obvious way to get
an embedding from it with face_recognition is

    img  = face_recognition.load_image_file(path)     # full resolution, EXIF orientation ignored
    locs = face_recognition.face_locations(img)       # HOG, upsample 1
    enc  = face_recognition.face_encodings(img, locs) # 5-point "small" model

which on such a photo took about 4.6 s, 4.3 s of it in face detection (HOG over
the full-resolution image, upsampled once). It also sees the face sideways,
because load_image_file does not apply the EXIF orientation, and HOG often
misses sideways faces altogether.

freshness's own check-in analysis is ``analyze_image(decode_image(data))``:
a JPEG draft-mode decode straight to a <=1024 px upright working image, then
HOG detection on a <=640 px copy and landmarks + embedding on the working image.

This script, in ONE run (machines are shared and noisy, so it reports medians
over repeats and ratios, never absolute numbers alone):

1. Builds a 12 MP phone-style JPEG in a temp dir from a photo in the faces
   directory (LANCZOS upscale, mild sensor-like noise, quality 92): pixels
   stored rotated with EXIF Orientation=6 and a DateTimeOriginal, 4032x3024
   once upright; plus an upright copy of the same pixels with no orientation
   tag, so the naive path can also be timed on an image it sees upright.
2. Times, interleaved round by round after one warm-up round, the naive path on
   the upright copy, the naive path on the rotated file, and freshness's
   analysis of the rotated file from raw bytes (file read included for both).
   Target: median(naive, upright) / median(freshness) >= 20x.
3. Embedding agreement over every pair of photos under people/*/: the distance
   of each pair under both paths; the same/different decision at 0.6 must agree
   for every pair, and the mean absolute difference of same-person pair
   distances between the paths must be <= 0.03.

4. The floor: how close a check-in's analysis comes to the one step no check-in
   can skip, the 128-d encoding itself — ``face_recognition.face_encodings`` with
   the known face location on the same working image (5-point landmarks + the
   ResNet descriptor, which is what freshness computes too: the embeddings must be
   equal). Timed interleaved in the same run against the whole analysis from bytes
   (decode + detect + landmarks + quality + thumbnail + encode), for the 12 MP JPEG
   and for a 12 MP HEIC made from the same pixels with pillow_heif in the temp dir.
   Target: analysis / floor <= 1.5x for each.

Exit status: 0 when every target passes, 1 when any fails, 2 when the run is
impossible (faces directory or source photo missing).

    python benchmarks/checkin_speed.py [--faces DIR] [--repeats N] [--json]
"""

from __future__ import annotations

import warnings

# face_recognition_models imports pkg_resources, which warns on import (setuptools<81).
warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter, ImageOps  # noqa: E402

import face_recognition  # noqa: E402
from freshness.errors import ImageRejected  # noqa: E402
from freshness.faces.analyze import FaceAnalysis, analyze_image, distance  # noqa: E402
from freshness.faces.decode import decode_image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = "people/barack_obama/obama.jpg"

TARGET_RATIO = 20.0  # naive (upright) median / freshness median
THRESHOLD = 0.6  # same person when distance <= 0.6 (face_recognition.compare_faces)
MAX_SAME_PERSON_MAD = 0.03  # mean |d_naive - d_freshness| over same-person pairs

PHONE_SIZE = (4032, 3024)  # upright width, height: 12.2 megapixels
PHONE_ORIENTATION = 6  # stored pixels must be rotated 90 degrees clockwise to be upright
PHONE_QUALITY = 92
PHONE_NOISE_SIGMA = 1.5  # grey levels; makes the file size and entropy decode more phone-like
TAKEN_AT = "2024:05:17 09:41:23"
TAKEN_AT_OFFSET = "+02:00"

_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_IFD_EXIF = 0x8769
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME_ORIGINAL = 0x9011


class BenchmarkError(Exception):
    """The benchmark cannot run (exit status 2)."""


# --------------------------------------------------------------------------- inputs


def default_faces_dir() -> Path:
    env = os.environ.get("FRESHNESS_TEST_FACES")
    return Path(env) if env else REPO.parent / "shared" / "faces"


def _exif(orientation: int | None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[_TAG_ORIENTATION] = orientation
    exif[_TAG_DATETIME] = TAKEN_AT
    sub = exif.get_ifd(_IFD_EXIF)
    sub[_TAG_DATETIME_ORIGINAL] = TAKEN_AT
    sub[_TAG_OFFSET_TIME_ORIGINAL] = TAKEN_AT_OFFSET
    return exif


def build_phone_jpegs(source: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``phone_rotated.jpg`` (Orientation=6) and ``phone_upright.jpg`` (no tag), same pixels.

    The source photo is upscaled with LANCZOS to the full 3024 px height, so the
    face stays as large as it is in the source, and centred on a 4032x3024
    canvas whose sides are a heavily blurred stretch of the same photo (no
    mirrored or repeated faces for the detectors to find).
    """
    src = ImageOps.exif_transpose(Image.open(source)).convert("RGB")
    width, height = PHONE_SIZE
    scale = min(height / src.height, width / src.width)
    fg = src.resize((round(src.width * scale), round(src.height * scale)), Image.Resampling.LANCZOS)
    upright = src.resize(PHONE_SIZE, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(60))
    upright.paste(fg, ((width - fg.width) // 2, (height - fg.height) // 2))
    if PHONE_NOISE_SIGMA:
        noise = np.random.default_rng(0).normal(0.0, PHONE_NOISE_SIGMA, (height, width, 3))
        pixels = np.asarray(upright, dtype=np.float64) + noise
        upright = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), "RGB")

    rotated_path = out_dir / "phone_rotated.jpg"
    upright_path = out_dir / "phone_upright.jpg"
    # Orientation 6 is undone by rotating 90 degrees clockwise, so store the pixels 90 degrees anticlockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    stored.save(rotated_path, "JPEG", quality=PHONE_QUALITY, exif=_exif(PHONE_ORIENTATION))
    upright.save(upright_path, "JPEG", quality=PHONE_QUALITY, exif=_exif(None))

    # Sanity checks: the rotated file is sideways as stored and upright once its tag is applied.
    with Image.open(rotated_path) as im:
        if im.size != (height, width) or im.getexif().get(_TAG_ORIENTATION) != PHONE_ORIENTATION:
            raise BenchmarkError(f"built {rotated_path} wrongly: size {im.size}, EXIF {dict(im.getexif())}")
        shown = ImageOps.exif_transpose(im).reduce(8)
    with Image.open(upright_path) as im:
        reference = im.reduce(8)
    diff = np.abs(np.asarray(shown, dtype=np.int16) - np.asarray(reference, dtype=np.int16)).mean()
    if shown.size != reference.size or diff > 2.0:
        raise BenchmarkError(f"the rotated file does not show the upright pixels (mean difference {diff:.1f})")

    return {
        "source": str(source),
        "source_size": list(src.size),
        "upright_size": list(PHONE_SIZE),
        "stored_size": list(stored.size),
        "orientation": PHONE_ORIENTATION,
        "quality": PHONE_QUALITY,
        "noise_sigma": PHONE_NOISE_SIGMA,
        "upscale": round(scale, 3),
        "rotated_path": rotated_path,
        "upright_path": upright_path,
        "rotated_bytes": rotated_path.stat().st_size,
        "upright_bytes": upright_path.stat().st_size,
    }


# --------------------------------------------------------------------------- the two paths


@dataclass
class NaiveResult:
    faces: int
    box: tuple[int, int, int, int] | None  # top, right, bottom, left of the largest face
    embedding: np.ndarray | None
    seconds: dict[str, float]


def naive_path(path: Path) -> NaiveResult:
    """The naive face_recognition path, every default left as it is; the largest face is used."""
    t0 = time.perf_counter()
    img = face_recognition.load_image_file(path)
    t1 = time.perf_counter()
    locs = face_recognition.face_locations(img)
    t2 = time.perf_counter()
    encodings = face_recognition.face_encodings(img, locs) if locs else []
    t3 = time.perf_counter()
    seconds = {"load": t1 - t0, "detect": t2 - t1, "encode": t3 - t2, "total": t3 - t0}
    if not locs:
        return NaiveResult(0, None, None, seconds)
    largest = max(range(len(locs)), key=lambda i: (locs[i][2] - locs[i][0]) * (locs[i][1] - locs[i][3]))
    return NaiveResult(len(locs), tuple(locs[largest]), np.asarray(encodings[largest]), seconds)


@dataclass
class FreshResult:
    analysis: FaceAnalysis | None
    refused: str | None  # ImageRejected code and message
    orientation: int | None
    taken_at: str | None
    seconds: dict[str, float]


def freshness_path(path: Path) -> FreshResult:
    """freshness's own check-in analysis, timed from the raw bytes (file read included)."""
    t0 = time.perf_counter()
    data = path.read_bytes()
    try:
        decoded = decode_image(data)
    except ImageRejected as exc:
        return FreshResult(None, f"{exc.code}: {exc.message}", None, None, {"total": time.perf_counter() - t0})
    t1 = time.perf_counter()
    try:
        analysis, refused = analyze_image(decoded), None
    except ImageRejected as exc:
        analysis, refused = None, f"{exc.code}: {exc.message}"
    t2 = time.perf_counter()
    taken = decoded.taken_at.isoformat() if decoded.taken_at else None
    seconds = {"decode": t1 - t0, "analyze": t2 - t1, "total": t2 - t0}
    return FreshResult(analysis, refused, decoded.orientation, taken, seconds)


# --------------------------------------------------------------------------- 1 + 2: speed


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_speed(phone: dict[str, Any], repeats: int) -> dict[str, Any]:
    rotated, upright = phone["rotated_path"], phone["upright_path"]
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("naive_upright", lambda: naive_path(upright)),
        ("naive_rotated", lambda: naive_path(rotated)),
        ("freshness", lambda: freshness_path(rotated)),
    ]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _ in cases}
    last: dict[str, Any] = {}
    # Round 0 is the warm-up (model loading, caches). The order rotates each round so
    # that no case always runs first or last; every round runs all three back to back.
    for round_no in range(repeats + 1):
        shift = round_no % len(cases)
        for name, fn in cases[shift:] + cases[:shift]:
            result = fn()
            last[name] = result
            if round_no > 0:
                samples[name].append(result.seconds)

    def medians(name: str) -> dict[str, float]:
        keys = samples[name][0].keys()
        return {k: _median([s[k] for s in samples[name]]) for k in keys}

    med = {name: medians(name) for name in samples}
    totals = {name: [s["total"] for s in samples[name]] for name in samples}
    per_round = [n / f for n, f in zip(totals["naive_upright"], totals["freshness"])]
    ratio = med["naive_upright"]["total"] / med["freshness"]["total"]

    fresh: FreshResult = last["freshness"]
    n_up: NaiveResult = last["naive_upright"]
    n_rot: NaiveResult = last["naive_rotated"]
    fresh_ok = fresh.analysis is not None
    cross = None
    if fresh_ok and n_up.embedding is not None:
        cross = distance(n_up.embedding, fresh.analysis.embedding)
    return {
        "repeats": repeats,
        "median_seconds": med,
        "all_totals": totals,
        "ratio": ratio,
        "per_round_ratio_median": _median(per_round),
        "per_round_ratio_range": [min(per_round), max(per_round)],
        "target_ratio": TARGET_RATIO,
        "naive_upright_faces": n_up.faces,
        "naive_upright_box": n_up.box,
        "naive_rotated_faces": n_rot.faces,
        "naive_rotated_box": n_rot.box,
        "freshness_found_face": fresh_ok,
        "freshness_refused": fresh.refused,
        "freshness_orientation": fresh.orientation,
        "freshness_taken_at": fresh.taken_at,
        "freshness_quality_passed": fresh.analysis.passed if fresh_ok else None,
        "freshness_work_size": list(fresh.analysis.work_size) if fresh_ok else None,
        "naive_upright_vs_freshness_distance": cross,
        "passed": bool(fresh_ok and ratio >= TARGET_RATIO),
    }


# --------------------------------------------------------------------------- 4: the floor

FLOOR_TARGET = 1.5  # analysis from bytes / the encoding alone


def build_heic(phone: dict[str, Any], out_dir: Path) -> Path:
    """The upright 12 MP pixels as a HEIC (quality 90, EXIF date kept), like a phone's."""
    import pillow_heif

    path = out_dir / "phone.heic"
    with Image.open(phone["upright_path"]) as im:
        heif = pillow_heif.from_pillow(im.convert("RGB"))
        heif.save(path, quality=90, exif=_exif(None).tobytes())
    return path


def run_floor(files: dict[str, Path], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, path in files.items():
        data = path.read_bytes()
        decoded = decode_image(data)
        analysis = analyze_image(decoded)
        arr = np.asarray(decoded.image)
        left, top, right, bottom = analysis.box
        location = [(top, right, bottom, left)]  # face_recognition's order

        def whole() -> None:
            analyze_image(decode_image(data))

        def floor() -> None:
            face_recognition.face_encodings(arr, known_face_locations=location, num_jitters=1, model="small")

        same = distance(face_recognition.face_encodings(arr, location, 1, "small")[0], analysis.embedding)
        parts = {"decode": lambda: decode_image(data), "analysis": lambda: analyze_image(decoded)}
        times: dict[str, list[float]] = {"whole": [], "floor": [], "decode": [], "analysis": []}
        for round_no in range(repeats + 1):  # round 0 warms up
            for name, fn in (("whole", whole), ("floor", floor), *parts.items()):
                t0 = time.perf_counter()
                fn()
                if round_no:
                    times[name].append(time.perf_counter() - t0)
        med = {k: _median(v) for k, v in times.items()}
        out[label] = {"bytes": len(data), "work_size": list(decoded.image.size), "median_seconds": med,
                      "ratio": med["whole"] / med["floor"], "embedding_distance": same,
                      "passed": med["whole"] / med["floor"] <= FLOOR_TARGET}
    return out


# --------------------------------------------------------------------------- 3: agreement


def run_agreement(faces: Path) -> dict[str, Any]:
    photos = sorted(p for p in (faces / "people").glob("*/*") if p.is_file())
    if not photos:
        raise BenchmarkError(f"no photos under {faces / 'people'}/*/")
    naive: dict[str, np.ndarray] = {}
    fresh: dict[str, np.ndarray] = {}
    person: dict[str, str] = {}
    problems: list[dict[str, str]] = []
    self_distance: dict[str, float] = {}
    for path in photos:
        rel = path.relative_to(faces / "people").as_posix()
        person[rel] = path.parent.name
        n = naive_path(path)
        f = freshness_path(path)
        if n.embedding is not None:
            naive[rel] = n.embedding
        else:
            problems.append({"photo": rel, "path": "naive", "reason": "no face found"})
        if f.analysis is not None:
            fresh[rel] = f.analysis.embedding
        else:
            problems.append({"photo": rel, "path": "freshness", "reason": f.refused or "refused"})
        if rel in naive and rel in fresh:
            self_distance[rel] = distance(naive[rel], fresh[rel])

    usable = [rel for rel in person if rel in naive and rel in fresh]
    pairs = []
    for a, b in itertools.combinations(usable, 2):
        dn, df = distance(naive[a], naive[b]), distance(fresh[a], fresh[b])
        pairs.append({
            "a": a, "b": b, "same_person": person[a] == person[b],
            "naive": dn, "freshness": df, "diff": df - dn,
            "agree": (dn <= THRESHOLD) == (df <= THRESHOLD),
        })
    same = [p for p in pairs if p["same_person"]]
    diff = [p for p in pairs if not p["same_person"]]
    disagreements = [p for p in pairs if not p["agree"]]
    same_abs = [abs(p["diff"]) for p in same]
    mad = float(np.mean(same_abs)) if same_abs else float("nan")

    def span(rows: list[dict[str, Any]], key: str) -> list[float] | None:
        return [min(r[key] for r in rows), max(r[key] for r in rows)] if rows else None

    def wrong(key: str) -> int:  # decisions that contradict the people/ labels, for context
        return sum((p[key] <= THRESHOLD) != p["same_person"] for p in pairs)

    worst_same = sorted(same, key=lambda p: abs(p["diff"]), reverse=True)[:5]
    return {
        "photos": len(photos),
        "usable_photos": len(usable),
        "problems": problems,
        "pairs": len(pairs),
        "same_person_pairs": len(same),
        "different_person_pairs": len(diff),
        "disagreements": disagreements,
        "same_person_mad": mad,
        "same_person_max_abs_diff": max(same_abs) if same_abs else float("nan"),
        "all_pairs_mad": float(np.mean([abs(p["diff"]) for p in pairs])) if pairs else float("nan"),
        "worst_same_person": worst_same,
        "ranges": {
            "naive": {"same": span(same, "naive"), "different": span(diff, "naive")},
            "freshness": {"same": span(same, "freshness"), "different": span(diff, "freshness")},
        },
        "wrong_vs_labels": {"naive": wrong("naive"), "freshness": wrong("freshness")},
        "same_photo_distance_median": _median(list(self_distance.values())),
        "same_photo_distance_max": max(self_distance.items(), key=lambda kv: kv[1]) if self_distance else None,
        "threshold": THRESHOLD,
        "max_same_person_mad": MAX_SAME_PERSON_MAD,
        "passed": bool(same and not disagreements and mad <= MAX_SAME_PERSON_MAD),
    }


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _box(box: tuple[int, int, int, int] | None) -> str:
    if box is None:
        return "-"
    top, right, bottom, left = box
    return f"{right - left}x{bottom - top} px at ({left},{top})"


def _version(*dists: str) -> str:
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


def print_report(phone: dict[str, Any], speed: dict[str, Any], agree: dict[str, Any],
                 floor: dict[str, Any]) -> None:
    mb = 1024 * 1024
    print("freshness check-in benchmark")
    print(f"  python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"face_recognition {_version('face_recognition')}, dlib {_version('dlib-bin', 'dlib')}, "
          f"Pillow {_version('pillow')}")
    print()
    print("12 MP phone-style JPEG (built in a temp dir)")
    print(f"  source  {phone['source']} {phone['source_size'][0]}x{phone['source_size'][1]}, "
          f"upscaled x{phone['upscale']} (LANCZOS), noise sigma {phone['noise_sigma']}, quality {phone['quality']}")
    print(f"  rotated {phone['stored_size'][0]}x{phone['stored_size'][1]} stored, EXIF Orientation="
          f"{phone['orientation']} -> {phone['upright_size'][0]}x{phone['upright_size'][1]} upright, "
          f"{phone['rotated_bytes'] / mb:.2f} MB")
    print(f"  upright {phone['upright_size'][0]}x{phone['upright_size'][1]}, no orientation tag, "
          f"{phone['upright_bytes'] / mb:.2f} MB")
    print()

    s = speed
    med = s["median_seconds"]
    print(f"Speed: median of {s['repeats']} interleaved repeats after 1 warm-up round (seconds)")
    print(f"  {'':34}{'total':>8}  breakdown")
    for name, label, parts in (
        ("naive_upright", "naive path, upright 12 MP copy", ("load", "detect", "encode")),
        ("naive_rotated", "naive path, rotated 12 MP file", ("load", "detect", "encode")),
        ("freshness", "freshness, rotated file from bytes", ("decode", "analyze")),
    ):
        breakdown = "  ".join(f"{p} {med[name][p]:.3f}" for p in parts)
        print(f"  {label:34}{med[name]['total']:8.3f}  {breakdown}")
    share = med["naive_upright"]["detect"] / med["naive_upright"]["total"]
    print(f"  (naive upright: detection is {share:.0%} of its time)")
    print()
    print(f"  naive path on the upright copy:  {s['naive_upright_faces']} face(s), largest {_box(s['naive_upright_box'])}")
    found = "found" if s["naive_rotated_faces"] else "did NOT find"
    print(f"  naive path on the rotated file:  {found} a face "
          f"({s['naive_rotated_faces']} face(s); it ignores EXIF orientation and sees the face sideways)")
    if s["freshness_found_face"]:
        print(f"  freshness on the rotated file:   face found; orientation {s['freshness_orientation']} applied, "
              f"working image {s['freshness_work_size'][0]}x{s['freshness_work_size'][1]}, "
              f"taken_at {s['freshness_taken_at']}, quality gate {'passed' if s['freshness_quality_passed'] else 'failed'}")
    else:
        print(f"  freshness on the rotated file:   REFUSED ({s['freshness_refused']})")
    if s["naive_upright_vs_freshness_distance"] is not None:
        print(f"  embedding distance, naive upright vs freshness rotated: {s['naive_upright_vs_freshness_distance']:.3f}")
    print()
    lo, hi = s["per_round_ratio_range"]
    print(f"  ratio naive_upright_median / freshness_median = {s['ratio']:.1f}x   (target >= {TARGET_RATIO:g}x)  "
          f"{_verdict(s['passed'])}")
    print(f"  (per-round ratios: median {s['per_round_ratio_median']:.1f}x, range {lo:.1f}x..{hi:.1f}x)")
    print()

    a = agree
    print(f"Embedding agreement: photos under people/*/ ({a['photos']} photos, {a['usable_photos']} usable by both paths)")
    if a["problems"]:
        for p in a["problems"]:
            print(f"  NOTE {p['path']} path could not use {p['photo']}: {p['reason']}")
    else:
        print("  every photo gave a face under both paths")
    print(f"  pairs: {a['pairs']} ({a['same_person_pairs']} same-person, {a['different_person_pairs']} different-person)")
    for path in ("naive", "freshness"):
        r = a["ranges"][path]
        same = f"{r['same'][0]:.3f}..{r['same'][1]:.3f}" if r["same"] else "-"
        diff = f"{r['different'][0]:.3f}..{r['different'][1]:.3f}" if r["different"] else "-"
        print(f"  {path:10} same person {same}   different people {diff}   "
              f"decisions contradicting the labels at {THRESHOLD}: {a['wrong_vs_labels'][path]}")
    print(f"  same photo, naive vs freshness embedding: median {a['same_photo_distance_median']:.3f}, "
          f"max {a['same_photo_distance_max'][1]:.3f} ({a['same_photo_distance_max'][0]})")
    print(f"  decision disagreements at {THRESHOLD}: {len(a['disagreements'])}   (target 0)")
    for p in a["disagreements"]:
        kind = "same" if p["same_person"] else "diff"
        print(f"    {kind} {p['a']} ~ {p['b']}: naive {p['naive']:.3f}, freshness {p['freshness']:.3f}")
    print(f"  same-person |distance difference|: mean {a['same_person_mad']:.4f} (target <= {MAX_SAME_PERSON_MAD}), "
          f"max {a['same_person_max_abs_diff']:.4f}   [all pairs: mean {a['all_pairs_mad']:.4f}]")
    print("  largest same-person differences:")
    for p in a["worst_same_person"]:
        print(f"    {p['a']} ~ {p['b']}: naive {p['naive']:.3f}, freshness {p['freshness']:.3f} ({p['diff']:+.3f})")
    print(f"  agreement {_verdict(a['passed'])}")
    print()
    print(f"The floor: the whole analysis from bytes vs the 128-d encoding alone (face_recognition.face_encodings "
          f"with the known face location on the same working image), median of {s['repeats']} interleaved repeats")
    for label, f in floor.items():
        m = f["median_seconds"]
        print(f"  {label:16} {f['bytes'] / mb:5.2f} MB, working image {f['work_size'][0]}x{f['work_size'][1]}: "
              f"analysis {m['whole']:.3f} s (decode {m['decode']:.3f} + face {m['analysis']:.3f}), "
              f"encoding alone {m['floor']:.3f} s -> {f['ratio']:.2f}x (target <= {FLOOR_TARGET:g}x) "
              f"{_verdict(f['passed'])}")
        print(f"  {'':16} same embedding as the floor's: distance {f['embedding_distance']:.2e}")
    print()
    ok = s["passed"] and a["passed"] and all(f["passed"] for f in floor.values())
    print(f"RESULT: speed {_verdict(s['passed'])}, agreement {_verdict(a['passed'])}, "
          f"floor {_verdict(all(f['passed'] for f in floor.values()))} -> {_verdict(ok)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 5)
    if isinstance(value, np.integer):
        return int(value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=None,
                        help="test photos directory (default: $FRESHNESS_TEST_FACES, else ../shared/faces "
                             "from the repository root)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after the warm-up (default 5)")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary")
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help=f"photo (relative to the faces dir) to build the 12 MP JPEG from (default {DEFAULT_SOURCE})")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    faces = (args.faces or default_faces_dir()).expanduser()
    try:
        if not (faces / "people").is_dir():
            raise BenchmarkError(f"test photos not found: {faces} has no people/ directory "
                                 "(use --faces DIR or set FRESHNESS_TEST_FACES)")
        source = faces / args.source
        if not source.is_file():
            raise BenchmarkError(f"source photo not found: {source}")
        with tempfile.TemporaryDirectory(prefix="freshness-bench-") as tmp:
            phone = build_phone_jpegs(source, Path(tmp))
            speed = run_speed(phone, args.repeats)
            floor = run_floor({"12 MP JPEG": phone["rotated_path"], "12 MP HEIC": build_heic(phone, Path(tmp))},
                              args.repeats)
        agree = run_agreement(faces)
    except BenchmarkError as exc:
        print(f"checkin_speed: error: {exc}", file=sys.stderr)
        return 2

    print_report(phone, speed, agree, floor)
    ok = speed["passed"] and agree["passed"] and all(f["passed"] for f in floor.values())
    if args.json:
        summary = {
            "passed": ok,
            "faces_dir": faces,
            "phone_jpeg": {k: v for k, v in phone.items() if not k.endswith("_path")},
            "speed": speed,
            "agreement": agree,
            "floor": floor,
        }
        print()
        print(json.dumps(_jsonable(summary), indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
