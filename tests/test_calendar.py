"""The calendar feed through the real app (FastAPI's TestClient), parsed back with icalendar;
its address made, rotated and revoked with `freshness person calendar`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import Session

from tests.clitools import run, run_json, snapshot
from tests.conftest import FROZEN_NOW

ADA = "Ada Lovelace"
BERLIN = ZoneInfo("Europe/Berlin")


def _session() -> Session:
    from freshness.config import get_settings
    from freshness.db import get_engine

    return Session(get_engine(get_settings()), expire_on_commit=False)


@pytest.fixture
def ada(ready: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ada (Berlin) with a LinkedIn headshot published 2025-03-01, a résumé one published
    2026-06-15 and a retired one."""
    from freshness.models import Person
    from tests import dbseed

    monkeypatch.setenv("FRESHNESS_BASE_URL", "https://fresh.example.org/")
    from freshness.config import reset_settings_cache

    reset_settings_cache()
    run("person", "add", ADA, "--consent", "--timezone", "Europe/Berlin")
    with _session() as s:
        person = s.get(Person, 1)
        dbseed.headshot(s, person, date(2025, 3, 1), platform="linkedin")
        dbseed.headshot(s, person, date(2026, 6, 15), platform="resume")
        old = dbseed.headshot(s, person, date(2023, 1, 1), platform="website")
        old.retired_at = FROZEN_NOW - timedelta(days=10)
        s.add(old)
        s.commit()
    return ready


@pytest.fixture
def client(ada: Path) -> TestClient:
    from freshness.web import create_app

    return TestClient(create_app())


def _feed_path() -> str:
    url = run_json("person", "calendar", ADA)["url"]
    assert url.startswith("https://fresh.example.org/calendar/frcal_") and url.endswith(".ics")
    return urlsplit(url).path


def _events(body: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_feed_has_refresh_dates_and_the_next_checkin(client: TestClient) -> None:
    response = client.get(_feed_path())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(response.content)
    assert str(cal["X-WR-CALNAME"]) == "freshness: Ada Lovelace"
    assert str(cal["VERSION"]) == "2.0"
    events = _events(response.content)
    assert sorted(events) == [
        "headshot-1-refresh-due@fresh.example.org", "headshot-1-refresh-overdue@fresh.example.org",
        "headshot-2-refresh-due@fresh.example.org", "headshot-2-refresh-overdue@fresh.example.org",
        "person-1-next-checkin@fresh.example.org",
    ]  # the retired headshot (#3) has none

    due = events["headshot-1-refresh-due@fresh.example.org"]
    assert str(due["SUMMARY"]) == "Refresh your LinkedIn headshot (due)"
    assert due.decoded("DTSTART") == date(2026, 3, 1) and due.decoded("DTEND") == date(2026, 3, 2)  # all day
    description = str(due["DESCRIPTION"])
    assert description.startswith("Your LinkedIn headshot was published on 2025-03-01. Headshots should be renewed "
                                  "12-24 months after publication")
    assert "On 2026-03-01 it is 12 months old and due for a refresh; from 2027-03-01 it is overdue." in description
    assert description.endswith("\n\nOpen freshness: https://fresh.example.org/me")
    overdue = events["headshot-1-refresh-overdue@fresh.example.org"]
    assert str(overdue["SUMMARY"]) == "Refresh your LinkedIn headshot (overdue)"
    assert overdue.decoded("DTSTART") == date(2027, 3, 1)
    resume = events["headshot-2-refresh-due@fresh.example.org"]
    assert (str(resume["SUMMARY"]), resume.decoded("DTSTART")) == ("Refresh your résumé headshot (due)",
                                                                   date(2027, 6, 15))

    checkin = events["person-1-next-checkin@fresh.example.org"]
    assert str(checkin["SUMMARY"]) == "Take your check-in selfie"
    start = checkin.decoded("DTSTART")
    # Ada joined at FROZEN_NOW and checks in every 30 days: 2026-12-28 at 09:00 in Berlin
    assert start == datetime(2026, 12, 28, 9, 0, tzinfo=BERLIN)
    assert checkin["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert checkin.decoded("DTEND") - start == timedelta(minutes=15)
    assert "https://fresh.example.org/me/checkin" in str(checkin["DESCRIPTION"])
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    for event in events.values():
        assert event.decoded("DTSTAMP") == FROZEN_NOW


def test_uids_are_stable_and_dates_follow_the_data(client: TestClient) -> None:
    path = _feed_path()
    first = _events(client.get(path).content)
    second = _events(client.get(path).content)
    assert list(first) == list(second)
    assert {uid: e.decoded("DTSTART") for uid, e in first.items()} == \
        {uid: e.decoded("DTSTART") for uid, e in second.items()}

    # the person's own refresh window moves the dates, not the events
    run("person", "set", ADA, "--policy", "refresh_due_months=18", "--policy", "refresh_overdue_months=30")
    moved = _events(client.get(path).content)
    assert list(moved) == list(first)
    assert moved["headshot-1-refresh-due@fresh.example.org"].decoded("DTSTART") == date(2026, 9, 1)
    assert moved["headshot-1-refresh-overdue@fresh.example.org"].decoded("DTSTART") == date(2027, 9, 1)
    run("person", "set", ADA, "--prompt-hour", "18")
    assert _events(client.get(path).content)["person-1-next-checkin@fresh.example.org"].decoded("DTSTART") == \
        datetime(2026, 12, 28, 18, 0, tzinfo=BERLIN)


def test_a_person_in_utc_gets_times_in_utc(ready: Path) -> None:
    from freshness.web import create_app

    run("person", "add", "Grace Hopper", "--consent")
    path = urlsplit(run_json("person", "calendar", "Grace Hopper")["url"]).path
    body = TestClient(create_app()).get(path).content
    [event] = Calendar.from_ical(body).walk("VEVENT")  # no headshot yet: only the check-in
    assert event.decoded("DTSTART") == datetime(2026, 12, 28, 9, 0, tzinfo=timezone.utc)


def test_rotating_revokes_the_old_address_and_nothing_is_revealed(client: TestClient) -> None:
    old = _feed_path()
    assert client.get(old).status_code == 200
    unknown_route = client.get("/no/such/page")
    rotated = run_json("person", "calendar", ADA, "--rotate")
    assert rotated["revoked"] is True and rotated["person"] == {"id": 1, "name": ADA}
    new = urlsplit(rotated["url"]).path
    assert new != old
    gone = client.get(old)
    assert (gone.status_code, gone.json()) == (404, {"code": "not_found", "message": "Not Found"})
    assert gone.content == unknown_route.content and gone.headers["content-type"] == "application/json"
    assert client.get(new).status_code == 200
    head = client.head(new)
    assert (head.status_code, head.headers["content-type"]) == (200, "text/calendar; charset=utf-8")
    assert client.head(old).status_code == 404

    wrong = new[:-10] + ("A" if new[-10] != "A" else "B") + new[-9:]
    for path in (wrong, "/calendar/frcal_.ics", "/calendar/not-a-token.ics", "/calendar/" + "x" * 500 + ".ics",
                 new.removesuffix(".ics"), new.removesuffix(".ics") + ".ical"):
        response = client.get(path)
        assert (response.status_code, response.content) == (404, unknown_route.content), path

    out = run("person", "calendar", ADA, "--revoke").stdout
    assert out == "calendar feed of Ada Lovelace (#1) revoked: its address answers 404 now\n"
    assert client.get(new).status_code == 404
    assert run("person", "calendar", ADA, "--revoke").stdout == \
        "Ada Lovelace (#1) has no calendar feed: nothing to revoke\n"
    assert run("person", "calendar", ADA).stdout.splitlines()[1].startswith("https://fresh.example.org/calendar/")


def test_the_address_is_shown_once_and_only_its_hash_is_stored(ada: Path) -> None:
    from freshness.models import Person
    from freshness.people import hash_token

    out = run("person", "calendar", ADA).stdout.splitlines()
    assert out[0] == ("calendar feed of Ada Lovelace (#1), shown once (anyone with this address can read the dates "
                      "in it; --rotate makes a new one):")
    token = out[1].removeprefix("https://fresh.example.org/calendar/").removesuffix(".ics")
    with _session() as s:
        assert s.get(Person, 1).calendar_token_sha256 == hash_token(token)
    assert token.encode() not in (ada / "freshness.db").read_bytes()

    before = snapshot(ada)
    refused = run("person", "calendar", ADA, code=2)
    assert refused.stderr == (
        "error: Ada Lovelace already has a calendar feed; its address was shown once, when it was made, and is not "
        "stored. For a new address (the old one stops working) run: freshness person calendar 1 --rotate\n")
    assert run("person", "calendar", ADA, "--rotate", "--revoke", code=2).stderr == \
        "error: choose one of --rotate and --revoke\n"
    assert run("person", "calendar", "Grace", code=2).stderr == \
        "error: no person named 'Grace' (see `freshness person list`)\n"
    assert snapshot(ada) == before
