"""The CNN face-detector fallback: what it costs, what it finds, and how its boxes compare.

What is measured, and why
-------------------------
``analyze_image`` searches for faces with dlib's HOG detector (a <=640 px copy,
then the working image upsampled once). Only when both find nothing does dlib's
CNN (MMOD) detector search a copy reduced to ``cnn_max_side`` (480 px). The CNN
is slow on a CPU, so it must cost nothing when HOG finds the face, and its cost
when it does run must be known.

This script, in ONE run (machines are shared and noisy: best or median of repeats,
modes interleaved round by round, ratios side by side):

1. Common path — every photo and portrait under people/ and ai/ (HOG finds each
   face): ``analyze_image`` with the fallback off (``cnn_max_side=0``) against on
   (the default), same decoded images, each image's fastest of the repeats.
   Target: the CNN is called 0 times and the time ratio on/off is 1.00 (within
   0.90–1.10, noise).
2. Fallback path — images in which HOG finds nothing: the three no-face files of
   edge/, faces with a mask drawn over mouth and chin (built from real photos in
   memory), and every image of ``--extra DIR`` HOG misses. Per image: HOG alone
   (refused: no face) against HOG + CNN; the difference is what the fallback
   costs. Target: every masked face is found.
3. Size sweep (``--no-sweep`` skips it) — on the common-path images: for CNN copies
   of 320/400/480/640 px, the share of HOG's faces the CNN finds and its median
   time; then, for the chosen size, the embedding from the CNN box (raw, and
   moved by CNN_BOX_SHIFT/SCALE) against the embedding from the HOG box, next to
   the yardstick of HOG's own box found on a 512 px copy instead of 640 px.

Exit status: 0 when the targets pass, 1 when one fails, 2 when the faces
directory is missing.

    python benchmarks/detect_fallback.py [--faces DIR] [--extra DIR] [--repeats N] [--no-sweep] [--json]
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from freshness.errors import ImageRejected  # noqa: E402
from freshness.faces import analyze as A  # noqa: E402
from freshness.faces.decode import decode_image  # noqa: E402
from freshness.faces.limits import QualityLimits  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ON = QualityLimits()
OFF = QualityLimits(cnn_max_side=0)
SWEEP_SIZES = (320, 400, 480, 640)
NO_FACE = ("edge/flower.jpg", "edge/flower2.jpg", "edge/transparent.png")
MASKED = ("ai/rihanna/real/withanyone-ref.jpg", "ai/yann_lecun/real/instantid-yann-lecun_resize.jpg",
          "people/alex_lacamoire/alex-lacamoire.png")
COMMON_RATIO_RANGE = (0.90, 1.10)


def default_faces_dir() -> Path:
    env = os.environ.get("FRESHNESS_TEST_FACES")
    return Path(env) if env else REPO.parent / "shared" / "faces"


def working(path: Path) -> Image.Image:
    return decode_image(path.read_bytes()).image


def masked(image: Image.Image) -> Image.Image:
    """A surgical-mask-like block from just below the nose to below the chin (as tests/test_detection.py)."""
    a = A.analyze_image(image, "selfie")
    left, top, right, bottom = a.box
    w, h = right - left, bottom - top
    out = image.copy()
    ImageDraw.Draw(out).rectangle((left - 0.05 * w, a.landmarks[4][1] + 0.02 * h, right + 0.05 * w, bottom + 0.15 * h),
                                  fill=(170, 200, 225))
    return out


class CountingCNN:
    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __call__(self, image: np.ndarray, upsample: int) -> Any:
        self.calls += 1
        return self.real(image, upsample)


def timed(image: Image.Image, limits: QualityLimits) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        a = A.analyze_image(image, "headshot", limits)
        outcome = f"face ({a.detector})"
    except ImageRejected as exc:
        outcome = exc.code
    return time.perf_counter() - t0, outcome


def hog_boxes(image: Image.Image, limits: QualityLimits = ON) -> list[tuple[int, int, int, int]]:
    return A._detect(np.asarray(image), image, limits)


def iou(a: tuple, b: tuple) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def embedding(image: Image.Image, box: tuple) -> np.ndarray:
    m = A._load_models()
    arr = np.asarray(image)
    shape = m["landmarks"](arr, m["rectangle"](*[int(round(v)) for v in box]))
    return np.asarray(m["encoder"].compute_face_descriptor(arr, shape, 1))


def raw_cnn_boxes(image: Image.Image, side: int) -> tuple[list[tuple], float]:
    cnn = A._load_cnn()
    factor = min(1.0, side / max(image.size))
    small = image if factor >= 1.0 else image.resize(
        (max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.Resampling.BILINEAR)
    t0 = time.perf_counter()
    dets = cnn(np.asarray(small), 0)
    seconds = time.perf_counter() - t0
    return [(d.rect.left() / factor, d.rect.top() / factor, d.rect.right() / factor, d.rect.bottom() / factor)
            for d in dets], seconds


def moved(box: tuple) -> tuple:
    (dx, dy), s = A.CNN_BOX_SHIFT, A.CNN_BOX_SCALE
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2 + dx * w, (box[1] + box[3]) / 2 + dy * h
    return (cx - s * w / 2, cy - s * h / 2, cx + s * w / 2, cy + s * h / 2)


def summary(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"n": int(a.size), "median": float(np.median(a)), "mean": float(a.mean()),
            "p90": float(np.percentile(a, 90)), "max": float(a.max()), "over_0.06": int((a > 0.06).sum())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="a directory of more images (e.g. portraits kept outside the repository)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    faces: Path = args.faces
    if not (faces / "manifest.csv").is_file():
        print(f"faces directory not found: {faces} (set FRESHNESS_TEST_FACES or --faces)", file=sys.stderr)
        return 2

    A._load_models()
    counter = CountingCNN(A._load_cnn())
    A._models["cnn"] = counter
    report: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                              "cnn_max_side": ON.cnn_max_side}
    ok = True

    # 1. common path ------------------------------------------------------------------
    paths = sorted(faces.glob("people/*/*")) + sorted(faces.glob("ai/*/*/*"))
    extra = [p for d in args.extra for p in sorted(d.iterdir()) if p.is_file()]
    images = {str(p.relative_to(faces)): working(p) for p in paths}
    common = {k: im for k, im in images.items() if hog_boxes(im)}
    for name in list(common)[:3]:  # warm-up
        timed(common[name], ON)
    counter.calls = 0
    # each image off and on back to back, the order alternating; per image the fastest of the
    # repeats (the least disturbed by other work on the machine), summed over the images
    per_image: dict[str, list[list[float]]] = {"off": [[] for _ in common], "on": [[] for _ in common]}
    for r in range(args.repeats):
        for i, im in enumerate(common.values()):
            for mode in (("off", "on") if (r + i) % 2 == 0 else ("on", "off")):
                per_image[mode][i].append(timed(im, OFF if mode == "off" else ON)[0])
    off_s, on_s = (sum(min(t) for t in per_image[mode]) for mode in ("off", "on"))
    common_ratio = on_s / off_s
    common_ok = counter.calls == 0 and COMMON_RATIO_RANGE[0] <= common_ratio <= COMMON_RATIO_RANGE[1]
    ok &= common_ok
    report["common"] = {"images": len(common), "seconds_per_image_off": off_s / len(common),
                        "seconds_per_image_on": on_s / len(common), "ratio_on_off": common_ratio,
                        "cnn_calls": counter.calls, "ok": common_ok}

    # 2. fallback path ----------------------------------------------------------------
    fallback: dict[str, Image.Image] = {rel: working(faces / rel) for rel in NO_FACE}
    for rel in MASKED:
        fallback[f"{rel} + mask"] = masked(working(faces / rel))
    for p in extra:
        im = working(p)
        if not hog_boxes(im):
            fallback[str(p)] = im
    rows = []
    for name, im in fallback.items():
        t_off, t_on = [], []
        for r in range(max(1, args.repeats // 2 + 1)):
            for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
                seconds, outcome = timed(im, OFF if mode == "off" else ON)
                (t_off if mode == "off" else t_on).append(seconds)
                if mode == "on":
                    on_outcome = outcome
        off_m, on_m = statistics.median(t_off), statistics.median(t_on)
        rows.append({"image": name, "size": list(im.size), "hog_only_s": off_m, "with_cnn_s": on_m,
                     "cnn_cost_s": on_m - off_m, "ratio": on_m / off_m, "outcome": on_outcome})
    masked_found = all(r["outcome"] == "face (cnn)" for r in rows if r["image"].endswith("+ mask"))
    ok &= masked_found
    costs = [r["cnn_cost_s"] for r in rows]
    report["fallback"] = {"images": rows, "median_cnn_cost_s": statistics.median(costs),
                          "common_path_s_per_image": off_s / len(common), "masked_found": masked_found}

    # 3. size sweep and box agreement ----------------------------------------------------
    if not args.no_sweep:
        sweep_images = dict(common)
        for p in extra:
            im = working(p)
            if len(hog_boxes(im)) == 1:
                sweep_images[str(p)] = im
        sweep: dict[int, dict[str, Any]] = {}
        agreement: dict[str, list[float]] = {"cnn_raw": [], "cnn_moved": [], "hog_512": []}
        single = {k: im for k, im in sweep_images.items() if len(hog_boxes(im)) == 1}
        for side in SWEEP_SIZES:
            found, seconds = 0, []
            for name, im in single.items():
                hog = hog_boxes(im)[0]
                boxes, t = raw_cnn_boxes(im, side)
                seconds.append(t)
                match = [b for b in boxes if iou(b, hog) > 0.3]
                found += bool(match)
                if side == ON.cnn_max_side and match:
                    e_hog = embedding(im, hog)
                    agreement["cnn_raw"].append(float(np.linalg.norm(embedding(im, match[0]) - e_hog)))
                    agreement["cnn_moved"].append(float(np.linalg.norm(embedding(im, moved(match[0])) - e_hog)))
                    other = [b for b in hog_boxes(im, QualityLimits(detect_max_side=512)) if iou(b, hog) > 0.3]
                    if other:
                        agreement["hog_512"].append(float(np.linalg.norm(embedding(im, other[0]) - e_hog)))
            sweep[side] = {"found": found, "of": len(single), "median_s": statistics.median(seconds)}
        report["sweep"] = sweep
        report["agreement"] = {k: summary(v) for k, v in agreement.items() if v}

    report["ok"] = bool(ok)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0 if ok else 1

    c = report["common"]
    print(f"1. common path: {c['images']} images where HOG finds the face, fastest of {args.repeats} runs each")
    off_ms, on_ms = c["seconds_per_image_off"] * 1000, c["seconds_per_image_on"] * 1000
    print(f"   fallback off {off_ms:7.1f} ms/image   on {on_ms:7.1f} ms/image   on/off {c['ratio_on_off']:.3f}"
          f"   CNN calls {c['cnn_calls']}   {'OK' if c['ok'] else 'FAIL'}"
          f" (target: 0 calls, ratio {COMMON_RATIO_RANGE[0]}-{COMMON_RATIO_RANGE[1]})")
    print(f"2. fallback path: images in which HOG finds no face (CNN on a <= {ON.cnn_max_side} px copy)")
    print(f"   {'image':58s} {'size':>10s} {'HOG only':>9s} {'+ CNN':>8s} {'CNN cost':>9s} {'ratio':>6s}  outcome")
    for r in rows:
        size = "x".join(map(str, r["size"]))
        print(f"   {r['image'][-58:]:58s} {size:>10s} {r['hog_only_s']:8.3f}s {r['with_cnn_s']:7.3f}s"
              f" {r['cnn_cost_s']:8.3f}s {r['ratio']:5.1f}x  {r['outcome']}")
    f = report["fallback"]
    print(f"   median CNN cost {f['median_cnn_cost_s']:.3f} s per image"
          f" = {f['median_cnn_cost_s'] / f['common_path_s_per_image']:.1f}x a common-path analysis"
          f"   masked faces found: {'OK' if masked_found else 'FAIL'}")
    if "sweep" in report:
        print("3. CNN copy size: share of HOG's single faces the CNN finds, and its median time")
        base = report["sweep"][ON.cnn_max_side]["median_s"]
        for side, s in report["sweep"].items():
            cost = s["median_s"] / base
            chosen = "  <- cnn_max_side" if side == ON.cnn_max_side else ""
            print(f"   {side:4d} px  finds {s['found']:3d}/{s['of']}  {s['median_s']:.3f} s"
                  f"  ({cost:.2f}x the {ON.cnn_max_side} px cost){chosen}")
        print(f"   embedding from the CNN box vs from the HOG box (CNN at {ON.cnn_max_side} px):")
        labels = {"cnn_raw": "CNN box as found", "cnn_moved": "CNN box moved (CNN_BOX_SHIFT/SCALE)",
                  "hog_512": "yardstick: HOG box found at 512 px"}
        for key, s in report["agreement"].items():
            print(f"   {labels[key]:38s} n={s['n']:3d} median {s['median']:.3f} mean {s['mean']:.3f}"
                  f" p90 {s['p90']:.3f} max {s['max']:.3f}  >0.06: {s['over_0.06']}")
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
