"""Issue 12, item 4 — "Is this selfie really you?": the identity guard on check-ins, on real photos."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from freshness.config import reset_settings_cache
from freshness.identity import Reference, check, nearest
from freshness.cli import app
from tests.clitools import run, run_json, runner, snapshot, variant
from tests.conftest import REPO

pytestmark = pytest.mark.faces

# five different people, one photo each
FIVE = ["people/barack_obama/obama2.jpg", "people/joe_biden/biden2.jpg", "people/kit_harington/john1.jpeg",
        "people/rose_leslie/img1.jpg", "people/amy_adams/adams.jpg"]



def checkin(pid: int, image: Path, day: str, *options: str, code: int | None = 0) -> dict:
    """One selfie through the CLI (``code=None``: accepted or refused, either is fine)."""
    args = ["checkin", str(pid), str(image), "--taken", day, *options, "--json"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code in ((0, 3) if code is None else (code,)), (args, result.stdout, result.stderr)
    (entry,) = json.loads(result.stdout)["results"]
    return entry


def query(home: Path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(home / "freshness.db")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def column(home: Path, checkin_id: int) -> tuple[float | None, int]:
    (row,) = query(home, "SELECT identity_distance, identity_confirmed FROM checkin WHERE id = ?", checkin_id)
    return row


def test_it_refuses_five_different_people_checked_in_as_one(ready: Path, faces: Path) -> None:
    pid = run_json("person", "add", "Ada Lovelace", "--consent")["id"]
    first = checkin(pid, faces / FIVE[0], "2025-01-01")
    assert first["accepted"] is True
    assert first["identity"] == {"checked": False, "distance": None, "compared_with": [], "radius": 0.6,
                                 "confirmed": False, "note": first["identity"]["note"]}
    assert first["identity"]["note"].startswith("identity not checked yet")
    assert column(ready, first["checkin_id"]) == (None, 0)

    for i, rel in enumerate(FIVE[1:]):
        before = snapshot(ready)
        refused = checkin(pid, faces / rel, f"2025-0{i + 2}-01", code=3)
        assert refused["accepted"] is False
        error = refused["error"]
        assert error["code"] == "not_you", error
        assert error["details"]["distance"] > 0.6 and error["details"]["radius"] == 0.6
        assert error["details"]["compared_with"] == [first["checkin_id"]]
        assert "does not look like your earlier check-ins" in error["message"]
        assert "--confirm-identity" in error["message"] and "%" not in error["message"]
        assert snapshot(ready) == before  # no row, no file

    human = run("checkin", pid, faces / FIVE[1], "--taken", "2025-02-01", code=3).stdout
    assert "refused: This selfie does not look like your earlier check-ins" in human

    # a real selfie of the first person, with --confirm-identity though it does not need it: not "confirmed"
    again = checkin(pid, faces / "people/barack_obama/obama3.jpg", "2025-01-02", "--confirm-identity")
    assert again["identity"]["checked"] is True and again["identity"]["distance"] < 0.6
    assert again["identity"]["confirmed"] is False and again["identity"]["note"] is None
    assert column(ready, again["checkin_id"]) == (pytest.approx(again["identity"]["distance"]), 0)

    # the caller says it is them: accepted, and recorded as accepted on confirmation
    for i, rel in enumerate(FIVE[1:]):
        result = checkin(pid, faces / rel, f"2025-0{i + 2}-01", "--confirm-identity")
        ident = result["identity"]
        assert result["accepted"] is True and ident["checked"] is True and ident["confirmed"] is True
        assert ident["distance"] > 0.6 and len(ident["compared_with"]) == i + 2
        assert ident["note"].startswith("identity confirmed by you")
        assert column(ready, result["checkin_id"]) == (pytest.approx(ident["distance"]), 1)
    text = run("checkin", pid, faces / "people/barack_obama/obama1.jpg", "--taken", "2025-06-01",
               "--confirm-identity").stdout
    assert "identity confirmed by you" in text  # its nearest selfies are mostly the other four people


def test_it_never_refuses_the_same_person_in_either_order(ready: Path, faces: Path) -> None:
    replays = {
        "barack_obama": sorted((faces / "people/barack_obama").iterdir()),
        "scarlett_johansson": sorted((faces / "ai/scarlett_johansson/real").iterdir()),
        # alex-lacamoire.png then alex_lacamoire1.jpg: the farthest same-person pair here (0.53)
        "alex_lacamoire": sorted((faces / "people/alex_lacamoire").iterdir()),
        "kit_harington": sorted((faces / "people/kit_harington").iterdir()),
    }
    day0 = datetime(2024, 1, 1)
    worst = 0.0
    for name, photos in replays.items():
        for order in (photos, photos[::-1]):
            pid = run_json("person", "add", f"{name} {len(order)} {order[0].name}", "--consent")["id"]
            for n, image in enumerate(order):
                result = checkin(pid, image, (day0 + timedelta(days=30 * n)).date().isoformat())
                assert result["accepted"] is True, (name, image.name, result)
                ident = result["identity"]
                assert ident["checked"] is (n > 0) and ident["confirmed"] is False
                assert len(ident["compared_with"]) == min(n, 5)
                if n:
                    worst = max(worst, ident["distance"])
                    assert ident["note"] is None  # nothing notable: no line in the human output
    assert 0.45 < worst < 0.6, worst


def test_it_says_when_identity_is_not_checked_yet(ready: Path, faces: Path, monkeypatch) -> None:
    monkeypatch.setenv("FRESHNESS_IDENTITY_MIN_REFERENCES", "2")
    reset_settings_cache()
    pid = run_json("person", "add", "Ada Lovelace", "--consent")["id"]
    out = run("checkin", pid, faces / FIVE[0], "--taken", "2025-01-01").stdout
    assert "identity not checked yet" in out and "you had 0" in out
    second = checkin(pid, faces / FIVE[1], "2025-02-01")  # someone else, but nothing to compare with yet
    assert second["accepted"] is True and second["identity"]["checked"] is False
    assert "once you have 2 selfies; you had 1" in second["identity"]["note"]
    third = checkin(pid, faces / FIVE[2], "2025-03-01", code=3)
    assert third["error"]["code"] == "not_you" and len(third["error"]["details"]["compared_with"]) == 2


def test_the_radius_decides_at_the_measured_distance(ready: Path, faces: Path, monkeypatch) -> None:
    a, b = faces / "people/kit_harington/john1.jpeg", faces / "people/kit_harington/johnsnow_test1.jpg"
    pid = run_json("person", "add", "Kit", "--consent")["id"]
    checkin(pid, a, "2025-01-01")
    d = checkin(pid, b, "2025-02-01")["identity"]["distance"]
    assert 0.3 < d < 0.6

    def attempt(radius: str, code: int) -> dict:
        monkeypatch.setenv("FRESHNESS_IDENTITY_RADIUS", radius)
        reset_settings_cache()
        twin = run_json("person", "add", f"Kit at {radius}", "--consent")["id"]
        checkin(twin, a, "2025-01-01")
        return checkin(twin, b, "2025-02-01", code=code)

    below = attempt(f"{d - 0.001:.6f}", code=3)
    assert below["error"]["code"] == "not_you"
    assert below["error"]["details"]["distance"] == d and below["error"]["details"]["radius"] == round(d - 0.001, 6)
    above = attempt(f"{d + 0.001:.6f}", code=0)
    assert above["identity"]["distance"] == d and above["identity"]["radius"] == round(d + 0.001, 6)
    at = attempt(repr(d), code=0)  # inside means at most the radius, as dlib's compare_faces
    assert at["identity"]["distance"] == at["identity"]["radius"] == d


def test_a_back_dated_selfie_is_compared_with_the_selfies_nearest_in_time(ready: Path, faces: Path,
                                                                          tmp_path: Path) -> None:
    """2020: three selfies; 2025: the face changed a lot (here: another person's photos, confirmed)."""
    pid = run_json("person", "add", "Ada Lovelace", "--consent")["id"]
    obama = faces / "people/barack_obama"
    for i, name in enumerate(["obama2.jpg", "obama3.jpg", "obama1.jpg"]):
        checkin(pid, obama / name, f"2020-0{i + 1}-01")
    biden = [faces / "people/joe_biden/biden.jpg", faces / "people/joe_biden/biden2.jpg"]
    biden += [variant(biden[k % 2], tmp_path / f"b{k}.jpg", k, margin=2) for k in range(3)]
    needed = []
    for i, image in enumerate(biden):
        result = checkin(pid, image, f"2025-0{i + 1}-01", code=None)
        if not result["accepted"]:
            assert result["error"]["code"] == "not_you"
            result = checkin(pid, image, f"2025-0{i + 1}-01", "--confirm-identity")
        needed.append(result["identity"]["confirmed"])
    # confirmed selfies become references: once most nearest selfies show the new face, no confirmation
    assert needed[0] is True and needed[-1] is False, needed

    ids = {i: taken[:4] for i, taken in query(ready, "SELECT id, taken_at FROM checkin WHERE person_id = ?", pid)}
    back = checkin(pid, obama / "obama-1080p.jpg", "2020-06-01")
    assert back["identity"]["distance"] < 0.6
    assert sorted(ids[i] for i in back["identity"]["compared_with"]) == ["2020"] * 3 + ["2025"] * 2
    now = checkin(pid, obama / "obama-720p.jpg", "2025-06-01", code=3)
    assert now["error"]["code"] == "not_you" and "your last 5 selfies" in now["error"]["message"]
    assert {ids[i] for i in now["error"]["details"]["compared_with"]} == {"2025"}
    old = checkin(pid, variant(biden[0], tmp_path / "b-old.jpg", 5, margin=2), "2020-03-15", code=3)
    assert "taken nearest to that date" in old["error"]["message"]


def test_the_readme_figures_are_measured(faces: Path) -> None:
    """All-orders replay and catch rate with the product's functions (benchmarks/identity_guard.py)."""
    spec = importlib.util.spec_from_file_location("identity_guard", REPO / "benchmarks/identity_guard.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    m = bench.measure(faces)
    same, other = m["same_person"], m["other_person"]
    assert same["comparisons"] > 10_000 and same["refusals"] == 0, same["refused"]
    assert other["tries"] > 1_000 and other["caught"] == other["tries"], other["closest"]
    assert max(same["max_median"].values()) < 0.6 < min(other["min_median"].values())
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### `freshness checkin"):readme.index("### `freshness status")]
    for figure in (f"{same['orders']:,}", f"{same['comparisons']:,}", f"{other['tries']:,}",
                   f"{max(same['max_median'].values()):.2f}", f"{min(other['min_median'].values()):.2f}"):
        assert figure in section, figure


@pytest.mark.parametrize(("name", "value", "words"), [
    ("FRESHNESS_IDENTITY_RADIUS", "0", "above 0 and at most 2"),
    ("FRESHNESS_IDENTITY_RADIUS", "-0.5", "above 0 and at most 2"),
    ("FRESHNESS_IDENTITY_RADIUS", "2.5", "above 0 and at most 2"),
    ("FRESHNESS_IDENTITY_RADIUS", "nan", "above 0 and at most 2"),
    ("FRESHNESS_IDENTITY_RADIUS", "close", "valid number"),
    ("FRESHNESS_IDENTITY_MIN_REFERENCES", "0", "from 1 to 5"),
    ("FRESHNESS_IDENTITY_MIN_REFERENCES", "6", "from 1 to 5"),
    ("FRESHNESS_IDENTITY_MIN_REFERENCES", "1.5", "valid integer"),
])
def test_it_refuses_bad_identity_settings(home: Path, tmp_path: Path, monkeypatch, name: str, value: str,
                                          words: str) -> None:
    image = tmp_path / "selfie.jpg"
    image.write_bytes(b"not read: the settings are checked first")
    monkeypatch.setenv(name, value)
    reset_settings_cache()
    result = run("checkin", "Ada", image, code=2)
    assert f"invalid setting: {name}={value}: " in result.stderr and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ the pure rules, without photos

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _ref(i: int, days: float, vec: list[float]) -> Reference:
    return Reference(checkin_id=i, taken_at=T0 + timedelta(days=days), embedding=np.array(vec, dtype=np.float32))


def test_it_chooses_the_references_nearest_in_time() -> None:
    refs = [_ref(i, d, [0.0]) for i, d in enumerate([0, 10, 20, 30, 40, 50, 60, 70])]
    assert [r.checkin_id for r in nearest(refs, T0 + timedelta(days=100))] == [7, 6, 5, 4, 3]
    assert [r.checkin_id for r in nearest(refs, T0 + timedelta(days=21))] == [2, 3, 1, 4, 0]
    tie = [_ref(1, 0, [0.0]), _ref(2, 0, [0.0])]
    assert [r.checkin_id for r in nearest(tie, T0, 1)] == [2]  # the later check-in of one session


def test_the_median_decides_and_one_odd_reference_does_not() -> None:
    refs = [_ref(1, 0, [0.0]), _ref(2, 1, [0.1]), _ref(3, 2, [5.0])]
    result = check(np.array([0.0]), refs, taken_at=T0 + timedelta(days=3), radius=0.6)
    assert result.distance == pytest.approx(0.1) and not result.outside and result.compared_with == (1, 2, 3)
    assert check(np.array([0.6]), refs[:1], taken_at=T0, radius=0.6).outside is False  # at the radius: inside
    assert check(np.array([0.61]), refs[:1], taken_at=T0 + timedelta(days=1), radius=0.6).outside is True
    assert check(np.array([9.0]), refs[:1], taken_at=T0, min_references=2).checked is False
    assert check(np.array([9.0]), [], taken_at=T0).checked is False
    assert check(np.array([0.0]), refs, taken_at=T0 + timedelta(days=1)).back_dated is True


def test_the_readme_documents_the_guard() -> None:
    readme = (REPO / "README.md").read_text()
    (line,) = [x for x in readme.splitlines() if x.startswith("- `checkin`: ")]
    assert "not_you" in line and "identity: {checked, distance, compared_with, radius, confirmed" in line
    for setting in ("FRESHNESS_IDENTITY_RADIUS", "FRESHNESS_IDENTITY_MIN_REFERENCES", "--confirm-identity"):
        assert setting in readme
