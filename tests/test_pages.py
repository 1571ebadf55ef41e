"""The web pages through the real app (FastAPI's TestClient): sign-in with a token and with a
one-time link, CSRF on every form, sign-out, every page with and without data, the security
headers, HTML errors for the pages and JSON errors for the API, and isolation between people."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from freshness import words
from tests.clitools import run, run_json, snapshot
from tests.conftest import FROZEN_NOW

ADA, BOB = "Ada Lovelace", "Bob Babbage"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def _session() -> Session:
    from freshness.config import get_settings
    from freshness.db import get_engine

    return Session(get_engine(get_settings()), expire_on_commit=False)


def _app():
    from freshness.web import create_app

    return create_app()


@pytest.fixture
def people(ready: Path) -> dict[str, str]:
    """Ada (London) and Bob, each with their API token."""
    ada = run_json("person", "add", ADA, "--consent", "--timezone", "Europe/London", "--sector", "finance")
    bob = run_json("person", "add", BOB, "--consent")
    return {ADA: ada["token"], BOB: bob["token"]}


def _seed_ada(with_reminder: bool = True) -> None:
    """Ada's LinkedIn headshot (published 2025-03-01: due for a refresh) and three check-ins."""
    from freshness.models import Person
    from tests import dbseed

    with _session() as s:
        ada = s.get(Person, 1)
        h = dbseed.headshot(s, ada, date(2025, 3, 1), platform="linkedin", disclosed=True)
        for i, d in enumerate([0.38, 0.44, 0.47]):
            dbseed.checkin(s, ada, datetime(2026, 9 + i, 1, 10, tzinfo=timezone.utc), {h.id: d})
        ada.next_checkin_due = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
        s.add(ada)
        s.commit()


def _csrf(page_html: str) -> str:
    found = CSRF.search(page_html)
    assert found, page_html[:500]
    return html.unescape(found.group(1))


def _text(page_html: str) -> str:
    """The page's text, whitespace collapsed and entities decoded (to compare with the CLI's words)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


def signed_in(client: TestClient, token: str) -> TestClient:
    page = client.get("/signin")
    r = client.post("/signin", data={"token": token, "csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me", (r.status_code, r.text[:300])
    return client


@pytest.fixture
def ada(people: dict[str, str]) -> TestClient:
    return signed_in(TestClient(_app()), people[ADA])


# ---------------------------------------------------------------- sign-in, sign-out


def test_it_signs_in_with_a_token_and_out_again(people: dict[str, str]) -> None:
    client = TestClient(_app())
    assert client.get("/", follow_redirects=False).headers["location"] == "/signin"
    r = client.get("/me/history", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/me/history"

    page = client.get("/signin?next=/me/history")
    assert page.status_code == 200 and 'name="next" value="/me/history"' in page.text
    token_csrf = _csrf(page.text)
    wrong = client.post("/signin", data={"token": people[ADA][:-1] + "x", "csrf": token_csrf}, follow_redirects=False)
    assert wrong.status_code == 401 and html.escape(words.SIGNIN_BAD_TOKEN, quote=False) in wrong.text.replace("&#39;", "'")
    assert "freshness_session" not in wrong.headers.get("set-cookie", "")

    r = client.post("/signin", data={"token": people[ADA], "csrf": token_csrf, "next": "/me/history"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me/history"
    cookie = [c for c in r.headers.get_list("set-cookie") if c.startswith("freshness_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http here
    assert f"Max-Age={30 * 86400}" in cookie
    assert client.get("/", follow_redirects=False).headers["location"] == "/me"
    me = client.get("/me")
    assert me.status_code == 200 and ADA in me.text

    out = client.post("/signout", data={"csrf": _csrf(me.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin?done=signed-out"
    assert client.get("/me", follow_redirects=False).status_code == 303
    assert words.SIGNED_OUT in client.get("/signin?done=signed-out").text


def test_it_never_redirects_elsewhere_after_sign_in(people: dict[str, str]) -> None:
    client = TestClient(_app())
    for evil in ("https://evil.example/me", "//evil.example/me", "/me\\@evil", "/signout"):
        page = client.get("/signin", params={"next": evil})
        r = client.post("/signin", data={"token": people[ADA], "csrf": _csrf(page.text), "next": evil},
                        follow_redirects=False)
        assert r.headers["location"] == "/me", evil


def test_the_session_cookie_is_secure_over_https(people: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(_app(), base_url="https://testserver")
    page = client.get("/signin")
    r = client.post("/signin", data={"token": people[ADA], "csrf": _csrf(page.text)}, follow_redirects=False)
    assert "Secure" in [c for c in r.headers.get_list("set-cookie") if c.startswith("freshness_session=")][0]
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    # served over plain http behind a proxy, but published at an https address: Secure too
    monkeypatch.setenv("FRESHNESS_BASE_URL", "https://fresh.example.org")
    from freshness.config import reset_settings_cache

    reset_settings_cache()
    client = TestClient(_app())
    page = client.get("/signin")
    r = client.post("/signin", data={"token": people[ADA], "csrf": _csrf(page.text)}, follow_redirects=False)
    assert "Secure" in [c for c in r.headers.get_list("set-cookie") if c.startswith("freshness_session=")][0]


def test_a_sign_in_link_opens_one_session_once(people: dict[str, str], clock) -> None:
    out = run("person", "link", ADA).stdout
    assert "one-time sign-in link for Ada Lovelace (#1), valid for 60 minutes (until 2026-11-28 16:30 GMT)" in out
    url = out.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:8000/signin/frlink_")
    path = url.removeprefix("http://127.0.0.1:8000")

    client = TestClient(_app())
    page = client.get(path)  # a link previewer that only GETs spends nothing
    assert page.status_code == 200 and client.get(path).status_code == 200
    r = client.post(path, data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    assert ADA in client.get("/me").text

    other = TestClient(_app())
    again = other.get(path)
    assert again.status_code == 410 and "already used" in again.text
    r = other.post(path, data={"csrf": _csrf(other.get("/signin").text)}, follow_redirects=False)
    assert r.status_code == 410 and other.get("/me", follow_redirects=False).status_code == 303


def test_a_sign_in_link_expires(people: dict[str, str], clock) -> None:
    link = run_json("person", "link", BOB)
    assert link["expires_at"] == (FROZEN_NOW + timedelta(minutes=60)).isoformat()
    path = "/signin/" + link["url"].rsplit("/", 1)[1]
    client = TestClient(_app())
    page = client.get(path)
    clock.set(FROZEN_NOW + timedelta(minutes=60))
    assert client.get(path).status_code == 410
    r = client.post(path, data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 410 and words.SIGNIN_LINK_SPENT.split(":")[0] in r.text
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_a_session_expires_after_session_days(ada: TestClient, clock) -> None:
    assert ada.get("/me", follow_redirects=False).status_code == 200
    clock.set(FROZEN_NOW + timedelta(days=30, seconds=1))
    assert ada.get("/me", follow_redirects=False).headers["location"] == "/signin"


# ---------------------------------------------------------------- CSRF


def _page_post_routes() -> list[str]:
    from freshness.web import pages

    return [r.path for r in pages.router.routes if "POST" in getattr(r, "methods", set())]


def test_every_form_post_without_a_valid_csrf_token_is_refused(ada: TestClient, people: dict[str, str],
                                                                ready: Path) -> None:
    _seed_ada()
    ada.get("/me")  # records the refresh reminder (#1)
    paths = _page_post_routes()
    assert {"/signin", "/signin/{token}", "/signout", "/me/checkin", "/me/reminders/{reminder_id}/ack",
            "/me/settings", "/me/delete"} <= set(paths)
    link = run_json("person", "link", ADA)["url"].rsplit("/", 1)[1]
    bob = signed_in(TestClient(_app()), people[BOB])
    bob_csrf = _csrf(bob.get("/me").text)  # a real token, of another session
    before = snapshot(ready)
    for path in paths:
        url = path.replace("{token}", link).replace("{reminder_id}", "1").replace("{token_id}", "1") \
            .replace("{headshot_id}", "1")
        for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": bob_csrf}):
            data = {**data, "confirm_name": ADA, "until": "2027-01-01", "token": people[ADA], "label": "x",
                    "checkin_every": "7"}
            r = ada.post(url, data=data, follow_redirects=False)
            assert r.status_code == 403, (url, data, r.status_code)
            assert "This form was not accepted" in r.text and words.CSRF_REFUSED in html.unescape(r.text)
    assert snapshot(ready) == before  # nothing changed, the link is not spent
    assert ada.get("/me").status_code == 200  # still signed in


# ---------------------------------------------------------------- the pages


def test_every_page_renders_for_a_person_without_data(ada: TestClient) -> None:
    me = _text(ada.get("/me").text)
    assert words.NO_HEADSHOT_WEB in me
    assert "Next check-in selfie due on 2026-12-28, in 30 days." in me
    checkin = ada.get("/me/checkin").text
    assert 'type="file" accept="image/*" capture="user" multiple' in checkin and 'enctype="multipart/form-data"' in checkin
    history = _text(ada.get("/me/history").text)
    assert "No check-ins yet" in history and "Download as CSV" not in history
    svg = ada.get("/me/history.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and b"No headshot to compare with yet" in svg.content
    rank = _text(ada.get("/me/rank").text)
    assert words.rank_needs_selfies(0, 3) in rank and "Register the headshot you publish" in rank
    settings = _text(ada.get("/me/settings").text)
    assert "privacy notice on 2026-11-28 15:30 GMT (version 2026-12)" in settings
    assert "Who can see it." in settings and "3 years (1095 days) after your last activity" in settings
    assert "Download my data" in settings and "withdraw your consent" in settings
    assert "email #1: " not in settings and "created with the person" in settings


def test_the_dashboard_says_what_the_cli_says(ada: TestClient) -> None:
    _seed_ada()
    page = ada.get("/me")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = _text(page.text)
    status_out = run("status", ADA).stdout
    verdict = status_out.splitlines()[0]
    assert verdict.startswith("Your LinkedIn headshot ") and verdict in text
    assert "published 2025-03-01 (637 days ago)" in text
    assert "due for a refresh since 2026-03-01; overdue in 93 days (2027-03-01)" in text
    assert "latest 0.47, good (2026-11-01 10:00 GMT)" in text and "0.44, good" in text
    assert "trend: not enough check-ins yet (6 over 150 days within 365 days needed)" in text
    assert "Next check-in selfie due on 2026-12-01, in 3 days." in text
    # the refresh reminder, recorded by the same evaluation as the sweep, with its buttons
    assert "Headshot due for a refresh open since 2026-03-01" in text
    assert 'action="/me/reminders/1/ack"' in page.text and 'action="/me/reminders/1/snooze"' in page.text
    listed = run("reminders", ADA).stdout
    assert "#1 Ada Lovelace headshot #1: Headshot due for a refresh (refresh_due) [open]" in listed
    message = listed.splitlines()[1].strip()
    assert message in text
    assert '<img class="thumb" src="/me/headshots/1/thumb.jpg"' in page.text and 'alt="Your LinkedIn headshot (#1)"' in page.text


def test_it_acknowledges_and_snoozes_a_reminder(ada: TestClient) -> None:
    _seed_ada()
    page = ada.get("/me")
    r = ada.post("/me/reminders/1/snooze", data={"csrf": _csrf(page.text), "until": "2026-12-24"},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me?done=snooze&r=1#reminder-1"
    text = _text(ada.get(r.headers["location"]).text)
    assert words.reminder_done("snooze", 1, "refresh_due", "2026-12-24") in text
    assert "snoozed until 2026-12-24" in text
    assert "[snoozed until 2026-12-24]" in run("reminders", ADA).stdout
    r = ada.post("/me/reminders/1/ack", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/me?done=ack&r=1#reminder-1"
    after = ada.get(r.headers["location"]).text
    assert words.reminder_done("ack", 1, "refresh_due") in _text(after)
    assert 'action="/me/reminders/1/ack"' not in after and "[acknowledged]" in run("reminders", ADA).stdout
    bad = ada.post("/me/reminders/1/snooze", data={"csrf": _csrf(page.text), "until": "someday"})
    assert bad.status_code == 400 and "cannot read the snooze date" in html.unescape(bad.text)


def test_another_persons_reminder_and_pictures_are_not_found(ada: TestClient, people: dict[str, str],
                                                              ready: Path) -> None:
    _seed_ada()
    ada.get("/me")
    bob = signed_in(TestClient(_app()), people[BOB])
    csrf = _csrf(bob.get("/me").text)
    before = snapshot(ready)
    for path, data in (("/me/reminders/1/ack", {}), ("/me/reminders/1/snooze", {"until": "2027-01-01"}),
                       ("/me/reminders/99/ack", {}), ("/me/tokens/1/revoke", {})):
        r = bob.post(path, data={"csrf": csrf, **data})
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert "Not found" in r.text and "Bob Babbage has no" in r.text
    for path in ("/me/headshots/1/thumb.jpg", "/me/checkins/1/thumb.jpg"):
        assert bob.get(path).status_code == 404
    assert "no-headshot" not in bob.get("/me/history.csv").text and bob.get("/me/history.csv").text == "checkin_id,taken_at\n"
    assert snapshot(ready) == before


def test_the_history_page_the_chart_and_the_csv(ada: TestClient, tmp_path: Path) -> None:
    _seed_ada()
    page = ada.get("/me/history")
    text = _text(page.text)
    assert "#1 linkedin" in text and "2026-09-01 11:00 BST" in text and "0.38, strong" in text
    for n in (1, 2, 3):
        assert f'src="/me/checkins/{n}/thumb.jpg"' in page.text
    assert 'src="/me/history.svg?v=3"' in page.text and 'href="/me/history.csv"' in page.text
    svg = ada.get("/me/history.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
    run("history", ADA, "--plot", tmp_path / "cli.svg")
    assert svg.content == (tmp_path / "cli.svg").read_bytes()  # the same drawing as the CLI's
    csv = ada.get("/me/history.csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="freshness-history.csv"'
    assert csv.text == run("history", ADA, "--csv").stdout


def test_it_saves_settings_and_rule_settings(ada: TestClient) -> None:
    page = ada.get("/me/settings")
    csrf = _csrf(page.text)
    r = ada.post("/me/settings", data={"csrf": csrf, "checkin_every": "14", "prompt_hour": "7",
                                       "timezone": "Europe/Berlin", "sector": "healthcare", "email": "ada@example.org",
                                       "notify_resolved": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me/settings?done=settings"
    assert words.SETTINGS_SAVED in ada.get(r.headers["location"]).text
    who = run_json("person", "list")[0]
    assert (who["checkin_every_days"], who["prompt_hour"], who["timezone"], who["sector"], who["email"],
            who["notify_resolved"]) == (14, 7, "Europe/Berlin", "healthcare", "ada@example.org", True)
    bad = ada.post("/me/settings", data={"csrf": csrf, "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "unknown time zone &#39;Mars/Olympus&#39;" in bad.text
    assert run_json("person", "list")[0]["timezone"] == "Europe/Berlin"
    r = ada.post("/me/settings/rules", data={"csrf": csrf, "policy": "refresh_due_months=18\n# a note\n"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert run_json("person", "list")[0]["policy_overrides"] == {"refresh_due_months": 18}
    assert "refresh_due_months=18" in ada.get("/me/settings").text
    bad = ada.post("/me/settings/rules", data={"csrf": csrf, "policy": "no_such_rule=1"})
    assert bad.status_code == 400 and "unknown override(s) no_such_rule" in bad.text
    assert "no_such_rule=1</textarea>" in bad.text  # what was typed stays in the box
    ada.post("/me/settings/rules", data={"csrf": csrf, "policy": ""})
    assert run_json("person", "list")[0]["policy_overrides"] == {}


def test_it_creates_shows_once_and_revokes_api_tokens(ada: TestClient, people: dict[str, str]) -> None:
    csrf = _csrf(ada.get("/me/settings").text)
    r = ada.post("/me/tokens", data={"csrf": csrf, "label": "phone"})
    token = re.search(r'<code class="token">(fr_[^<]+)</code>', r.text).group(1)
    assert words.TOKEN_CREATED in r.text and "phone" in r.text
    assert token not in ada.get("/me/settings").text  # shown once
    fresh = signed_in(TestClient(_app()), token)
    assert "Ada Lovelace" in fresh.get("/me").text
    r = ada.post("/me/tokens/3/revoke", data={"csrf": csrf}, follow_redirects=False)  # (#2 is Bob's)
    assert r.headers["location"] == "/me/settings?done=token-revoked#tokens"
    assert "revoked 2026-11-28 15:30 GMT" in ada.get("/me/settings").text
    page = TestClient(_app()).get("/signin")
    assert TestClient(_app()).post("/signin", data={"token": token, "csrf": _csrf(page.text)}).status_code == 403
    c = TestClient(_app())
    page = c.get("/signin")
    assert c.post("/signin", data={"token": token, "csrf": _csrf(page.text)}).status_code == 401


def test_it_deletes_everything_after_the_name_is_typed(ada: TestClient, ready: Path) -> None:
    _seed_ada()
    csrf = _csrf(ada.get("/me/settings").text)
    before = snapshot(ready)
    wrong = ada.post("/me/delete", data={"csrf": csrf, "confirm_name": "ada lovelace"})
    assert wrong.status_code == 400 and "does not match &#39;Ada Lovelace&#39;: nothing was deleted" in wrong.text
    assert snapshot(ready) == before
    r = ada.post("/me/delete", data={"csrf": csrf, "confirm_name": ADA})
    assert r.status_code == 200 and "deleted Ada Lovelace (#1): 1 headshot(s), 3 check-in(s)" in r.text
    assert 'freshness_session=""' in r.headers["set-cookie"]
    assert [p["name"] for p in run_json("person", "list")] == [BOB]
    assert ada.get("/me", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- headers and errors


def test_every_response_carries_the_security_headers(ada: TestClient) -> None:
    for path in ("/me", "/signin", "/me/settings", "/static/freshness.css", "/static/freshness.js", "/healthz",
                 "/me/nope", "/api/v1/nope", "/openapi.json"):
        r = ada.get(path, follow_redirects=False)
        h = r.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert "unsafe-inline" not in h["content-security-policy"], path
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY", path
        assert h["referrer-policy"] == "no-referrer", path
    csp = ada.get("/me").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "img-src 'self' data:" in csp
    docs = ada.get("/docs")
    assert docs.status_code == 200 and "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    for src in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', docs.text):  # the docs' assets are our own
        assert src.startswith("/") and ada.get(src).status_code == 200, src


def test_the_templates_have_no_inline_scripts_or_styles() -> None:
    from freshness.web.pages import TEMPLATES_DIR

    for path in TEMPLATES_DIR.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert "<style" not in text and " style=" not in text and not re.search(r"\son[a-z]+=", text), path.name
        assert not re.search(r"<img(?![^>]*\balt=)", text), path.name  # every image has its alt text


def test_errors_are_pages_for_the_pages_and_json_for_the_api(ada: TestClient) -> None:
    page = ada.get("/me/nope")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no such page." in page.text
    api = ada.get("/api/v1/nope")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    bad = ada.post("/me/reminders/abc/ack", data={})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert TestClient(_app()).get("/api/v1/status").status_code == 401  # the API: 401, no redirect
    assert ada.get("/signout").status_code == 405


# ---------------------------------------------------------------- real photos through the pages

@pytest.mark.faces
def test_it_checks_in_refuses_with_hints_and_confirms_identity(ada: TestClient, faces: Path) -> None:
    csrf = _csrf(ada.get("/me/checkin").text)
    headshot = (faces / "ai/scarlett_johansson/generated/withanyone-3.jpg").read_bytes()
    r = ada.post("/me/headshots", data={"csrf": csrf, "platform": "linkedin", "published": "2026-06-01", "ai": "1"},
                 files={"image": ("mine.jpg", headshot, "image/jpeg")})
    assert r.status_code == 200, r.text[:500]
    assert "added headshot #1 for Ada Lovelace: linkedin, published 2026-06-01, AI-generated" in r.text
    selfie = (faces / "ai/scarlett_johansson/real/photomaker-scarlett_1.jpg").read_bytes()
    small = (faces / "edge/obama-240p.jpg").read_bytes()
    r = ada.post("/me/checkin", data={"csrf": csrf},
                 files=[("images", ("selfie.jpg", selfie, "image/jpeg")), ("images", ("far.jpg", small, "image/jpeg"))])
    assert r.status_code == 200
    text = _text(r.text)
    assert re.search(r"selfie\.jpg: accepted as check-in #1 \(taken 2026-11-28 15:30 GMT, from received\)", text)
    assert re.search(r"LinkedIn headshot #1: 0\.\d\d, (strong|good|weak|diverged)", text)
    assert "far.jpg: refused." in text and "What to do:" in text and "move closer to the camera" in text
    assert "1 accepted, 1 refused." in text
    assert "Your LinkedIn headshot looks like you so far" in text or "Your LinkedIn headshot does not look" in text
    assert 'src="/me/history.svg?v=' in r.text
    # someone else's face: refused as not you, with a way to say it is you
    other = (faces / "people/barack_obama/obama.jpg").read_bytes()
    r = ada.post("/me/checkin", data={"csrf": csrf}, files=[("images", ("other.jpg", other, "image/jpeg"))])
    text = _text(r.text)
    assert "This selfie does not look like your earlier check-ins" in text
    assert words.WEB_CONFIRM_IDENTITY in text and "--confirm-identity" not in text
    assert 'name="confirm_identity" value="1"' in r.text and "It is me: check in" in text
    r = ada.post("/me/checkin", data={"csrf": csrf, "confirm_identity": "1"},
                 files=[("images", ("other.jpg", other, "image/jpeg"))])
    assert "other.jpg: accepted as check-in #2" in _text(r.text) and "identity confirmed by you" in _text(r.text)
    empty = ada.post("/me/checkin", data={"csrf": csrf}, files=[("images", ("", b"", "application/octet-stream"))])
    assert empty.status_code == 400 and "Choose at least one photo" in empty.text


@pytest.mark.faces
def test_it_ranks_candidates_and_registers_the_chosen_one(ada: TestClient, faces: Path) -> None:
    csrf = _csrf(ada.get("/me/rank").text)
    real = faces / "ai/scarlett_johansson/real"
    for i, name in enumerate(["photomaker-scarlett_0.jpg", "photomaker-scarlett_2.jpg", "photomaker-scarlett_3.jpg"]):
        run("checkin", ADA, real / name, "--taken", f"2026-0{i + 7}-01")
    assert 'action="/me/rank"' in ada.get("/me/rank").text
    good = (faces / "ai/scarlett_johansson/generated/withanyone-1.jpg").read_bytes()
    other = (faces / "ai/rihanna/generated/withanyone-2.jpg").read_bytes()
    flower = (faces / "edge/flower.jpg").read_bytes()
    r = ada.post("/me/rank", data={"csrf": csrf}, files=[("candidates", ("rihanna.jpg", other, "image/jpeg")),
                                                         ("candidates", ("flower.jpg", flower, "image/jpeg")),
                                                         ("candidates", ("mine.jpg", good, "image/jpeg"))])
    assert r.status_code == 200
    text = _text(r.text)
    assert text.index("1. mine.jpg") < text.index("2. rihanna.jpg")
    assert "unlike you today" in text and "flower.jpg: refused:" in text
    assert "compared with the 3 most recent selfie(s) of Ada Lovelace (taken 2026-07-01 to 2026-09-01)" in text
    held = re.search(r'name="held" value="([0-9a-f]{64})"', r.text).group(1)
    r = ada.post("/me/headshots", data={"csrf": csrf, "held": held, "platform": "website", "published": "2026-11-28",
                                        "ai": "1", "disclosed": "1"})
    assert "added headshot #1 for Ada Lovelace: website, published 2026-11-28, AI-generated, disclosed" in r.text
    assert "compared with 3 earlier check-in(s)" in r.text
    again = ada.post("/me/headshots", data={"csrf": csrf, "held": held, "platform": "website"})
    assert again.status_code == 410 and "no longer held" in again.text
    assert "Your website headshot" in ada.get("/me").text


def test_the_disclosure_reminder_has_its_own_action(ada: TestClient, people: dict[str, str], ready: Path) -> None:
    from freshness.models import Person
    from tests import dbseed

    with _session() as s:  # an undisclosed AI headshot, and Ada works in finance
        dbseed.headshot(s, s.get(Person, 1), date(2026, 1, 1), platform="linkedin", disclosed=False)
    page = ada.get("/me")
    assert "AI headshot not disclosed" in page.text and 'action="/me/headshots/1/disclosed"' in page.text
    bob = signed_in(TestClient(_app()), people[BOB])
    before = snapshot(ready)
    assert bob.post("/me/headshots/1/disclosed", data={"csrf": _csrf(bob.get("/me").text)}).status_code == 404
    assert snapshot(ready) == before
    r = ada.post("/me/headshots/1/disclosed", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me?done=disclosed#h1-title"
    after = ada.get(r.headers["location"]).text
    assert words.MARKED_DISCLOSED.split(":")[0] in _text(after) and "AI headshot not disclosed" not in after
    assert run_json("headshot", "list", ADA)[0]["disclosed"] is True
