"""Identity guard on the test photos: false refusals (same person) and catches (someone else).

What is measured
----------------
Every photo under people/*/ and ai/*/real/ of the faces directory goes through
the product's check-in analysis (decode, quality gate for selfies, embedding);
photos the quality gate refuses are left out (they could never be check-ins).
Then, with the product's own reference choice and decision
(``freshness.identity.nearest`` / ``check``):

1. False refusals: for every person with >= 2 photos, the photos are checked in
   in EVERY order (all permutations), one a day; a refused photo is not stored,
   as in the product. Each check-in with enough earlier selfies is a comparison;
   the target is 0 refusals.
2. Catches: for every person, every possible set of their own earlier selfies
   the guard could compare with (every subset of their photos with
   min-references..5 members), and every photo of every other person checked in
   next: it must be refused (the target is all of them).
3. The deciding distances: the largest same-person median and the smallest
   different-person median, per number of references compared with.

    python benchmarks/identity_guard.py [--faces DIR] [--radius R] [--min-references N] [--json]

Exit status: 0 when there is no false refusal and every other person is caught,
1 otherwise, 2 when the faces directory is missing.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from freshness.errors import ImageRejected  # noqa: E402
from freshness.faces.analyze import analyze_image  # noqa: E402
from freshness.faces.decode import DecodeLimits, decode_image  # noqa: E402
from freshness.faces.limits import QualityLimits  # noqa: E402
from freshness.identity import DEFAULT_MIN_REFERENCES, DEFAULT_RADIUS, REFERENCES, Reference, check, nearest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DAY0 = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)


def default_faces_dir() -> Path:
    return Path(os.environ.get("FRESHNESS_TEST_FACES") or REPO.parent / "shared" / "faces")


def embed(faces: Path) -> tuple[dict[str, list[tuple[str, np.ndarray]]], list[str]]:
    """person -> [(file, embedding)] for the photos a check-in would accept; and the files left out."""
    people: dict[str, list[tuple[str, np.ndarray]]] = {}
    left_out: list[str] = []
    files = sorted(faces.glob("people/*/*")) + sorted(faces.glob("ai/*/real/*"))
    for path in files:
        rel = path.relative_to(faces)
        person = rel.parts[1]
        try:
            analysis = analyze_image(decode_image(path.read_bytes(), DecodeLimits()), "selfie", QualityLimits())
            analysis.enforce()
        except ImageRejected as exc:
            left_out.append(f"{rel} ({exc.code})")
            continue
        people.setdefault(person, []).append((str(rel), analysis.embedding))
    return people, left_out


def _span() -> dict[int, list[float]]:
    return {n: [] for n in range(1, REFERENCES + 1)}


def replay(people: dict[str, list[tuple[str, np.ndarray]]], radius: float, min_refs: int) -> dict[str, Any]:
    """Every person's photos in every order: how many comparisons refuse (false refusals)."""
    orders = comparisons = refusals = 0
    medians = _span()
    worst: dict[str, Any] | None = None
    refused: list[dict[str, Any]] = []
    for person, photos in people.items():
        if len(photos) < 2:
            continue
        for order in itertools.permutations(range(len(photos))):
            orders += 1
            stored: list[Reference] = []
            for day, i in enumerate(order):
                taken = DAY0 + timedelta(days=day)
                name, emb = photos[i]
                result = check(emb, nearest(stored, taken), taken_at=taken, radius=radius, min_references=min_refs)
                if result.checked:
                    comparisons += 1
                    medians[len(result.compared_with)].append(result.distance)
                    if worst is None or result.distance > worst["distance"]:
                        worst = {"person": person, "file": name, "distance": result.distance,
                                 "references": [photos[r.checkin_id][0] for r in nearest(stored, taken)]}
                    if result.outside:
                        refusals += 1
                        if len(refused) < 20:
                            refused.append({"person": person, "file": name, "distance": result.distance})
                        continue  # refused: nothing stored
                stored.append(Reference(checkin_id=i, taken_at=taken, embedding=emb))
    return {"orders": orders, "comparisons": comparisons, "refusals": refusals, "refused": refused,
            "max_median": {n: max(v) for n, v in medians.items() if v}, "worst": worst}


def catch(people: dict[str, list[tuple[str, np.ndarray]]], radius: float, min_refs: int) -> dict[str, Any]:
    """Someone else's photo after every possible set of a person's own earlier selfies."""
    tries = caught = 0
    medians = _span()
    closest: dict[str, Any] | None = None
    taken = DAY0 + timedelta(days=100)
    for person, photos in people.items():
        others = [(p, name, emb) for p, items in people.items() if p != person for name, emb in items]
        for n in range(min_refs, min(REFERENCES, len(photos)) + 1):
            for subset in itertools.combinations(range(len(photos)), n):
                refs = [Reference(checkin_id=i, taken_at=DAY0 + timedelta(days=k), embedding=photos[i][1])
                        for k, i in enumerate(subset)]
                for other, name, emb in others:
                    result = check(emb, refs, taken_at=taken, radius=radius, min_references=min_refs)
                    tries += 1
                    caught += result.outside
                    medians[n].append(result.distance)
                    if closest is None or result.distance < closest["distance"]:
                        closest = {"person": person, "references": [photos[i][0] for i in subset],
                                   "other": name, "distance": result.distance}
    return {"tries": tries, "caught": caught, "min_median": {n: min(v) for n, v in medians.items() if v},
            "closest": closest}


def measure(faces: Path, radius: float = DEFAULT_RADIUS, min_refs: int = DEFAULT_MIN_REFERENCES) -> dict[str, Any]:
    people, left_out = embed(faces)
    pairs_same = [float(np.linalg.norm(a[1] - b[1])) for v in people.values() for a, b in itertools.combinations(v, 2)]
    flat = [(p, e) for p, v in people.items() for _, e in v]
    pairs_diff = [float(np.linalg.norm(a[1] - b[1])) for a, b in itertools.combinations(flat, 2) if a[0] != b[0]]
    return {
        "radius": radius,
        "min_references": min_refs,
        "photos": sum(len(v) for v in people.values()),
        "people": len(people),
        "people_with_2_or_more": sum(1 for v in people.values() if len(v) >= 2),
        "left_out": left_out,
        "pairs": {"same": [min(pairs_same), max(pairs_same)], "different": [min(pairs_diff), max(pairs_diff)]},
        "same_person": replay(people, radius, min_refs),
        "other_person": catch(people, radius, min_refs),
    }


def print_report(m: dict[str, Any]) -> None:
    s, o = m["same_person"], m["other_person"]
    print(f"identity guard: radius {m['radius']}, min references {m['min_references']}, "
          f"compared with up to {REFERENCES} (median)")
    print(f"photos: {m['photos']} of {m['people']} people ({m['people_with_2_or_more']} with 2 or more); "
          f"left out by the quality gate: {', '.join(m['left_out']) or 'none'}")
    print(f"single pairs: same person {m['pairs']['same'][0]:.3f}-{m['pairs']['same'][1]:.3f}, "
          f"different people {m['pairs']['different'][0]:.3f}-{m['pairs']['different'][1]:.3f}")
    print(f"same person, every order: {s['orders']} orders, {s['comparisons']} comparisons, "
          f"{s['refusals']} refused (false-refusal rate {s['refusals'] / max(s['comparisons'], 1):.1%})")
    print(f"other person after own selfies: {o['tries']} tries, {o['caught']} refused "
          f"(catch rate {o['caught'] / max(o['tries'], 1):.1%})")
    print("references compared with | same-person max median | different-person min median")
    for n in range(1, REFERENCES + 1):
        a, b = s["max_median"].get(n), o["min_median"].get(n)
        print(f"  {n} | {'-' if a is None else f'{a:.3f}'} | {'-' if b is None else f'{b:.3f}'}")
    if s["worst"]:
        w = s["worst"]
        print(f"largest same-person median: {w['distance']:.3f} ({w['file']} vs {', '.join(w['references'])})")
    if o["closest"]:
        c = o["closest"]
        print(f"smallest different-person median: {c['distance']:.3f} ({c['other']} vs {', '.join(c['references'])})")
    for r in s["refused"]:
        print(f"  FALSE REFUSAL: {r['file']} at {r['distance']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=None, help="faces directory (default ../shared/faces)")
    parser.add_argument("--radius", type=float, default=DEFAULT_RADIUS)
    parser.add_argument("--min-references", type=int, default=DEFAULT_MIN_REFERENCES)
    parser.add_argument("--json", action="store_true", help="print JSON instead of the report")
    args = parser.parse_args(argv)
    faces = args.faces or default_faces_dir()
    if not (faces / "people").is_dir():
        print(f"identity_guard: error: no faces directory at {faces} (set FRESHNESS_TEST_FACES)", file=sys.stderr)
        return 2
    m = measure(faces, args.radius, args.min_references)
    if args.json:
        print(json.dumps(m, indent=2))
    else:
        print_report(m)
    ok = m["same_person"]["refusals"] == 0 and m["other_person"]["caught"] == m["other_person"]["tries"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
