"""Who is asking: API tokens, one-time sign-in links, session cookies and CSRF tokens."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from freshness.config import Settings
from freshness.db import get_engine
from freshness.errors import NotFound, UsageError
from freshness.people import (
    add_person, create_signin_link, create_token, hash_token, list_tokens, person_by_token, revoke_token,
    use_signin_link,
)
from freshness.web import auth

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def test_a_token_opens_its_person_until_it_is_revoked(session: Session) -> None:
    ada, first = add_person(session, "Ada", consent=True, now=NOW)
    bob, _ = add_person(session, "Bob", consent=True, now=NOW)
    row, phone = create_token(session, ada, NOW, label=" phone ")
    assert row.label == "phone" and row.token_sha256 == hash_token(phone) and phone not in str(row)
    assert person_by_token(session, first).id == ada.id and person_by_token(session, phone, NOW).id == ada.id
    assert [t.label for t in list_tokens(session, ada)] == ["created with the person", "phone"]
    assert list_tokens(session, ada)[1].last_used_at == NOW
    with pytest.raises(NotFound, match="Bob has no API token with id"):
        revoke_token(session, bob, row.id, NOW)  # another person's token is not theirs to revoke
    revoke_token(session, ada, row.id, NOW + timedelta(hours=1))
    assert person_by_token(session, phone) is None and person_by_token(session, first).id == ada.id
    for guess in ("", "fr_", first[:-1] + "x", "nope", "fr_" + "a" * 300):
        assert person_by_token(session, guess) is None
    with pytest.raises(UsageError, match="at most 100 characters"):
        create_token(session, ada, NOW, label="x" * 101)


def test_a_sign_in_link_works_once_and_expires(session: Session) -> None:
    ada, _ = add_person(session, "Ada", consent=True, now=NOW)
    link = create_signin_link(session, ada, NOW, timedelta(minutes=60))
    assert use_signin_link(session, link, NOW + timedelta(minutes=59)).id == ada.id
    assert use_signin_link(session, link, NOW + timedelta(minutes=59)) is None  # once only
    late = create_signin_link(session, ada, NOW, timedelta(minutes=60))
    assert use_signin_link(session, late, NOW + timedelta(minutes=60)) is None  # expired at the hour
    assert use_signin_link(session, "frlink_nope", NOW) is None


def test_a_sign_in_link_opened_twice_at_once_opens_one_session(session: Session, settings: Settings) -> None:
    ada, _ = add_person(session, "Ada", consent=True, now=NOW)
    link = create_signin_link(session, ada, NOW, timedelta(minutes=60))
    with Session(get_engine(settings)) as other:
        assert use_signin_link(other, link, NOW).id == ada.id
    assert use_signin_link(session, link, NOW) is None


def test_a_session_cookie_is_signed_and_expires(settings: Settings) -> None:
    cookie = auth.session_cookie(settings, 7, NOW)
    assert auth.person_id_from_cookie(settings, cookie, NOW + timedelta(days=29)) == 7
    assert auth.person_id_from_cookie(settings, cookie, NOW + timedelta(days=30, seconds=1)) is None
    pid, issued, mac = cookie.split(".")
    assert auth.person_id_from_cookie(settings, f"8.{issued}.{mac}", NOW) is None  # another person: forged
    assert auth.person_id_from_cookie(settings, f"{pid}.{int(issued) + 1}.{mac}", NOW) is None
    for junk in (None, "", "7", "a.b.c", "7.x.y", "." * 300):
        assert auth.person_id_from_cookie(settings, junk, NOW) is None
    other = settings.model_copy(update={"secret_key": "another-secret-key-that-is-long-enough"})
    assert auth.person_id_from_cookie(other, cookie, NOW) is None  # another server's secret


def test_the_secret_key_is_made_once_and_kept_private(settings: Settings) -> None:
    key = auth.secret_key(settings)
    path = settings.home / "secret_key"
    assert path.read_bytes().strip() == key and len(key) >= 43
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.secret_key(settings) == key  # the same on every start


def test_a_csrf_token_belongs_to_its_session(settings: Settings) -> None:
    cookie = auth.session_cookie(settings, 7, NOW)
    token = auth.csrf_token(settings, cookie)
    assert auth.check_csrf(settings, cookie, token)
    assert not auth.check_csrf(settings, auth.session_cookie(settings, 8, NOW), token)
    assert not auth.check_csrf(settings, cookie, None) and not auth.check_csrf(settings, None, token)
    assert not auth.check_csrf(settings, cookie, token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_the_sign_in_cookie_reads_the_api_but_changes_nothing(settings, session, clock) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app

    ada, token = add_person(session, "Ada", consent=True, now=NOW)
    client = TestClient(create_app(settings))
    client.cookies.set(auth.SESSION_COOKIE, auth.session_cookie(settings, ada.id, clock.now))
    assert client.get("/api/v1/me").json()["name"] == "Ada"
    refused = client.post("/api/v1/tokens", json={"label": "from another site"})
    assert refused.status_code == 401 and "needs 'Authorization: Bearer <token>'" in refused.json()["message"]
    assert len(list_tokens(session, ada)) == 1
    made = client.post("/api/v1/tokens", json={"label": "mine"}, headers={"Authorization": f"Bearer {token}"})
    assert made.status_code in (200, 201) and len(list_tokens(session, ada)) == 2
