"""Check-ins killed with SIGKILL: how many tries left a consistent database, and what was left over.

Runs N real ``python -m freshness checkin`` processes in a fresh data directory, each killed with
SIGKILL at a seeded moment (tests/kills.py: after a delay spread over one measured check-in, or
exactly between writing its files and committing its row), checks the database after each
(``PRAGMA integrity_check``, no row naming a missing file), then collects the leftovers the way
an operator would: the maintenance job (once the files are past its one-day grace: their times
are moved back two days) and ``freshness doctor --fix``.

    python benchmarks/kills.py [--tries 30] [--seed 8] [--faces DIR] [--keep]

Prints each try, then: run, killed, survived (database consistent), orphans left by the kills,
orphans collected (by maintenance, by doctor --fix) and left. Exit 1 if any try left the database
inconsistent or a file no row refers to remains.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import kills  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--faces", type=Path,
                        default=Path(os.environ.get("FRESHNESS_TEST_FACES") or REPO.parent / "shared" / "faces"))
    parser.add_argument("--keep", action="store_true", help="keep the data directory (its path is printed)")
    args = parser.parse_args()
    if not (args.faces / kills.PHOTO).is_file():
        raise SystemExit(f"test photos not found in {args.faces} (set FRESHNESS_TEST_FACES)")
    tmp = tempfile.TemporaryDirectory(prefix="freshness-kills-")
    root = Path(tmp.name)
    home, work = root / "home", root / "selfies"
    work.mkdir()
    outcome = kills.kill_tries(home, args.faces, work, tries=args.tries, seed=args.seed, log=print)
    orphans, temps = kills.stored(home) - kills.referenced(home), kills.temporary(home)
    reported = kills.findings(kills.doctor(home))
    doctor_saw = len(reported["unreferenced files"]["items"]) + len(reported["temporary files"]["items"])
    kills.age([kills.blob_path(home, d) for d in orphans] + sorted(temps))
    before = kills.stored(home)
    print(kills.cli(home, "run", "maintenance").stdout.strip())
    by_maintenance = len(before - kills.stored(home))
    before = kills.stored(home)
    fixed = kills.doctor(home, "--fix")
    by_doctor = len(before - kills.stored(home))
    left = kills.stored(home) - kills.referenced(home)
    print()
    print(f"one check-in: {outcome.duration:.2f} s; seed {args.seed}")
    print(f"tries run:          {outcome.run}")
    print(f"killed:             {outcome.killed} ({sum(t.mode == 'write' for t in outcome.tries)} between file and row)")
    print(f"survived:           {outcome.survived} (integrity ok, no row naming a missing file)")
    print(f"orphans left:       {len(orphans)} file(s) no row refers to, {len(temps)} temporary; "
          f"doctor reported {doctor_saw}")
    print(f"orphans collected:  {by_maintenance} by maintenance, {by_doctor} by doctor --fix; "
          f"{len(left)} remain; doctor healthy: {fixed['healthy']}")
    if args.keep:
        print(f"data directory kept: {home}")
        tmp._finalizer.detach()  # type: ignore[attr-defined]
    else:
        tmp.cleanup()
    return 0 if outcome.survived == outcome.run and not left and fixed["healthy"] else 1


if __name__ == "__main__":
    sys.exit(main())
