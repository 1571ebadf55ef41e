"""How freshness scales with the number of people: everything measured in one run, printed as
ratios (the targets) beside this machine's absolute numbers (labelled as such).

For each size (default 1k, 10k and 100k people) a database is built with synthetic people
(tests/synthetic.py: 1-2 headshots and 12-24 check-ins each, realistic distances, about one in
ten drifting), plus one person with ten years of weekly check-ins. Then, each in a fresh
process so that its peak memory is its own:

* sweep: the first evaluation of everyone (records every reminder), then a no-change sweep
  as of the same time (what the hourly job costs on an ordinary hour);
* floor: one bulk read of the same rows the sweep reads plus the pure rules for everyone, no
  writes: what no implementation can go below;
* lookups: `person add` and a `person list` page, the ten-year person's history and status
  (median and 95th percentile of 20), and the prompt job with the same 100 due people.

Targets (issue 9): no-change sweep per person at the largest size <= 1.2x that at the
smallest; its peak memory <= 1.5x; whole no-change sweep <= 3x the floor; lookups and the
prompt job within 1.5x of the smallest size.

Usage: python benchmarks/scale.py [--sizes 1000,10000,100000] [--postgres URL] [--skip-sweep]
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHASES = ("build", "sweep", "floor", "lookups")
#: The lookups compared between the smallest and the largest size: (label, key, 0 median | 1 p95).
LOOKUPS = (
    ("person add (median)", "person_add", 0),
    ("person list page (median)", "person_list", 0),
    ("10-year history (median)", "history", 0),
    ("10-year history (p95)", "history", 1),
    ("10-year status (median)", "status", 0),
    ("10-year status (p95)", "status", 1),
    ("prompt job, 100 due people (median of 7)", "prompts", 0),
)


def _settings(home: str, url: str | None):
    from freshness.config import Settings

    return Settings(home=Path(home), database_url=url) if url else Settings(home=Path(home))


def phase_build(home: str, url: str | None, size: int) -> dict:
    from datetime import timedelta

    from sqlalchemy import text
    from sqlmodel import Session

    from freshness import migrate
    from freshness.db import get_engine
    from freshness.models import Checkin, Measurement
    from tests.synthetic import clock_now, populate

    settings = _settings(home, url)
    if url:
        with get_engine(settings).begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(settings)
    now = clock_now()
    started = time.perf_counter()
    with Session(get_engine(settings)) as session:
        populate(session, size, now=now, seed=1)
        # the ten-year person: weekly check-ins against one headshot
        from freshness.people import add_person
        from tests import dbseed

        person, _ = add_person(session, "Ten Years", consent=True, now=now - timedelta(days=3700))
        head = dbseed.headshot(session, person, (now - timedelta(days=3660)).date(), disclosed=True)
        for week in range(520):
            taken = now - timedelta(days=7 * (520 - week))
            c = Checkin(person_id=person.id, taken_at=taken, taken_at_source="given", received_at=taken,
                        image_digest=f"t{week:063x}", thumb_digest="0" * 64, embedding=bytes(512), quality={})
            session.add(c)
            session.flush()
            session.add(Measurement(checkin_id=c.id, headshot_id=head.id, distance=0.35 + (week % 7) * 0.01))
        person_id = person.id
        session.commit()
        if url is None:
            session.execute(text("ANALYZE"))
    return {"seconds": time.perf_counter() - started, "person_id": person_id}


def phase_sweep(home: str, url: str | None, size: int) -> dict:
    from freshness.sweep import sweep
    from tests.synthetic import clock_now

    settings = _settings(home, url)
    now = clock_now()
    first = sweep(settings, now)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    again = sweep(settings, now)
    return {"first_seconds": first.seconds, "first_changes": first.transitions, "people": again.people,
            "seconds": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0, "changes": again.transitions,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def phase_floor(home: str, url: str | None, size: int) -> dict:
    from collections import defaultdict

    from sqlmodel import Session, select

    from freshness import rules
    from freshness.db import get_engine
    from freshness.likeness import Sample
    from freshness.models import Checkin, Headshot, Measurement, Person, Reminder
    from freshness.reminders import PersonData
    from tests.synthetic import clock_now

    settings = _settings(home, url)
    now = clock_now()
    wall0 = time.perf_counter()
    with Session(get_engine(settings)) as session:  # one bulk read of the same rows
        people = session.exec(select(Person)).all()
        checkins: dict = defaultdict(list)
        taken = {}
        for row in session.exec(select(Checkin.id, Checkin.person_id, Checkin.taken_at)).all():
            checkins[row.person_id].append(row)
            taken[row.id] = row.taken_at
        heads: dict = defaultdict(list)
        for row in session.exec(select(Headshot.id, Headshot.person_id, Headshot.platform, Headshot.published_on,
                                       Headshot.ai_generated, Headshot.disclosed, Headshot.retired_at, Headshot.provenance)).all():
            heads[row.person_id].append(row)
        samples: dict = defaultdict(lambda: defaultdict(list))
        for cid, hid, d, pid in session.exec(select(Measurement.checkin_id, Measurement.headshot_id,
                                                    Measurement.distance, Checkin.person_id)
                                             .join(Checkin, Measurement.checkin_id == Checkin.id)).all():
            samples[pid][hid].append(Sample(taken[cid], d, cid))
        list(session.exec(select(Reminder).where(Reminder.state != "resolved")).all())
    read = time.perf_counter() - wall0
    base = rules.Policy()
    for p in people:  # and the rules for everyone
        policy = base.with_overrides(p.policy_overrides) if p.policy_overrides else base
        pf, hf = PersonData(p, checkins[p.id], heads[p.id], samples[p.id]).facts(now)
        rules.evaluate(pf, hf, policy, now)
    return {"seconds": time.perf_counter() - wall0, "read_seconds": read,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _timed(fn, runs: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def phase_lookups(home: str, url: str | None, size: int, person_id: int) -> dict:
    from datetime import timedelta

    from sqlalchemy import update
    from sqlmodel import Session

    from freshness import prompts
    from freshness.db import get_engine
    from freshness.models import Person
    from freshness.people import add_person, list_people
    from freshness.reports import history, status
    from tests.synthetic import clock_now

    settings = _settings(home, url)
    now = clock_now()
    out = {}
    with Session(get_engine(settings), expire_on_commit=False) as session:
        _checkpoint(session)
        counter = iter(range(10**6))
        out["person_add"] = _timed(lambda: add_person(session, f"New {next(counter)}", consent=True, now=now))
        out["person_list"] = _timed(lambda: list_people(session, limit=50, after=size // 2))
        person = session.get(Person, person_id)
        out["history"] = _timed(lambda: history(session, person))
        out["status"] = _timed(lambda: status(session, person, now))
        # the prompt job with the same 100 due people, everyone else scheduled later; seven runs
        # (the median), each after the write-ahead log of the set-up was checkpointed, so that
        # the job is not charged with copying the set-up's 100k changed rows into the database
        session.execute(update(Person).values(next_prompt_at=now + timedelta(days=30)))
        session.commit()
        runs = []
        for _ in range(7):
            session.execute(update(Person).where(Person.id <= 100).values(next_prompt_at=now - timedelta(hours=1)))
            session.commit()
            _checkpoint(session)
            t0 = time.perf_counter()
            sent = prompts.send_due_prompts(session, settings, now).sent
            runs.append(time.perf_counter() - t0)
        out["prompts"] = (statistics.median(runs), sent)
    return out


def _checkpoint(session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        session.commit()


def _child(phase: str, home: str, url: str | None, size: int, extra: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--phase", phase, "--home", home, "--size", str(size),
                           *(["--postgres", url] if url else []), *extra],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        raise SystemExit(f"{phase} at {size} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (its public schema is dropped!)")
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--home")
    parser.add_argument("--size", type=int)
    parser.add_argument("--person", type=int)
    parser.add_argument("--skip-sweep", action="store_true",
                        help="build and measure the lookups only (the sweep and floor ratios are not printed)")
    args = parser.parse_args()
    if args.phase:  # a child process: one phase, its result as JSON on the last line
        fn = {"build": phase_build, "sweep": phase_sweep, "floor": phase_floor}.get(args.phase)
        result = fn(args.home, args.postgres, args.size) if fn else \
            phase_lookups(args.home, args.postgres, args.size, args.person)
        print(json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as home:
            built = _child("build", home, args.postgres, size, [])
            swept = None if args.skip_sweep else _child("sweep", home, args.postgres, size, [])
            floor = None if args.skip_sweep else _child("floor", home, args.postgres, size, [])
            looked = _child("lookups", home, args.postgres, size, ["--person", str(built["person_id"])])
        rows[size] = {"built": built, "sweep": swept, "floor": floor, "lookups": looked}
        line = f"[{size} people] built in {built['seconds']:.0f} s"
        if swept is not None:
            s = swept
            line += (f"; first sweep {s['first_seconds']:.1f} s ({s['first_changes']} changes); no-change sweep "
                     f"{s['seconds']:.2f} s ({1000 * s['cpu'] / s['people']:.2f} ms CPU/person), peak "
                     f"{s['peak_mb']:.0f} MB; floor {floor['seconds']:.2f} s (read {floor['read_seconds']:.2f} s), "
                     f"peak {floor['peak_mb']:.0f} MB")
        print(line, flush=True)

    small, large = rows[sizes[0]], rows[sizes[-1]]
    per = lambda r: r["sweep"]["cpu"] / r["sweep"]["people"]  # noqa: E731
    checks = [] if args.skip_sweep else [
        ("no-change sweep per person, largest / smallest", per(large) / per(small), 1.2),
        ("sweep peak memory, largest / smallest", large["sweep"]["peak_mb"] / small["sweep"]["peak_mb"], 1.5),
        (f"no-change sweep / floor at {sizes[-1]}", large["sweep"]["seconds"] / large["floor"]["seconds"], 3.0),
    ]
    checks += [(f"{label}, largest / smallest", large["lookups"][key][i] / small["lookups"][key][i], 1.5)
               for label, key, i in LOOKUPS]
    ok = True
    print()
    print(f"{'ratio (one run)':52} {'value':>7} {'target':>7}")
    for label, value, target in checks:
        good = value <= target
        ok &= good
        print(f"{label:52} {value:7.2f} {'<= ' + format(target, 'g'):>7}  {'ok' if good else 'MISSED'}")
    print()
    print("absolute numbers on this machine (2 cores), for reference only:")
    for size in sizes:
        r = rows[size]
        lk = r["lookups"]
        sweep = "" if r["sweep"] is None else \
            f"sweep {r['sweep']['seconds']:.1f} s, floor {r['floor']['seconds']:.1f} s; "
        print(f"  {size:>7} people: {sweep}"
              f"person add {1000 * lk['person_add'][0]:.1f} ms, list page {1000 * lk['person_list'][0]:.1f} ms, "
              f"history p95 {1000 * lk['history'][1]:.0f} ms, status p95 {1000 * lk['status'][1]:.0f} ms, "
              f"prompts {1000 * lk['prompts'][0]:.0f} ms ({lk['prompts'][1]} sent)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
