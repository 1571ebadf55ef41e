"""How fast the CLI answers: whole processes, median of several runs, beside `python -c pass`.

Targets (issue 12, item 7):
* `freshness --help`, `person list` and `status` finish within 0.5 s of the
  interpreter's own start (`python -c pass`);
* a one-selfie `checkin` process takes at most 2x its own face analysis (decoding
  the photo and analysing it, models loaded, measured in a fresh process too).

Times are CPU seconds (user + system) of the child processes, which a busy
machine disturbs less than wall-clock time; wall-clock medians are printed too.

Usage: python benchmarks/cli_start.py [--runs N] [--faces DIR]
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BUDGET_S = 0.5
CHECKIN_RATIO = 2.0


def measure(argv: list[str], env: dict[str, str], runs: int, prepare=None) -> tuple[float, float]:
    """Median (cpu seconds, wall seconds) of ``runs`` runs of ``argv``."""
    cpu, wall = [], []
    for i in range(runs):
        args = prepare(i) if prepare else argv
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(cpu), statistics.median(wall)


ANALYSIS = """
import resource, sys, time
from pathlib import Path
t0 = resource.getrusage(resource.RUSAGE_SELF)
w0 = time.perf_counter()
from freshness.context import get_context
from freshness.faces import analyze_image, decode_image
ctx = get_context()
data = Path(sys.argv[1]).read_bytes()
analyze_image(decode_image(data, ctx.decode_limits), "selfie", ctx.quality_limits)
t1 = resource.getrusage(resource.RUSAGE_SELF)
print((t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime), time.perf_counter() - w0)
"""


def variants(src: Path, out: Path, n: int) -> list[Path]:
    """Different bytes, same face (a 1-pixel-different crop each), so no check-in is a duplicate."""
    from PIL import Image

    img = Image.open(src).convert("RGB")
    paths = []
    for i in range(n):
        w, h = img.size
        p = out / f"selfie-{i}.jpg"
        img.crop((i % 7, i // 7, w - 1, h - 1)).save(p, "JPEG", quality=90)
        paths.append(p)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--faces", type=Path, default=Path(os.environ.get("FRESHNESS_TEST_FACES") or REPO.parent / "shared" / "faces"))
    args = parser.parse_args()
    obama = args.faces / "people" / "barack_obama"
    if not (obama / "obama.jpg").is_file():
        raise SystemExit(f"test photos not found in {args.faces} (set FRESHNESS_TEST_FACES)")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHNESS_")}
        env["FRESHNESS_HOME"] = str(home)
        cli = [PYTHON, "-m", "freshness"]

        def run(*a: str) -> None:
            subprocess.run([*cli, *a], env=env, check=True, capture_output=True)

        run("init")
        run("person", "add", "Barack Obama", "--consent")
        run("headshot", "add", "Barack Obama", str(obama / "obama.jpg"), "--platform", "linkedin",
            "--published", "2024-01-01")
        for i, name in enumerate(["obama2.jpg", "obama3.jpg", "obama1.jpg", "obama-1080p.jpg"]):
            run("checkin", "Barack Obama", str(obama / name), "--taken", f"2024-0{i + 2}-01")
        selfies = variants(obama / "obama-720p.jpg", Path(tmp), args.runs)

        rows = []
        base_cpu, base_wall = measure([PYTHON, "-c", "pass"], env, args.runs)
        rows.append(("python -c pass", base_cpu, base_wall, None))
        # the floor any database command pays with the chosen stack: Typer (with the pydantic
        # it converts options with) and SQLModel (SQLAlchemy + pydantic) imported, nothing run
        floor_cpu, floor_wall = measure([PYTHON, "-c", "import typer, typer._adapters, sqlmodel"], env, args.runs)
        rows.append(("import floor: typer + sqlmodel", floor_cpu, floor_wall,
                     f"+{floor_cpu - base_cpu:.3f} s over python"))
        ok = True
        for label, argv in (
            ("freshness --help", [*cli, "--help"]),
            ("freshness person list", [*cli, "person", "list"]),
            ("freshness status PERSON", [*cli, "status", "Barack Obama", "--as-of", "2024-06-01"]),
        ):
            cpu, wall = measure(argv, env, args.runs)
            extra = cpu - base_cpu
            good = extra <= BUDGET_S
            ok &= good
            over_floor = f", +{cpu - floor_cpu:.3f} s over the floor" if "--help" not in label else ""
            rows.append((label, cpu, wall, f"+{extra:.3f} s over python (target <= +{BUDGET_S} s) "
                                           f"{'ok' if good else 'MISSED'}{over_floor}"))

        analysis = []
        for i in range(args.runs):
            out = subprocess.run([PYTHON, "-c", ANALYSIS, str(selfies[i])], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            analysis.append((float(out[0]), float(out[1])))
        a_cpu = statistics.median(a for a, _ in analysis)
        a_wall = statistics.median(w for _, w in analysis)
        rows.append(("face analysis alone (in a fresh process)", a_cpu, a_wall, None))
        cpu, wall = measure([], env, args.runs, prepare=lambda i: [
            *cli, "checkin", "Barack Obama", str(selfies[i]), "--taken", f"2024-05-{i + 1:02d}T10:00"])
        ratio = cpu / a_cpu
        good = ratio <= CHECKIN_RATIO
        ok &= good
        rows.append(("freshness checkin PERSON IMAGE", cpu, wall,
                     f"{ratio:.2f}x the analysis (target <= {CHECKIN_RATIO:g}x) {'ok' if good else 'MISSED'}"))

    buf = io.StringIO()
    buf.write(f"{'process (median of ' + str(args.runs) + ' runs)':44} {'cpu s':>7} {'wall s':>7}  result\n")
    for label, cpu, wall, note in rows:
        buf.write(f"{label:44} {cpu:7.3f} {wall:7.3f}  {note or ''}\n")
    print(buf.getvalue(), end="")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
