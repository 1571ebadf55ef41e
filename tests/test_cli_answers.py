"""Answers a person understands (issue 12, items 2, 5 and 6): verdicts, bands, local times,
`headshot set`, previews that record nothing, a reminder's condition start, help texts."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import typer.main

from freshness.cli import app
from tests.clitools import run, run_json, snapshot
from tests.conftest import REPO

OBAMA = "people/barack_obama"


@pytest.fixture
def ada(ready: Path) -> dict:
    return run_json("person", "add", "Ada Lovelace", "--consent", "--sector", "finance",
                    "--timezone", "Asia/Tokyo", "--checkin-every", "30")


# ------------------------------------------------------------------ the command line itself


def test_it_prints_its_version_without_a_command() -> None:
    from freshness import __version__

    assert run("--version").stdout.strip() == f"freshness {__version__}"
    bare = run().stdout
    assert bare.startswith("Usage: freshness [OPTIONS] COMMAND") and "headshot" in bare


def _all_commands():
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        subs = getattr(cmd, "commands", None)
        if subs:
            yield [name], cmd
            for sub_name in subs:
                yield [name, sub_name], subs[sub_name]
        else:
            yield [name], cmd


def test_it_names_arguments_as_a_person_reads_them_and_puts_examples_on_their_own_lines() -> None:
    for path, _ in _all_commands():
        text = run(*path, "--help").stdout
        assert "{" not in text and "<str>" not in text and "<list" not in text and "<int>" not in text, (path, text)
        if len(path) == 2 or path[0] not in ("person", "headshot", "reminders"):
            # every command shows at least one example, each alone on its line
            examples = [line.strip() for line in text.splitlines() if line.strip().startswith("freshness ")]
            assert examples, (path, text)
            assert all(e.startswith("freshness " + " ".join(path)) or path == ["reminders", "list"] for e in examples)
    usage = run("checkin", "--help").stdout.splitlines()[0]
    assert usage == "Usage: freshness checkin [OPTIONS] PERSON IMAGE_OR_FOLDER..."
    assert "rank" in run("headshot", "--help").stdout.split("Commands:")[0]  # the group's summary


def test_it_refuses_to_delete_without_yes_when_nobody_can_answer(ada: dict) -> None:
    before = snapshot(Path(os.environ["FRESHNESS_HOME"]))
    result = run("person", "delete", ada["id"], code=2)
    assert "--yes" in result.stderr and "Ada Lovelace" in result.stderr
    assert snapshot(Path(os.environ["FRESHNESS_HOME"])) == before


def _delete_at_a_terminal(person_id: int, answer: str) -> tuple[int, str]:
    """Run `freshness person delete` in a real pseudo-terminal and answer its question."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a freshness process whose stdin and stdout are a terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "freshness", "person", "delete", str(person_id)],
                   dict(os.environ))
    output = b""
    answered = False
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            os.kill(pid, 9)
            raise AssertionError(f"no answer from the terminal: {output!r}")
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_it_asks_before_deleting_at_a_terminal(ada: dict) -> None:
    home = Path(os.environ["FRESHNESS_HOME"])
    code, out = _delete_at_a_terminal(ada["id"], "n")
    assert "Delete Ada Lovelace" in out and "cannot be undone" in out and "nothing deleted" in out
    assert code == 1 and run_json("person", "list")[0]["id"] == ada["id"]
    code, out = _delete_at_a_terminal(ada["id"], "y")
    assert code == 0 and "deleted Ada Lovelace" in out
    assert run_json("person", "list") == []
    assert home.exists()


# ------------------------------------------------------------------ headshot set


def test_it_marks_a_headshot_disclosed_and_the_reminder_resolves(ada: dict, faces: Path) -> None:
    hid = run_json("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                   "--published", "2025-01-01", "--ai")["id"]
    (r,) = [r for r in run_json("reminders", ada["id"], "--as-of", "2025-01-02") if r["kind"] == "disclosure_missing"]
    assert "mark the headshot as disclosed" in r["message"]
    out = run_json("headshot", "set", hid, "--disclosed")
    assert out["disclosed"] is True and out["changed"] == ["disclosed"]
    kinds = {r["kind"] for r in run_json("reminders", ada["id"], "--as-of", "2025-01-03")}
    assert "disclosure_missing" not in kinds
    assert "nothing changed" in run("headshot", "set", hid, "--disclosed").stdout
    out = run_json("headshot", "set", hid, "--not-ai", "--published", "2024-12-01", "--platform", "website")
    assert (out["ai_generated"], out["published_on"], out["platform"]) == (False, "2024-12-01", "website")
    assert sorted(out["changed"]) == ["ai_generated", "platform", "published_on"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to change"),
        (["--published", "2026-11-30"], "in the future"),  # the frozen clock's today is 2026-11-28/29
        (["--published", "soon"], "not a date"),
        (["--platform", "myspace"], "accepted platforms are linkedin"),
    ],
)
def test_it_refuses_bad_headshot_changes_and_changes_nothing(ada: dict, faces: Path, args, message: str) -> None:
    hid = run_json("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                   "--published", "2025-01-01")["id"]
    before = snapshot(Path(os.environ["FRESHNESS_HOME"]))
    assert message in run("headshot", "set", hid, *args, code=2).stderr
    assert snapshot(Path(os.environ["FRESHNESS_HOME"])) == before
    assert "no headshot with id 99" in run("headshot", "set", 99, "--disclosed", code=2).stderr


# ------------------------------------------------------------------ evaluation time and the record


def test_a_future_as_of_is_a_preview_that_records_nothing(ready: Path, faces: Path, clock) -> None:
    home = Path(os.environ["FRESHNESS_HOME"])
    clock.set(datetime(2025, 6, 1, 12, tzinfo=timezone.utc))
    pid = run_json("person", "add", "Ada", "--consent", "--timezone", "Asia/Tokyo", "--checkin-every", "30")["id"]
    run("headshot", "add", pid, faces / OBAMA / "obama.jpg", "--platform", "linkedin", "--published", "2024-06-15",
        "--disclosed")
    run("checkin", pid, faces / OBAMA / "obama2.jpg", "--taken", "2025-05-25")
    assert run_json("reminders", pid) == []
    clock.set(datetime(2025, 6, 20, 12, tzinfo=timezone.utc))
    (due,) = run_json("reminders", pid)  # now: recorded
    assert due["kind"] == "refresh_due" and due["since"] == "2025-06-14T15:00:00+00:00"  # Tokyo midnight
    run("reminders", "snooze", due["id"], "--until", "2025-07-01")
    before = snapshot(home)
    preview = run("reminders", pid, "--as-of", "2025-07-15")
    assert "preview" in preview.stderr and "nothing is recorded" in preview.stderr
    assert "would be open" in preview.stdout
    items = run_json("reminders", pid, "--as-of", "2025-07-15")
    assert snapshot(home) == before  # nothing recorded: the snooze stands
    assert all(i["preview"] is True for i in items)
    by_kind = {i["kind"]: i for i in items}
    assert by_kind["refresh_due"]["id"] == due["id"] and by_kind["refresh_due"]["state"] == "open"  # snooze over
    assert by_kind["checkin_missed"]["id"] is None  # it would open on 2025-07-09; not recorded
    (stored,) = run_json("reminders", pid)
    assert stored["state"] == "snoozed" and stored["snoozed_until"] == "2025-06-30T15:00:00+00:00"
    # once that day has come, the evaluation records, and the snooze has ended by the clock
    clock.set(datetime(2025, 7, 15, 12, tzinfo=timezone.utc))
    recorded = {r["kind"]: r for r in run_json("reminders", pid)}
    assert recorded["refresh_due"]["state"] == "open" and "preview" not in recorded["refresh_due"]
    assert recorded["checkin_missed"]["id"] is not None


def test_the_record_refuses_a_time_after_now_in_the_service(ready: Path, clock) -> None:
    from sqlmodel import Session

    from freshness.db import get_engine
    from freshness.errors import UsageError
    from freshness.people import add_person
    from freshness.reminders import evaluate_person

    with Session(get_engine()) as session:
        person, _ = add_person(session, "Grace", consent=True, now=clock.now)
        later = clock.now.replace(year=2027)
        with pytest.raises(UsageError, match="a look ahead is a preview and records nothing"):
            evaluate_person(session, person, later, now=clock.now)
        assert evaluate_person(session, person, clock.now, now=clock.now) == []


def test_a_reminder_is_dated_from_when_its_condition_began(ada: dict, faces: Path) -> None:
    hid = run_json("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                   "--published", "2025-03-01", "--disclosed")["id"]
    run("checkin", ada["id"], faces / OBAMA / "obama2.jpg", "--taken", "2026-11-20")
    (due,) = [r for r in run_json("reminders", ada["id"], "--as-of", "2026-11-25") if r["kind"] == "refresh_due"]
    assert due["headshot"] == hid
    assert due["opened_at"].startswith("2026-11-25")  # when the evaluation ran
    assert due["since"] == "2026-02-28T15:00:00+00:00"  # 2026-03-01 00:00 in Tokyo: when it became due
    assert "since 2026-03-01" in run("reminders", ada["id"], "--as-of", "2026-11-26").stdout
    status = run_json("status", ada["id"], "--as-of", "2026-11-26")
    assert status["headshots"][0]["reminders"][0]["since"] == due["since"]


# ------------------------------------------------------------------ verdicts and bands


def test_status_starts_with_a_verdict_and_shows_every_distance_with_its_band(ada: dict, faces: Path) -> None:
    run("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
        "--published", "2025-01-01", "--disclosed")
    for i, name in enumerate(["obama2.jpg", "obama3.jpg", "obama1.jpg"]):
        run("checkin", ada["id"], faces / OBAMA / name, "--taken", f"2025-0{i + 2}-01T09:05")
    data = run_json("status", ada["id"], "--as-of", "2025-05-01")
    (h,) = data["headshots"]
    assert h["state"] == "alike" and h["verdict"] == f"Your LinkedIn headshot still looks like you ({h['band']})."
    human = run("status", ada["id"], "--as-of", "2025-05-01").stdout
    assert human.splitlines()[0] == h["verdict"]
    lines = {line.strip().split(" ")[0]: line for line in human.splitlines() if line.startswith("  ")}
    band_of = r"\d\.\d\d, (strong|good|weak|diverged)"
    assert re.search(rf"latest {band_of} .*median {band_of}", lines["distance:"])
    assert re.search(rf"^  baseline {band_of};", lines["baseline"])
    assert re.search(rf"level .* {band_of}$", lines["level"])
    assert "2025-04-01 09:05 JST" in human  # the latest selfie, in Ada's time zone, to the minute
    assert ".000" not in human and "+00:00" not in human


def test_a_headshot_unlike_its_person_from_the_first_check_in_says_so_without_a_reminder(
    ready: Path, faces: Path
) -> None:
    pid = run_json("person", "add", "Rihanna", "--consent")["id"]
    run("headshot", "add", pid, faces / "ai/rihanna/generated/withanyone-4.jpg", "--platform", "portfolio",
        "--published", "2025-01-01", "--ai", "--disclosed")
    out = run_json("checkin", pid, faces / "ai/rihanna/real/pulid-rihanna.webp", "--taken", "2025-02-01")
    d = out["results"][0]["distances"][0]["distance"]
    assert d >= 0.6  # measured 0.62-0.64
    status = run_json("status", pid, "--as-of", "2025-02-02")
    (h,) = status["headshots"]
    assert h["state"] == "unlike_so_far" and h["reminders"] == []
    assert h["verdict"].startswith("Your portfolio headshot does not look like you so far (diverged): not confirmed")
    assert run_json("reminders", pid, "--as-of", "2025-02-02") == []


def test_history_shows_bands_beside_distances_and_local_times(ada: dict, faces: Path) -> None:
    run("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
        "--published", "2025-01-01", "--disclosed")
    run("checkin", ada["id"], faces / OBAMA / "obama2.jpg", "--taken", "2025-02-01T23:45")
    data = run_json("history", ada["id"])
    cell = data["rows"][0]["distances"][0]
    human = run("history", ada["id"]).stdout
    assert "taken (Asia/Tokyo)" in human and "2025-02-01 23:45 JST" in human
    cut = int(cell["distance"] * 100) / 100
    assert f"{cut:.2f}, {cell['distance_band']}" in human


# ------------------------------------------------------------------ ranking candidates


def test_rank_names_its_warning_column_and_compares_with_the_current_headshot(ada: dict, faces: Path, clock) -> None:
    import numpy as np

    clock.set(datetime(2025, 4, 2, tzinfo=timezone.utc))
    from freshness.context import get_context
    from freshness.faces import analyze_image, decode_image

    run("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
        "--published", "2025-01-01", "--disclosed")
    selfies = ["obama2.jpg", "obama3.jpg", "obama1.jpg"]
    for i, name in enumerate(selfies):
        run("checkin", ada["id"], faces / OBAMA / name, "--taken", f"2025-0{i + 2}-01")
    candidates = [faces / "people/joe_biden/biden2.jpg", faces / OBAMA / "obama-720p.jpg"]
    out = run_json("headshot", "rank", ada["id"], *candidates)

    # the order and the numbers, computed here independently from the photos themselves
    ctx = get_context()

    def embed(p: Path) -> np.ndarray:
        return analyze_image(decode_image(p.read_bytes(), ctx.decode_limits), "headshot", ctx.quality_limits).embedding

    refs = [embed(faces / OBAMA / n) for n in selfies]

    def median(p: Path) -> float:
        return float(np.median([np.linalg.norm(embed(p).astype(float) - r.astype(float)) for r in refs]))

    expected = sorted(candidates, key=median)
    assert [Path(c["file"]) for c in out["candidates"]] == expected
    for c in out["candidates"]:
        assert c["median_distance"] == pytest.approx(median(Path(c["file"])), abs=1e-3)
        assert (c["warning"] is not None) is (c["median_distance"] >= 0.6)
    (current,) = out["current"]
    assert current["median_distance"] == pytest.approx(median(faces / OBAMA / "obama.jpg"), abs=1e-3)
    assert out["selfies_warning"] is None

    human = run("headshot", "rank", ada["id"], *candidates).stdout
    header = next(line for line in human.splitlines() if line.startswith("rank"))
    assert header.split() == ["rank", "candidate", "median", "distance", "warning"]
    assert "current headshot #1 (linkedin)" in human and "unlike you today" in human

    clock.set(datetime(2026, 4, 2, tzinfo=timezone.utc))  # the newest selfie is now over a year old
    stale = run_json("headshot", "rank", ada["id"], *candidates)["selfies_warning"]
    assert "2025-04-01" in stale and "more than a year ago" in stale


def test_readme_shows_the_cli_as_it_runs() -> None:
    text = (REPO / "README.md").read_text()
    assert "uv run freshness" in text or "source .venv/bin/activate" in text
    assert "PORT=" in text or "--port" in text
    completed = subprocess.run([sys.executable, "-m", "freshness", "--version"], capture_output=True, text=True)
    assert completed.returncode == 0 and completed.stdout.startswith("freshness ")


def test_checkin_starts_with_a_verdict_per_headshot(ada: dict, faces: Path) -> None:
    run("headshot", "add", ada["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
        "--published", "2025-01-01", "--disclosed")
    run("headshot", "add", ada["id"], faces / "people/joe_biden/biden.jpg", "--platform", "website",
        "--published", "2025-01-01", "--disclosed")
    out = run("checkin", ada["id"], faces / OBAMA / "obama2.jpg", "--taken", "2025-02-01T08:15").stdout
    first, second = out.splitlines()[:2]
    assert first.startswith("Your LinkedIn headshot looks like you so far (")
    assert second.startswith("Your website headshot does not look like you so far (diverged): not confirmed")
    assert "taken 2025-02-01 08:15 JST, from given" in out
    assert re.search(r"^  LinkedIn headshot #1: 0\.\d\d, (strong|good|weak)$", out, flags=re.M)
    data = run_json("checkin", ada["id"], faces / OBAMA / "obama3.jpg", "--taken", "2025-03-01")
    # a second unlike check-in confirms it: the website headshot never looked like her
    assert [v["state"] for v in data["verdicts"]] == ["alike_so_far", "never_alike"]
    for d in data["results"][0]["distances"]:
        assert d["band"] == ("strong" if d["distance"] < 0.4 else "good" if d["distance"] < 0.5
                             else "weak" if d["distance"] < 0.6 else "diverged")
