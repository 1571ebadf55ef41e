"""The JSON API under /api/v1, through the app (real SQLite in a temporary home, real photos).

Every route is walked from the app's own route table for the 401/403 and the 404
isolation checks, so a new route cannot skip them. The upload limit and the worker
threads are shown against a real uvicorn server on loopback; the offline /docs by
fetching everything its pages refer to.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from freshness.config import Settings
from freshness.web import create_app
from freshness.web.api_limits import FORM_OVERHEAD, MAX_FILES
from tests.clitools import run, run_json, snapshot
from tests.conftest import FROZEN_NOW
from tests.receivers import receiver_fixture

pytestmark = pytest.mark.usefixtures("allow_loopback")  # the receivers listen on loopback

ADMIN = "admin-token-for-the-tests-0123456789"
OBAMA = "people/barack_obama"
BIDEN = "people/joe_biden"
API = "/api/v1"

receiver = receiver_fixture(default=204)


@pytest.fixture
def settings_overrides() -> dict:
    return {"admin_token": ADMIN}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN_HEADERS = bearer(ADMIN)


def add_person(client: TestClient, name: str, **fields: Any) -> tuple[dict, dict[str, str]]:
    r = client.post(f"{API}/persons", json={"name": name, "consent": True, **fields}, headers=ADMIN_HEADERS)
    assert r.status_code == 201, r.text
    body = r.json()
    return body, bearer(body["token"])


def photo(faces: Path, rel: str) -> tuple[str, bytes, str]:
    return (Path(rel).name, (faces / rel).read_bytes(), "image/jpeg")


def post_headshot(client: TestClient, headers: dict, faces: Path, rel: str, **form: Any) -> httpx.Response:
    data = {"platform": "linkedin", **{k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}}
    return client.post(f"{API}/headshots", files={"image": photo(faces, rel)}, data=data, headers=headers)


def post_checkin(client: TestClient, headers: dict, files: list[tuple[str, bytes, str]], **form: Any) -> httpx.Response:
    data = {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
    return client.post(f"{API}/checkins", files=[("images", f) for f in files], data=data, headers=headers)


def error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == code and body["message"], body
    return body


@pytest.fixture
def ada(client: TestClient) -> tuple[dict, dict[str, str]]:
    return add_person(client, "Ada Lovelace", timezone="Europe/London", sector="finance")


# ---------------------------------------------------------------- isolation, walked from the route table


def api_routes(app) -> list[tuple[str, str, Any]]:
    """(method, path, route) of every route under /api/v1, from the app's own route table."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.165 keeps included routers lazily
        routes = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: a flat list
        routes = list(app.routes)
    out = []
    for route in routes:
        path = getattr(route, "path", None) or ""
        if path.startswith(API):
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    out.append((method, path, route))
    return out


def is_admin_route(route: Any) -> bool:
    from freshness.web.auth import admin

    deps = getattr(route, "dependant", None)
    stack = list(deps.dependencies) if deps else []
    while stack:
        d = stack.pop()
        if d.call is admin:
            return True
        stack.extend(d.dependencies)
    return False


# a body that the route accepts, so that only the id decides the answer
BODIES: dict[tuple[str, str], dict] = {
    ("PATCH", f"{API}/headshots/{{headshot_id}}"): {"disclosed": True},
    ("POST", f"{API}/reminders/{{reminder_id}}/snooze"): {"until": "2027-06-01"},
}
NO_SUCH_ID = 987654


@pytest.mark.faces
def test_it_answers_401_without_a_token_and_404_for_another_persons_ids_on_every_route(
    client: TestClient, settings: Settings, faces: Path, ada: tuple, receiver
) -> None:
    _, ada_h = ada
    bob, bob_h = add_person(client, "Bob", timezone="America/New_York")
    # Bob owns one of everything that has an id
    head = post_headshot(client, bob_h, faces, f"{BIDEN}/biden.jpg", published="2024-01-01").json()
    checkin = post_checkin(client, bob_h, [photo(faces, f"{BIDEN}/biden2.jpg")]).json()["results"][0]
    reminders = client.get(f"{API}/reminders", headers=bob_h).json()
    channel = client.post(f"{API}/channels", json={"kind": "webhook", "target": receiver.url()}, headers=bob_h).json()
    token = client.post(f"{API}/tokens", json={"label": "spare"}, headers=bob_h).json()
    ids = {"headshot_id": head["id"], "checkin_id": checkin["checkin_id"], "reminder_id": reminders[0]["id"],
           "channel_id": channel["id"], "token_id": token["id"]}

    routes = api_routes(client.app)
    assert len(routes) >= 28, [f"{m} {p}" for m, p, _ in routes]
    client.get(f"{API}/me", headers=ada_h)  # Ada's token use is recorded once (last_used_at), not per call
    before = snapshot(settings.home)
    owned = []
    for method, path, route in routes:
        # no token: 401, and the admin routes want the admin token
        r = client.request(method, path.format(**{k: 1 for k in ids}))
        error(r, 401, "unauthorized")
        if is_admin_route(route):
            error(client.request(method, path, headers=ada_h), 401, "unauthorized")  # a person's token is no admin's
            continue
        params = re.findall(r"{(\w+)}", path)
        if not params:
            continue
        missing = [p for p in params if p not in ids]
        assert not missing, f"{method} {path}: give Bob an id for {missing} in this test"
        body = BODIES.get((method, path))
        # Ada on Bob's ids: 404, word for word as an id that does not exist
        theirs = client.request(method, path.format(**ids), json=body, headers=ada_h)
        nothing = client.request(method, path.format(**{k: NO_SUCH_ID for k in ids}), json=body, headers=ada_h)
        error(theirs, 404, "not_found")
        error(nothing, 404, "not_found")
        assert theirs.json()["message"].replace(str(ids[params[0]]), "N") == \
            nothing.json()["message"].replace(str(NO_SUCH_ID), "N"), (method, path)
        owned.append((method, path, body))
    # an id in the query is scoped the same way
    theirs = error(client.get(f"{API}/history", params={"headshot": ids["headshot_id"]}, headers=ada_h), 404, "not_found")
    nothing = error(client.get(f"{API}/history", params={"headshot": NO_SUCH_ID}, headers=ada_h), 404, "not_found")
    assert theirs["message"].replace(str(ids["headshot_id"]), "N") == nothing["message"].replace(str(NO_SUCH_ID), "N")
    assert snapshot(settings.home) == before  # none of Ada's calls changed anything of Bob's
    assert {p for _, p, _ in owned} >= {f"{API}/headshots/{{headshot_id}}", f"{API}/checkins/{{checkin_id}}/thumbnail",
                                        f"{API}/reminders/{{reminder_id}}/ack", f"{API}/tokens/{{token_id}}",
                                        f"{API}/channels/{{channel_id}}/test"}

    # and Bob himself gets an answer on each (deletions last, so the others still find their ids)
    for method, path, body in sorted(owned, key=lambda o: o[0] == "DELETE"):
        r = client.request(method, path.format(**ids), json=body, headers=bob_h)
        assert r.status_code < 400, (method, path, r.status_code, r.text)


def test_the_admin_routes_are_off_without_an_admin_token(home: Path) -> None:
    from freshness import migrate

    settings = Settings()
    migrate.upgrade(settings)
    with TestClient(create_app(settings)) as client:
        admin_routes = [(m, p) for m, p, r in api_routes(client.app) if is_admin_route(r)]
        assert {("GET", f"{API}/persons"), ("POST", f"{API}/persons")} <= set(admin_routes)
        for method, path in admin_routes:
            body = error(client.request(method, path, headers=ADMIN_HEADERS), 403, "forbidden")
            assert "FRESHNESS_ADMIN_TOKEN" in body["message"]


def test_a_bad_or_revoked_token_opens_nothing(client: TestClient, ada: tuple) -> None:
    person, ada_h = ada
    assert client.get(f"{API}/me", headers=ada_h).json()["name"] == "Ada Lovelace"
    error(client.get(f"{API}/me", headers=bearer("fr_nope")), 401, "unauthorized")
    error(client.get(f"{API}/me", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    error(client.get(f"{API}/me", headers=ADMIN_HEADERS), 401, "unauthorized")  # the admin token is nobody
    r = client.get(f"{API}/me")
    assert r.headers["www-authenticate"] == "Bearer"
    first = client.get(f"{API}/tokens", headers=ada_h).json()[0]
    assert client.delete(f"{API}/tokens/{first['id']}", headers=ada_h).json()["revoked_at"] == FROZEN_NOW.isoformat()
    error(client.get(f"{API}/me", headers=ada_h), 401, "unauthorized")


# ---------------------------------------------------------------- headshots, check-ins, reports


def jpeg_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image.size


@pytest.mark.faces
def test_it_registers_a_headshot_checks_in_and_answers_as_the_cli(client: TestClient, faces: Path, ada: tuple) -> None:
    person, h = ada
    r = post_headshot(client, h, faces, f"{OBAMA}/obama.jpg", published="2025-06-01", ai=True, disclosed=False)
    assert r.status_code == 201, r.text
    head = r.json()
    assert head["platform"] == "linkedin" and head["published_on"] == "2025-06-01" and head["ai_generated"] is True
    assert head["warnings"] == [] and head["backfilled_checkins"] == 0 and head["person_id"] == person["id"]
    assert head["quality"]["passed"] is True and {m["name"] for m in head["quality"]["measures"]} >= {"face_size", "yaw"}

    # two selfies in one check-in, one with a time given
    r = post_checkin(client, h, [photo(faces, f"{OBAMA}/obama2.jpg"), photo(faces, f"{OBAMA}/obama3.jpg")],
                     taken_at="2025-07-01T10:00")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["person"] == {"id": person["id"], "name": "Ada Lovelace"}
    assert (out["accepted"], out["refused"]) == (2, 0)
    first = out["results"][0]
    assert first["file"] == "obama2.jpg" and first["accepted"] is True
    assert first["taken_at"] == "2025-07-01T09:00:00+00:00" and first["taken_at_source"] == "given"  # London, BST
    assert first["distances"][0]["headshot_id"] == head["id"] and 0 < first["distances"][0]["distance"] < 0.6
    assert first["quality"]["passed"] and all("hint" not in m for m in first["quality"]["measures"])
    assert out["verdicts"][0]["headshot_id"] == head["id"]
    assert out["verdicts"][0]["verdict"].startswith("Your LinkedIn headshot")

    # the same keys as `freshness checkin --json` prints, to the last one
    cli = run_json("checkin", person["id"], faces / OBAMA / "obama1.jpg")
    assert set(cli) == set(out) and set(cli["results"][0]) == set(first)
    assert set(cli["results"][0]["identity"]) == set(first["identity"])
    assert set(cli["verdicts"][0]) == set(out["verdicts"][0])

    # thumbnails are small JPEGs from the file store
    for url in (f"{API}/headshots/{head['id']}/thumbnail", f"{API}/checkins/{first['checkin_id']}/thumbnail"):
        t = client.get(url, headers=h)
        assert t.status_code == 200 and t.headers["content-type"] == "image/jpeg"
        assert max(jpeg_size(t.content)) <= 256

    # reports: exactly what the CLI prints with --json
    assert client.get(f"{API}/headshots", headers=h).json() == run_json("headshot", "list", person["id"])
    assert client.get(f"{API}/headshots/{head['id']}", headers=h).json() == run_json("headshot", "list", person["id"])[0]
    assert client.get(f"{API}/status", headers=h).json() == run_json("status", person["id"])
    assert client.get(f"{API}/status", params={"as_of": "2025-07-01"}, headers=h).json() == \
        run_json("status", person["id"], "--as-of", "2025-07-01")
    assert client.get(f"{API}/history", headers=h).json() == run_json("history", person["id"])
    r = client.get(f"{API}/history", params={"format": "csv", "headshot": head["id"]}, headers=h)
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text == run("history", person["id"], "--csv", "--headshot", head["id"]).stdout
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["checkin_id", "taken_at", f"headshot_{head['id']}_linkedin", f"level_{head['id']}",
                       f"band_{head['id']}"] and len(rows) == 4

    # change, then retire
    r = client.patch(f"{API}/headshots/{head['id']}", json={"disclosed": True, "platform": "website"}, headers=h)
    assert r.json()["changed"] == ["platform", "disclosed"] and r.json()["disclosed"] is True
    assert client.patch(f"{API}/headshots/{head['id']}", json={"disclosed": True}, headers=h).json()["changed"] == []
    r = client.post(f"{API}/headshots/{head['id']}/retire", headers=h)
    assert r.json()["retired_at"] == FROZEN_NOW.isoformat()
    error(client.post(f"{API}/headshots/{head['id']}/retire", headers=h), 400, "usage")  # already retired
    assert client.get(f"{API}/status", headers=h).json()["headshots"] == []


@pytest.mark.faces
def test_it_refuses_bad_images_and_bad_input_and_stores_nothing(
    client: TestClient, settings: Settings, faces: Path, ada: tuple
) -> None:
    person, h = ada
    assert post_headshot(client, h, faces, f"{OBAMA}/obama.jpg", published="2025-06-01").status_code == 201
    assert post_checkin(client, h, [photo(faces, f"{OBAMA}/obama2.jpg")]).status_code == 200
    before = snapshot(settings.home)

    # a check-in answers each image on its own
    bad = [photo(faces, "edge/flower.jpg"), photo(faces, "edge/two_people.jpg"), photo(faces, "edge/obama-240p.jpg"),
           photo(faces, f"{OBAMA}/obama2.jpg"), ("notes.jpg", b"not an image at all", "image/jpeg")]
    out = post_checkin(client, h, bad).json()
    assert (out["accepted"], out["refused"]) == (0, 5)
    assert [r["error"]["code"] for r in out["results"]] == ["no_face", "several_faces", "quality", "duplicate",
                                                            "unsupported_format"]
    assert "move closer" in out["results"][2]["error"]["message"]
    assert "face_size" in out["results"][2]["error"]["details"]["failed"]
    assert snapshot(settings.home) == before

    # refused headshots: the CLI's codes, nothing written
    error(post_headshot(client, h, faces, "edge/flower.jpg"), 422, "no_face")
    error(post_headshot(client, h, faces, "edge/two_people.jpg"), 422, "several_faces")
    error(post_headshot(client, h, faces, f"{OBAMA}/obama.jpg"), 422, "duplicate")
    assert "platform" in error(post_headshot(client, h, faces, f"{OBAMA}/obama1.jpg", platform="myspace"),
                               400, "usage")["message"]
    assert "in the future" in error(post_headshot(client, h, faces, f"{OBAMA}/obama1.jpg", published="2027-01-01"),
                                    400, "usage")["message"]
    assert "YYYY-MM-DD" in error(post_headshot(client, h, faces, f"{OBAMA}/obama1.jpg", published="last year"),
                                 400, "usage")["message"]
    r = client.post(f"{API}/headshots", data={"platform": "linkedin"}, files={"other": ("x", b"x")}, headers=h)
    assert "image" in error(r, 422, "invalid_request")["message"]

    # bad check-in requests are refused whole, before any image is looked at
    good = [photo(faces, f"{OBAMA}/obama3.jpg")]
    assert "YYYY-MM-DD" in error(post_checkin(client, h, good, taken_at="yesterday"), 400, "usage")["message"]
    assert "in the future" in error(post_checkin(client, h, good, taken_at="2999-01-01"), 400, "usage")["message"]
    assert "from 1900 to 8999" in error(post_checkin(client, h, good, taken_at="0001-01-01"), 400, "usage")["message"]
    many = [(f"{i}.jpg", b"x", "image/jpeg") for i in range(MAX_FILES + 1)]
    assert f"at most {MAX_FILES}" in error(post_checkin(client, h, many), 400, "usage")["message"]
    error(client.post(f"{API}/checkins", data={"taken_at": "2025-01-01"}, headers=h), 422, "invalid_request")
    error(client.post(f"{API}/checkins", files=[("images", good[0])], data={"confirm_identity": "maybe"}, headers=h),
          422, "invalid_request")
    assert snapshot(settings.home) == before

    # another person's face is refused as not_you, unless confirmed
    out = post_checkin(client, h, [photo(faces, f"{BIDEN}/biden.jpg")]).json()
    assert out["results"][0]["error"]["code"] == "not_you" and snapshot(settings.home) == before
    out = post_checkin(client, h, [photo(faces, f"{BIDEN}/biden.jpg")], confirm_identity=True).json()
    assert out["results"][0]["accepted"] and out["results"][0]["identity"]["confirmed"] is True


@pytest.mark.faces
def test_it_ranks_candidate_headshots_as_the_cli(client: TestClient, settings: Settings, faces: Path, ada: tuple) -> None:
    person, h = ada
    candidates = [("candidates", photo(faces, f"{OBAMA}/obama-720p.jpg")),
                  ("candidates", photo(faces, f"{BIDEN}/biden.jpg")),
                  ("candidates", photo(faces, "edge/flower.jpg"))]
    # too few selfies to compare with
    r = client.post(f"{API}/headshots/rank", files=candidates, headers=h)
    assert "at least 3" in error(r, 400, "usage")["message"]
    for i, name in enumerate(["obama1.jpg", "obama2.jpg", "obama3.jpg"]):
        assert post_checkin(client, h, [photo(faces, f"{OBAMA}/{name}")], taken_at=f"2026-0{i + 1}-01").json()["accepted"]
    before = snapshot(settings.home)
    out = client.post(f"{API}/headshots/rank", files=candidates, data={"selfies": "3"}, headers=h).json()
    assert [c["file"] for c in out["candidates"]] == ["obama-720p.jpg", "biden.jpg", "flower.jpg"]
    assert [c["rank"] for c in out["candidates"]] == [1, 2, None]
    assert out["candidates"][1]["warning"] and out["candidates"][2]["error"]["code"] == "no_face"
    assert snapshot(settings.home) == before  # nothing stored
    cli = run_json("headshot", "rank", person["id"], faces / OBAMA / "obama-720p.jpg", faces / BIDEN / "biden.jpg",
                   faces / "edge/flower.jpg", "--selfies", "3", code=3)
    for c in cli["candidates"]:
        c["file"] = Path(c["file"]).name
    assert out == cli


# ---------------------------------------------------------------- reminders


def seeded(settings: Settings, person_id: int, published: str) -> int:
    """A headshot without an image (as tests/dbseed.py): reminders need none."""
    from datetime import date

    from sqlmodel import Session

    from freshness.db import get_engine
    from freshness.models import Person
    from tests import dbseed

    with Session(get_engine(settings), expire_on_commit=False) as s:
        return dbseed.headshot(s, s.get(Person, person_id), date.fromisoformat(published)).id  # type: ignore[return-value]


def test_it_evaluates_acknowledges_and_snoozes_reminders(client: TestClient, settings: Settings, ada: tuple) -> None:
    person, h = ada
    head = seeded(settings, person["id"], "2025-06-01")
    assert client.get(f"{API}/reminders", params={"as_of": "2025-05-01"}, headers=h).json() == []  # before it
    now = client.get(f"{API}/reminders", headers=h).json()
    assert sorted((r["kind"], r["headshot"], r["state"]) for r in now) == [("disclosure_missing", head, "open"),
                                                                           ("refresh_due", head, "open")]
    assert now == run_json("reminders", person["id"])  # evaluating again changes nothing
    later = client.get(f"{API}/reminders", params={"as_of": "2027-07-01"}, headers=h).json()
    assert {"disclosure_missing", "refresh_overdue", "checkin_missed"} <= {r["kind"] for r in later}
    assert all(r["preview"] is True and r["as_of"] for r in later) and "preview" not in now[0]
    disclosure = next(r["id"] for r in now if r["kind"] == "disclosure_missing")
    assert [r["id"] for r in later if r["kind"] == "disclosure_missing"] == [disclosure]
    assert [r["id"] for r in later if r["kind"] == "checkin_missed"] == [None]  # not recorded

    due = next(r["id"] for r in now if r["kind"] == "refresh_due")
    r = client.post(f"{API}/reminders/{due}/ack", headers=h).json()
    assert (r["state"], r["changed"], r["acknowledged_at"]) == ("acknowledged", True, FROZEN_NOW.isoformat())
    assert client.post(f"{API}/reminders/{due}/ack", headers=h).json()["changed"] is False
    r = client.post(f"{API}/reminders/{due}/snooze", json={"until": "2027-02-01"}, headers=h).json()
    assert r["state"] == "snoozed" and r["snoozed_until"] == "2027-02-01T00:00:00+00:00"  # London, GMT
    assert "after the reminder opened" in error(
        client.post(f"{API}/reminders/{due}/snooze", json={"until": "2020-01-01"}, headers=h), 400, "usage")["message"]
    assert "YYYY-MM-DD" in error(client.post(f"{API}/reminders/{due}/snooze", json={"until": "soon"}, headers=h),
                                 400, "usage")["message"]
    error(client.post(f"{API}/reminders/{due}/snooze", json={}, headers=h), 422, "invalid_request")
    assert "as_of" in error(client.get(f"{API}/reminders", params={"as_of": "tomorrow"}, headers=h), 400,
                            "usage")["message"]
    for far in ("0001-01-01", "9999-12-31T23:59"):  # dates the rules' arithmetic cannot reach: refused, not a 500
        for path in ("reminders", "status"):
            assert "from 1900 to 8999" in error(client.get(f"{API}/{path}", params={"as_of": far}, headers=h), 400,
                                                "usage")["message"]


# ---------------------------------------------------------------- me, tokens, channels, notifications


def test_it_shows_and_changes_the_persons_settings(client: TestClient, settings: Settings, ada: tuple) -> None:
    person, h = ada
    me = client.get(f"{API}/me", headers=h).json()
    assert me == {k: v for k, v in person.items() if k != "token"}
    r = client.patch(f"{API}/me", headers=h, json={
        "prompt_hour": 7, "checkin_every_days": 14, "timezone": "Europe/Berlin", "sector": "healthcare",
        "policy": {"refresh_due_months": 18}, "notify_resolved": True, "email": "ada@example.org"})
    assert r.status_code == 200, r.text
    me = r.json()
    assert (me["prompt_hour"], me["checkin_every_days"], me["timezone"], me["sector"]) == (7, 14, "Europe/Berlin",
                                                                                          "healthcare")
    assert me["policy_overrides"] == {"refresh_due_months": 18} and me["notify_resolved"] is True
    assert me["next_prompt_at"].endswith("06:00:00+00:00")  # 07:00 in Berlin (CET)
    assert me == {k: v for k, v in run_json("person", "set", person["id"]).items()}  # as `person set --json`
    assert [c["target"] for c in client.get(f"{API}/channels", headers=h).json()] == ["ada@example.org"]

    before = snapshot(settings.home)
    for change, word in [({"timezone": "Mars/Olympus"}, "time zone"), ({"prompt_hour": 24}, "0 to 23"),
                         ({"checkin_every_days": 0}, "between 1 and 365"), ({"sector": "piracy"}, "sector"),
                         ({"policy": {"no_such_rule": 1}}, "no_such_rule"), ({"email": "nope"}, "e-mail"),
                         ({"notify_resolved": False, "prompt_hour": -1}, "0 to 23")]:
        assert word in error(client.patch(f"{API}/me", json=change, headers=h), 400, "usage")["message"], change
    error(client.patch(f"{API}/me", json={"colour": "blue"}, headers=h), 422, "invalid_request")
    error(client.patch(f"{API}/me", content=b"{not json", headers={**h, "content-type": "application/json"}),
          422, "invalid_request")
    assert snapshot(settings.home) == before  # nothing half-written
    r = client.patch(f"{API}/me", json={"reset_policy": True}, headers=h)
    assert r.json()["policy_overrides"] == {}


@pytest.mark.faces
def test_it_deletes_everything_only_when_confirmed(client: TestClient, settings: Settings, faces: Path, ada: tuple) -> None:
    person, h = ada
    bob, bob_h = add_person(client, "Bob")
    post_headshot(client, h, faces, f"{OBAMA}/obama.jpg", published="2025-06-01")
    post_checkin(client, h, [photo(faces, f"{OBAMA}/obama2.jpg")])
    before = snapshot(settings.home)
    assert "Ada Lovelace" in error(client.request("DELETE", f"{API}/me", json={"confirm": "yes"}, headers=h),
                                   400, "usage")["message"]
    error(client.request("DELETE", f"{API}/me", headers=h), 422, "invalid_request")
    assert snapshot(settings.home) == before
    r = client.request("DELETE", f"{API}/me", json={"confirm": "Ada Lovelace"}, headers=h)
    assert r.json() == {"person": {"id": person["id"], "name": "Ada Lovelace"}, "headshots": 1, "checkins": 1,
                        "files": 3}
    error(client.get(f"{API}/me", headers=h), 401, "unauthorized")
    after = snapshot(settings.home)
    assert after["files"] == [] and [p[1] for p in after["rows"]["person"]] == ["Bob"]
    assert client.get(f"{API}/me", headers=bob_h).json()["name"] == "Bob"


def test_it_makes_lists_and_revokes_tokens(client: TestClient, ada: tuple) -> None:
    _, h = ada
    r = client.post(f"{API}/tokens", json={"label": " phone "}, headers=h)
    assert r.status_code == 201
    made = r.json()
    assert made["label"] == "phone" and made["token"].startswith("fr_") and made["revoked_at"] is None
    assert client.get(f"{API}/me", headers=bearer(made["token"])).status_code == 200
    unnamed = client.post(f"{API}/tokens", headers=h).json()
    assert unnamed["label"] is None
    listed = client.get(f"{API}/tokens", headers=h).json()
    assert [t["label"] for t in listed] == ["created with the person", "phone", None]
    assert all("token" not in t for t in listed)
    assert client.delete(f"{API}/tokens/{made['id']}", headers=h).json()["revoked_at"] == FROZEN_NOW.isoformat()
    error(client.get(f"{API}/me", headers=bearer(made["token"])), 401, "unauthorized")
    assert "100" in error(client.post(f"{API}/tokens", json={"label": "x" * 101}, headers=h), 400, "usage")["message"]


def test_it_manages_channels_and_shows_the_delivery_log(client: TestClient, ada: tuple, receiver) -> None:
    _, h = ada
    r = client.post(f"{API}/channels", json={"kind": "webhook", "target": receiver.url("/hook?key=secret")}, headers=h)
    assert r.status_code == 201
    hook = r.json()
    assert hook["secret"].startswith("whsec_") and hook["target"].endswith("/hook?key=****")
    assert hook["warnings"] == []  # loopback: plain http is fine
    error(client.post(f"{API}/channels", json={"kind": "webhook", "target": receiver.url("/hook?key=secret")},
                      headers=h), 400, "usage")  # already there
    error(client.post(f"{API}/channels", json={"kind": "pigeon", "target": "x"}, headers=h), 422, "invalid_request")
    assert "e-mail" in error(client.post(f"{API}/channels", json={"kind": "email", "target": "nope"}, headers=h),
                             400, "usage")["message"]
    listed = client.get(f"{API}/channels", headers=h).json()
    assert [c["id"] for c in listed] == [hook["id"]] and "secret" not in listed[0]

    sent = client.post(f"{API}/channels/{hook['id']}/test", headers=h).json()
    assert sent["sent"] is True and sent["delivery"]["status"] == "sent" and sent["channel_disabled"] is False
    assert receiver.of_type("channel.test")[0]["data"]["channel"]["id"] == hook["id"]
    receiver.answers = [410]
    gone = client.post(f"{API}/channels/{hook['id']}/test", headers=h).json()
    assert gone["sent"] is False and gone["channel_disabled"] is True and "410" in gone["delivery"]["last_error"]
    assert "disabled" in error(client.post(f"{API}/channels/{hook['id']}/test", headers=h), 400, "usage")["message"]
    enabled = client.post(f"{API}/channels/{hook['id']}/enable", headers=h).json()
    assert enabled["changed"] is True and enabled["enabled"] is True
    assert client.post(f"{API}/channels/{hook['id']}/enable", headers=h).json()["changed"] is False

    log = client.get(f"{API}/notifications", headers=h)
    notes = log.json()
    assert [n["kind"] for n in notes] == ["test", "test"] and "link" not in log.headers
    assert notes[0]["deliveries"][0]["status"] == "dead" and notes[1]["deliveries"][0]["status"] == "sent"
    page = client.get(f"{API}/notifications", params={"limit": 1}, headers=h)
    assert [n["id"] for n in page.json()] == [notes[0]["id"]]
    nxt = re.fullmatch(r"<(.+)>; rel=\"next\"", page.headers["link"]).group(1)
    assert [n["id"] for n in client.get(nxt, headers=h).json()] == [notes[1]["id"]]
    error(client.get(f"{API}/notifications", params={"limit": 0}, headers=h), 422, "invalid_request")

    removed = client.delete(f"{API}/channels/{hook['id']}", headers=h).json()
    assert removed["id"] == hook["id"] and removed["cancelled"] == 0
    assert client.get(f"{API}/channels", headers=h).json() == []


def test_it_makes_and_revokes_the_calendar_feed(client: TestClient, ada: tuple) -> None:
    _, h = ada
    first = client.post(f"{API}/me/calendar", headers=h).json()
    assert first["url"].startswith("http://127.0.0.1:8000/calendar/frcal_") and first["revoked"] is False
    feed = first["url"].removeprefix("http://127.0.0.1:8000")
    assert client.get(feed).status_code == 200
    second = client.post(f"{API}/me/calendar", headers=h).json()
    assert second["revoked"] is True and client.get(feed).status_code == 404
    assert client.delete(f"{API}/me/calendar", headers=h).json() == {**second, "url": None, "revoked": True}
    assert client.delete(f"{API}/me/calendar", headers=h).json()["revoked"] is False


# ---------------------------------------------------------------- admin


def test_the_admin_registers_and_pages_through_persons(client: TestClient, settings: Settings) -> None:
    consent = error(client.post(f"{API}/persons", json={"name": "Ada"}, headers=ADMIN_HEADERS), 400, "consent")
    assert "biometric" in consent["message"]
    made = [add_person(client, name)[0] for name in ("Ada", "Bob", "Cy")]
    assert made[0]["checkin_every_days"] == settings.default_checkin_every_days and made[0]["prompt_hour"] == 9
    error(client.post(f"{API}/persons", json={"name": "ada", "consent": True}, headers=ADMIN_HEADERS), 400, "usage")
    error(client.post(f"{API}/persons", json={"name": "Dee", "consent": True, "timezone": "Nowhere"},
                      headers=ADMIN_HEADERS), 400, "usage")
    error(client.post(f"{API}/persons", json={"consent": True}, headers=ADMIN_HEADERS), 422, "invalid_request")
    page = client.get(f"{API}/persons", params={"limit": 2}, headers=ADMIN_HEADERS)
    assert [p["name"] for p in page.json()] == ["Ada", "Bob"] and all("token" not in p for p in page.json())
    nxt = re.fullmatch(r"<(.+)>; rel=\"next\"", page.headers["link"]).group(1)
    last = client.get(nxt, headers=ADMIN_HEADERS)
    assert [p["name"] for p in last.json()] == ["Cy"] and "link" not in last.headers
    assert client.get(f"{API}/persons", headers=ADMIN_HEADERS).json() == run_json("person", "list")
    error(client.get(f"{API}/persons", headers=bearer(ADMIN + "x")), 401, "unauthorized")


def test_unknown_paths_and_methods_answer_json_errors(client: TestClient, ada: tuple) -> None:
    _, h = ada
    error(client.get(f"{API}/nothing-here", headers=h), 404, "not_found")
    error(client.put(f"{API}/me", headers=h), 405, "method_not_allowed")
    error(client.get(f"{API}/headshots/abc", headers=h), 422, "invalid_request")
    error(client.get(f"{API}/headshots/{2**70}", headers=h), 404, "not_found")
    error(client.get(f"{API}/history", params={"format": "xml"}, headers=h), 422, "invalid_request")
    # a misspelt parameter is refused, not ignored (the answer would be about another time than asked)
    body = error(client.get(f"{API}/status", params={"asof": "2026-01-01"}, headers=h), 422, "invalid_request")
    assert body["message"] == "unknown query parameter 'asof': this route takes as_of"
    assert "takes none" in error(client.get(f"{API}/me?x=1", headers=h), 422, "invalid_request")["message"]
    # JSON bodies are strict: 0 is not false, "7" is not 7
    error(client.patch(f"{API}/me", json={"notify_resolved": 0}, headers=h), 422, "invalid_request")
    error(client.patch(f"{API}/me", json={"prompt_hour": "7"}, headers=h), 422, "invalid_request")


# ---------------------------------------------------------------- the README's curl examples


README_FILES = {"ada-ai-headshot.jpg": f"{OBAMA}/obama.jpg", "selfie1.jpg": f"{OBAMA}/obama1.jpg",
                "selfie2.jpg": f"{OBAMA}/obama2.jpg"}


def readme_curl_examples() -> list[str]:
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("curl ")]


@pytest.mark.faces
def test_every_curl_example_in_the_readme_works(client: TestClient, faces: Path) -> None:
    import shlex

    _, h = add_person(client, "Ada Lovelace")
    token = h["Authorization"].split()[1]
    examples = readme_curl_examples()
    assert len(examples) >= 8
    for line in examples:
        args = shlex.split(line.replace("$TOKEN", token).replace("$FRESHNESS_ADMIN_TOKEN", ADMIN))
        method, headers, files, data, content, url, out = None, {}, [], {}, None, None, None
        it = iter(args[1:])
        for arg in it:
            if arg == "-X":
                method = next(it)
            elif arg == "-H":
                name, _, value = next(it).partition(": ")
                headers[name] = value
            elif arg == "-F":
                name, _, value = next(it).partition("=")
                if value.startswith("@"):
                    files.append((name, photo(faces, README_FILES[value[1:]])))
                else:
                    data[name] = value
            elif arg == "-d":
                content = next(it).encode()
            elif arg == "-o":
                out = next(it)
            else:
                url = arg
        assert url.startswith("http://127.0.0.1:8000/api/v1/"), line
        client.get(f"{API}/reminders", headers=h)  # reminders are recorded, as the sweep would have
        r = client.request(method or ("POST" if files or data or content else "GET"),
                           url.removeprefix("http://127.0.0.1:8000"), headers=headers, files=files or None,
                           data=data or None, content=content)
        assert 200 <= r.status_code < 300, (line, r.status_code, r.text)
        if out is not None:
            jpeg_size(r.content)
        elif "format=csv" in url:
            assert r.text.startswith("checkin_id,taken_at")
        elif "/checkins" in url:
            assert r.json()["accepted"] == 2, r.text


# ---------------------------------------------------------------- the CLI's token commands


def test_the_cli_makes_lists_and_revokes_tokens_that_open_the_api(client: TestClient, ada: tuple) -> None:
    person, h = ada
    out = run("token", "create", "Ada Lovelace", "--label", "laptop").stdout
    token = re.search(r"^(fr_\S+)$", out, flags=re.M).group(1)
    assert "API token #2 for Ada Lovelace (laptop), shown once" in out
    assert client.get(f"{API}/me", headers=bearer(token)).json()["id"] == person["id"]
    made = run_json("token", "create", str(person["id"]))
    assert made["label"] is None and made["token"].startswith("fr_") and made["person"]["id"] == person["id"]
    listed = run("token", "list", "Ada Lovelace").stdout
    assert "laptop" in listed and token not in listed and "active" in listed
    assert [t["id"] for t in run_json("token", "list", "Ada Lovelace")] == [1, 2, 3]
    assert "revoked API token #2 (laptop) of Ada Lovelace" in run("token", "revoke", "2").stdout
    assert "already revoked" in run("token", "revoke", "2").stdout
    error(client.get(f"{API}/me", headers=bearer(token)), 401, "unauthorized")
    assert "no API token with id 9" in run("token", "revoke", "9", code=2).stderr
    assert "label must be at most 100" in run("token", "create", "1", "--label", "x" * 101, code=2).stderr


# ---------------------------------------------------------------- the upload limit, while the body streams in


SMALL = 100_000  # FRESHNESS_MAX_UPLOAD_BYTES for these tests


def asgi_call(app, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]) -> tuple[int, dict, int]:
    """Call the ASGI app directly; the body comes from ``chunks``, pulled one per receive().
    Returns (status, JSON body, how many chunks were pulled)."""
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        try:
            chunk = next(chunks)
        except StopIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def multipart_stream(boundary: str, total: int, chunk: int = 16384) -> Iterator[bytes]:
    """A multipart body with one huge 'image' part, produced lazily."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.jpg\"\r\n"
           f"Content-Type: image/jpeg\r\n\r\n").encode()
    for _ in range(total // chunk):
        yield b"\xff" * chunk


@pytest.mark.parametrize("path,limit", [(f"{API}/headshots", SMALL + FORM_OVERHEAD),
                                        (f"{API}/checkins", MAX_FILES * SMALL + FORM_OVERHEAD),
                                        (f"{API}/me", 1024 * 1024)])
def test_a_body_past_its_limit_is_refused_while_it_streams_in(home: Path, path: str, limit: int, ada_token) -> None:
    app, token = ada_token
    boundary = "b0undary"
    total = 50 * limit  # far more than the limit: the app must stop pulling long before the end
    status, body, pulled = asgi_call(
        app, "POST" if path != f"{API}/me" else "PATCH", path,
        [(b"authorization", f"Bearer {token}".encode()),
         (b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
        multipart_stream(boundary, total))
    assert status == 413 and body["code"] == "too_large", body
    assert "larger than this request's limit" in body["message"]
    assert limit / 16384 <= pulled <= limit / 16384 + 3  # stopped right after the limit, of 50x as much


def test_a_body_announced_too_large_is_refused_before_a_byte_is_read(home: Path, ada_token) -> None:
    app, token = ada_token
    status, body, pulled = asgi_call(
        app, "POST", f"{API}/headshots",
        [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"multipart/form-data; boundary=x"),
         (b"content-length", str(10**12).encode())],
        iter([b"x" * 1000] * 10))
    assert (status, body["code"], pulled) == (413, "too_large", 0)
    assert "953674.3 MB" in body["message"] and "98 KB each" in body["message"]


@pytest.fixture
def ada_token(settings_overrides: dict, home: Path) -> tuple[Any, str]:
    from freshness import migrate

    settings = Settings(admin_token=ADMIN, max_upload_bytes=SMALL)
    migrate.upgrade(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        _, h = add_person(client, "Ada")
    return app, h["Authorization"].split()[1]


@pytest.mark.faces
def test_an_image_over_the_file_limit_within_the_body_limit_is_refused_on_its_own(
    home: Path, faces: Path, ada_token
) -> None:
    app, token = ada_token
    big = (faces / OBAMA / "obama-1080p.jpg").read_bytes()
    assert len(big) > SMALL
    with TestClient(app) as client:
        out = post_checkin(client, bearer(token), [("big.jpg", big, "image/jpeg"), ("small.jpg", b"tiny", "image/jpeg")])
    assert [r["error"]["code"] for r in out.json()["results"]] == ["too_large", "unsupported_format"]


class Server:
    """The app under a real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def server(ada_token) -> Iterator[tuple[Server, str]]:
    """The app of ``ada_token`` (small upload limit) under uvicorn."""
    app, token = ada_token
    s = Server(app)
    yield s, token
    s.stop()


@pytest.fixture
def served(client: TestClient, ada: tuple) -> Iterator[tuple[Server, str]]:
    """The app of ``client`` (default limits) under uvicorn, with Ada's token."""
    s = Server(client.app)
    yield s, ada[1]["Authorization"].split()[1]
    s.stop()


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (headers and its Content-Length of body), within 10 s."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
            re.search(rb"(?i)content-length: *(\d+)", data.partition(b"\r\n\r\n")[0]).group(1)):
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def test_a_real_server_answers_413_before_the_client_has_sent_the_body(server) -> None:
    srv, token = server
    limit = SMALL + FORM_OVERHEAD
    chunk = b"\xff" * 16384
    planned = 40 * limit
    sent = 0
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall((f"POST {API}/headshots HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary=b0undary\r\nTransfer-Encoding: chunked\r\n\r\n"
                      ).encode())
        head = next(multipart_stream("b0undary", 0))  # a well-formed part that never ends
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        while sent < planned:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
            if sent > limit + 2 * len(chunk):
                break  # past the limit: the answer must come without our sending the rest
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b'"code":"too_large"' in response
    assert sent < planned / 10  # answered when a little over the limit had been sent, of 40x as much


# ---------------------------------------------------------------- CPU work off the event loop


@pytest.mark.faces
def test_other_requests_are_answered_while_a_checkin_is_analysed(served, faces: Path, monkeypatch) -> None:
    from freshness import parallel

    srv, token = served
    inside, release = threading.Event(), threading.Event()
    threads: list[str] = []
    real = parallel.analyse_selfie  # what a check-in of one image runs (in the calling thread)

    def slow_analyze(*args: Any, **kwargs: Any):
        threads.append(threading.current_thread().name)
        inside.set()
        assert release.wait(30), "the test never released the analysis"
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "analyse_selfie", slow_analyze)
    result: dict[str, Any] = {}

    def check_in() -> None:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            result["response"] = c.post(f"{API}/checkins", headers=bearer(token),
                                        files=[("images", photo(faces, f"{OBAMA}/obama2.jpg"))])

    worker = threading.Thread(target=check_in)
    worker.start()
    try:
        assert inside.wait(30), "the check-in never reached the analysis"
        with httpx.Client(base_url=srv.url, timeout=5) as c:
            for path, headers in (("/healthz", {}), (f"{API}/me", bearer(token)), (f"{API}/status", bearer(token))):
                started = time.monotonic()
                r = c.get(path, headers=headers)
                assert r.status_code == 200 and time.monotonic() - started < 2, (path, r.status_code)
        assert not result  # the check-in is still being analysed meanwhile
    finally:
        release.set()
        worker.join(60)
    assert result["response"].status_code == 200 and result["response"].json()["accepted"] == 1
    assert threads and threads[0] != srv.thread.name  # analysed in a worker thread, not the server's loop


# ---------------------------------------------------------------- /docs offline


def test_the_docs_load_everything_from_the_app_itself(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "http://" not in html and "https://" not in html and "//cdn" not in html, page
        refs = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'|spec-url=["']([^"']+)["']""", html)
        urls = {u for group in refs for u in group if u}
        assert urls, page
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), (page, url)
            r = client.get(url)
            assert r.status_code == 200 and len(r.content) > 1000, (page, url, r.status_code)
    assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")  # the bundled Swagger UI is a 5.x: it reads OpenAPI 3.1
    assert {f"{API}/status", f"{API}/checkins", f"{API}/persons", f"{API}/me"} <= set(schema["paths"])
    assert client.get("/docs/oauth2-redirect").status_code == 200
