"""The CLI end to end against a temporary data directory, on real photos."""

from __future__ import annotations

import csv
import io
import sqlite3
import statistics
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image

from tests.clitools import run, run_json, snapshot


def band(d: float) -> str:
    """The band words of README's table, written out independently of the product's code."""
    return "strong" if d < 0.4 else "good" if d < 0.5 else "weak" if d < 0.6 else "diverged"

pytestmark = pytest.mark.faces

OBAMA = "people/barack_obama"


@pytest.fixture
def obama(ready: Path, faces: Path) -> dict:
    person = run_json("person", "add", "Barack Obama", "--consent", "--sector", "government",
                      "--timezone", "America/Chicago", "--checkin-every", "30")
    return person


def test_it_initialises_idempotently(home: Path) -> None:
    first = run("init").stdout
    assert "upgraded from empty to revision" in first
    second = run("init").stdout
    assert "up to date" in second
    assert (home / "freshness.db").is_file()
    mode = sqlite3.connect(home / "freshness.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_it_asks_for_init_before_anything_else(home: Path) -> None:
    result = run("person", "list", code=2)
    assert "freshness init" in result.stderr


def test_it_refuses_a_person_without_consent(ready: Path) -> None:
    before = snapshot(ready)
    result = run("person", "add", "Ada", code=2)
    assert "biometric" in result.stderr and "--consent" in result.stderr
    assert snapshot(ready) == before


def test_it_stores_only_the_hash_of_the_token(ready: Path) -> None:
    person = run_json("person", "add", "Ada Lovelace", "--consent", "--email", "ada@example.org")
    assert set(person) >= {"id", "name", "token"}
    assert person["name"] == "Ada Lovelace" and person["email"] == "ada@example.org"
    assert person["token"].startswith("fr_") and len(person["token"]) > 40
    raw = (ready / "freshness.db").read_bytes() + b"".join(
        p.read_bytes() for p in ready.glob("freshness.db*") if p.is_file()
    )
    assert person["token"].encode() not in raw
    import hashlib

    digest = hashlib.sha256(person["token"].encode()).hexdigest()
    stored = sqlite3.connect(ready / "freshness.db").execute("SELECT token_sha256 FROM apitoken").fetchall()
    assert stored == [(digest,)]
    listed = run_json("person", "list")
    assert [p["name"] for p in listed] == ["Ada Lovelace"]
    assert "token" not in listed[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--email", "not-an-address"], "not an e-mail address"),
        (["--sector", "space"], "accepted sectors are"),
        (["--timezone", "Mars/Olympus"], "IANA"),
        (["--checkin-every", "0"], "between 1 and 365"),
    ],
)
def test_it_refuses_bad_person_options(ready: Path, args: list[str], message: str) -> None:
    before = snapshot(ready)
    result = run("person", "add", "Ada", "--consent", *args, code=2)
    assert message in result.stderr
    assert snapshot(ready) == before


def test_it_runs_the_whole_checkin_flow(obama: dict, ready: Path, faces: Path) -> None:
    head = run_json("headshot", "add", "Barack Obama", faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                    "--published", "2025-01-10", "--ai")
    assert head["platform"] == "linkedin" and head["published_on"] == "2025-01-10"
    assert head["ai_generated"] is True and head["disclosed"] is False and head["retired_at"] is None
    assert head["warnings"] == [] and head["backfilled_checkins"] == 0

    photos = [("obama2.jpg", "2025-02-01"), ("obama3.jpg", "2025-03-01"), ("obama1.jpg", "2025-04-01T08:30"),
              ("obama-1080p.jpg", "2025-05-01")]
    accepted = []
    for name, taken in photos:
        out = run_json("checkin", obama["id"], faces / OBAMA / name, "--taken", taken)
        assert out["accepted"] == 1 and out["refused"] == 0
        (result,) = out["results"]
        assert result["accepted"] is True and result["taken_at_source"] == "given"
        assert result["quality"]["passed"] is True
        assert {m["name"] for m in result["quality"]["measures"]} == {
            "face_size", "in_frame", "sharpness", "exposure", "roll", "yaw"}
        (dist,) = result["distances"]
        assert dist["headshot_id"] == head["id"] and dist["platform"] == "linkedin"
        assert 0.0 < dist["distance"] < 0.6
        accepted.append((result["checkin_id"], result["taken_at"], dist["distance"]))
    # --taken is read in the person's time zone (America/Chicago is UTC-5 in April)
    assert accepted[2][1] == "2025-04-01T13:30:00+00:00"
    assert accepted[0][1] == "2025-02-01T18:00:00+00:00"  # a date alone means noon local

    status = run_json("status", "Barack Obama", "--as-of", "2025-06-01")
    assert status["person"] == {"id": obama["id"], "name": "Barack Obama", "timezone": "America/Chicago"}
    assert status["checkins"] == 4
    assert status["last_checkin_at"] == accepted[-1][1]
    (h,) = status["headshots"]
    assert h["id"] == head["id"] and h["platform"] == "linkedin"
    assert h["age_days"] == (date(2025, 6, 1) - date(2025, 1, 10)).days
    assert h["checkins"] == 4
    assert h["latest_distance"] == accepted[-1][2]
    assert h["median_distance"] == pytest.approx(statistics.median(d for _, _, d in accepted), abs=1e-6)
    # as of an earlier date only the earlier check-ins count
    early = run_json("status", "Barack Obama", "--as-of", "2025-02-15")
    assert early["checkins"] == 1 and early["headshots"][0]["latest_distance"] == accepted[0][2]

    history = run_json("history", "Barack Obama")
    assert [r["checkin_id"] for r in history["rows"]] == [c for c, _, _ in accepted]
    assert [r["taken_at"] for r in history["rows"]] == [t for _, t, _ in accepted]
    distances = [d for _, _, d in accepted]
    levels = [statistics.median(distances[max(0, i - 2): i + 1]) for i in range(len(distances))]
    assert [r["distances"] for r in history["rows"]] == [
        [{"headshot_id": head["id"], "distance": d, "distance_band": band(d), "level": round(lvl, 4),
          "band": band(lvl)}]
        for d, lvl in zip(distances, levels)]
    table = list(csv.reader(io.StringIO(run("history", "Barack Obama", "--csv").stdout)))
    hid = head["id"]
    assert table[0] == ["checkin_id", "taken_at", f"headshot_{hid}_linkedin", f"level_{hid}", f"band_{hid}"]
    assert [float(r[2]) for r in table[1:]] == distances
    assert [float(r[3]) for r in table[1:]] == [round(v, 4) for v in levels]

    human = run("status", "Barack Obama").stdout
    latest = accepted[-1][2]
    assert human.splitlines()[0] == "Your LinkedIn headshot still looks like you (strong)."
    assert f"latest {int(latest * 100) / 100:.2f}, {band(latest)}" in human
    assert "CST" in human or "CDT" in human  # times in the person's time zone (America/Chicago)


def test_it_refuses_bad_images_and_stores_nothing(obama: dict, ready: Path, faces: Path) -> None:
    run("headshot", "add", obama["id"], faces / OBAMA / "obama.jpg", "--platform", "resume")
    run("checkin", obama["id"], faces / OBAMA / "obama2.jpg", "--taken", "2025-02-01")
    before = snapshot(ready)
    bad = [faces / "edge/flower.jpg", faces / "edge/two_people.jpg", faces / "edge/obama-240p.jpg",
           faces / "edge/obama_partial_face.jpg", faces / OBAMA / "obama2.jpg"]
    text = ready / "notes.jpg"
    text.write_text("not an image at all")
    out = run_json("checkin", obama["id"], *bad, text, code=3)
    assert out["accepted"] == 0 and out["refused"] == 6
    codes = [r["error"]["code"] for r in out["results"]]
    assert codes == ["no_face", "several_faces", "quality", "quality", "duplicate", "unsupported_format"]
    assert "face_size" in out["results"][2]["error"]["message"]
    assert "move closer" in out["results"][2]["error"]["message"]
    assert snapshot(ready) == before

    # a mix: the good one is stored, the bad one is not, and the exit status says 3
    out = run_json("checkin", obama["id"], faces / OBAMA / "obama3.jpg", faces / "edge/flower.jpg", code=3)
    assert [r["accepted"] for r in out["results"]] == [True, False]
    assert len(snapshot(ready)["rows"]["checkin"]) == 2

    # a headshot with no face, or two faces, is refused too
    before = snapshot(ready)
    run("headshot", "add", obama["id"], faces / "edge/flower.jpg", "--platform", "linkedin", code=3)
    run("headshot", "add", obama["id"], faces / "edge/two_people.jpg", "--platform", "linkedin", code=3)
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["headshot", "add", "Nobody", "{img}", "--platform", "linkedin"], "no person named"),
        (["headshot", "add", "1", "{img}", "--platform", "myspace"], "accepted platforms are"),
        (["headshot", "add", "1", "{img}", "--platform", "linkedin", "--published", "2999-01-01"], "in the future"),
        (["headshot", "add", "1", "{img}", "--platform", "linkedin", "--published", "last week"], "YYYY-MM-DD"),
        (["checkin", "1", "{img}", "--taken", "yesterday"], "YYYY-MM-DD"),
        (["checkin", "1", "{img}", "--taken", "2999-01-01"], "in the future"),
        (["checkin", "1", "{img}", "/no/such/file.jpg"], "does not exist"),
        (["status", "42"], "no person with id 42"),
        (["history", "1", "--headshot", "99"], "no headshot with id 99"),
        (["history", "1", "--json", "--csv"], "one of --json and --csv"),
        (["headshot", "retire", "99"], "no headshot with id 99"),
    ],
)
def test_it_reports_usage_errors_with_status_2(obama: dict, ready: Path, faces: Path, args, message) -> None:
    before = snapshot(ready)
    argv = [str(faces / OBAMA / "obama2.jpg") if a == "{img}" else a for a in args]
    result = run(*argv, code=2)
    assert message in result.stderr + result.stdout
    assert snapshot(ready) == before


def test_it_keeps_selfies_taken_before_any_headshot(obama: dict, ready: Path, faces: Path) -> None:
    out = run_json("checkin", obama["id"], faces / OBAMA / "obama2.jpg", "--taken", "2024-12-01")
    assert out["results"][0]["distances"] == []
    assert "no active headshot yet" in run("checkin", obama["id"], faces / OBAMA / "obama3.jpg").stdout
    head = run_json("headshot", "add", obama["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                    "--published", "2025-01-10")
    assert head["backfilled_checkins"] == 2
    rows = run_json("history", obama["id"])["rows"]
    assert all(r["distances"][0]["distance"] < 0.6 for r in rows)


def test_it_takes_the_capture_time_from_exif(obama: dict, ready: Path, faces: Path, tmp_path: Path, clock) -> None:
    img = Image.open(faces / OBAMA / "obama-720p.jpg")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2025:07:04 10:00:00"
    path = tmp_path / "selfie.jpg"
    img.save(path, "JPEG", quality=92, exif=exif.tobytes())
    result = run_json("checkin", obama["id"], path)["results"][0]
    assert result["taken_at_source"] == "exif"
    assert result["taken_at"] == "2025-07-04T15:00:00+00:00"  # 10:00 in Chicago (CDT, UTC-5)
    result = run_json("checkin", obama["id"], faces / OBAMA / "obama-480p.jpg")["results"][0]
    assert result["taken_at_source"] == "received"
    assert datetime.fromisoformat(result["taken_at"]) == clock.now  # the time it was received


def test_it_retires_a_headshot_but_keeps_its_history(obama: dict, ready: Path, faces: Path) -> None:
    first = run_json("headshot", "add", obama["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin",
                     "--published", "2024-01-01")
    run("checkin", obama["id"], faces / OBAMA / "obama2.jpg", "--taken", "2024-02-01")
    assert "retired headshot" in run("headshot", "retire", first["id"]).stdout
    run("headshot", "retire", first["id"], code=2)
    second = run_json("headshot", "add", obama["id"], faces / OBAMA / "obama1.jpg", "--platform", "linkedin",
                      "--published", "2025-01-01")
    out = run_json("checkin", obama["id"], faces / OBAMA / "obama3.jpg", "--taken", "2025-02-01")
    assert [d["headshot_id"] for d in out["results"][0]["distances"]] == [second["id"]]
    assert [h["id"] for h in run_json("status", obama["id"])["headshots"]] == [second["id"]]
    listed = run_json("headshot", "list", obama["id"])
    assert [(h["id"], h["retired_at"] is not None) for h in listed] == [(first["id"], True), (second["id"], False)]
    history = run_json("history", obama["id"])
    assert [h["id"] for h in history["headshots"]] == [first["id"], second["id"]]
    assert history["rows"][1]["distances"][0] == {"headshot_id": first["id"], "distance": None,
                                                  "distance_band": None, "level": None, "band": None}
    only = run_json("history", obama["id"], "--headshot", second["id"])
    assert [h["id"] for h in only["headshots"]] == [second["id"]]


def test_it_keeps_selfie_originals_only_when_asked(obama: dict, ready: Path, faces: Path, monkeypatch) -> None:
    from freshness.blobs import sha256_hex
    from freshness.config import reset_settings_cache

    data = (faces / OBAMA / "obama2.jpg").read_bytes()
    run("checkin", obama["id"], faces / OBAMA / "obama2.jpg")
    assert sha256_hex(data) not in {p.name for p in (ready / "blobs").rglob("*")}
    monkeypatch.setenv("FRESHNESS_KEEP_SELFIE_ORIGINALS", "true")
    reset_settings_cache()
    data3 = (faces / OBAMA / "obama3.jpg").read_bytes()
    run("checkin", obama["id"], faces / OBAMA / "obama3.jpg")
    assert sha256_hex(data3) in {p.name for p in (ready / "blobs").rglob("*")}


def test_it_deletes_a_person_and_their_files(obama: dict, ready: Path, faces: Path) -> None:
    run("headshot", "add", obama["id"], faces / OBAMA / "obama.jpg", "--platform", "linkedin")
    run("checkin", obama["id"], faces / OBAMA / "obama2.jpg")
    assert snapshot(ready)["files"]
    run("person", "delete", obama["id"], code=2)
    assert "deleted Barack Obama" in run("person", "delete", obama["id"], "--yes").stdout
    state = snapshot(ready)
    assert state["files"] == []
    assert all(not state["rows"][t] for t in ("person", "apitoken", "headshot", "checkin", "measurement"))


def test_it_runs_as_a_real_process(home: Path, faces: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "freshness", *args], capture_output=True, text=True,
                              timeout=300)

    assert cli("init").returncode == 0
    assert cli("person", "add", "Kit", "--consent").returncode == 0
    done = cli("checkin", "Kit", str(faces / "people/kit_harington/john2.jpeg"), str(faces / "edge/flower2.jpg"))
    assert done.returncode == 3, done.stderr
    assert "accepted as check-in #1" in done.stdout and "refused: no face found" in done.stdout
    usage = cli("checkin")
    assert usage.returncode == 2
    assert "Usage" in usage.stderr
