"""Check-ins killed with SIGKILL at seeded moments (tests/kills.py): the database stays consistent
after every kill, and what the kills leave is reported by ``freshness doctor`` and removed by the
maintenance job (after its one-day grace) and ``freshness doctor --fix``.

Run with ``-s`` to see each try and the counts (benchmarks/kills.py prints the same for any N)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import kills

pytestmark = pytest.mark.faces

TRIES = 30
SEED = 8


def test_check_ins_killed_at_seeded_moments_leave_a_consistent_database_and_collectable_leftovers(
        home: Path, faces: Path, tmp_path: Path) -> None:
    work = tmp_path / "selfies"
    work.mkdir()
    outcome = kills.kill_tries(home, faces, work, tries=TRIES, seed=SEED, log=print)
    writes = [t for t in outcome.tries if t.mode == "write"]
    print(f"kill tries: {outcome.run} run, {outcome.killed} killed ({len(writes)} between file and row), "
          f"{outcome.run - outcome.killed} finished first, {outcome.survived} survived (database consistent)")
    assert outcome.run == TRIES
    assert [t.n + 1 for t in outcome.tries if not t.survived] == []  # every kill left a consistent database
    assert outcome.killed >= len(writes) + 5  # the delays cut check-ins short too
    assert all(t.killed and not t.committed and t.new_files >= 1 for t in writes)  # a file without its row

    # what the kills left: files no row refers to, perhaps a .tmp file; doctor names exactly those
    orphans, temps = kills.stored(home) - kills.referenced(home), kills.temporary(home)
    assert len(orphans) >= len(writes)
    report = kills.doctor(home)
    found = kills.findings(report)
    assert report["healthy"] is False
    assert found["integrity"]["ok"] is True and found["foreign keys"]["ok"] is True
    assert sorted(found["unreferenced files"]["items"]) == sorted(orphans)
    assert sorted(found["temporary files"]["items"]) == sorted(temps)
    assert not found["missing files"]["items"]

    # the maintenance job leaves files younger than a day (a check-in may be about to commit them) ...
    everything = kills.stored(home)
    print(kills.cli(home, "run", "maintenance").stdout.strip())
    assert kills.stored(home) == everything and kills.temporary(home) == temps
    # ... and removes those older: half the orphans and the temporary files, aged by two days
    aged = sorted(orphans)[::2]
    kills.age([kills.blob_path(home, d) for d in aged] + sorted(temps))
    print(kills.cli(home, "run", "maintenance").stdout.strip())
    assert kills.stored(home) == everything - set(aged)
    assert kills.temporary(home) == set()
    # doctor --fix removes the rest, whatever their age
    left = orphans - set(aged)
    fixed = kills.doctor(home, "--fix")
    assert fixed["healthy"] is True, fixed
    assert sorted(kills.findings(fixed)["unreferenced files"]["items"]) == sorted(left)
    assert kills.stored(home) == kills.referenced(home)
    assert kills.consistent(home)
    assert kills.doctor(home)["healthy"] is True
    print(f"orphans: {len(orphans)} left by the kills, {len(aged)} collected by maintenance, "
          f"{len(left)} by doctor --fix, {len(kills.stored(home) - kills.referenced(home))} left; "
          f"temporary files: {len(temps)}")
