"""Who is asking: API tokens, the admin token, signed session cookies, CSRF tokens.

* The API takes ``Authorization: Bearer <token>``: a person's API token (stored as its
  sha256, see ``people.person_by_token``) or, for the admin routes, ``FRESHNESS_ADMIN_TOKEN``
  (compared in constant time).
* The web pages use a session cookie set at sign-in (with a token or a one-time sign-in
  link): ``<person id>.<issued unix time>.<HMAC-SHA256 of both with the secret key>``,
  HttpOnly, SameSite=Lax, Secure when served over https, valid ``session_days``. The API
  accepts that cookie for reading only (GET): anything that changes something over the API
  needs a bearer token, so a signed-in browser cannot be made to change anything by another
  site.
* A form's CSRF token is an HMAC of the session cookie: only a page rendered for this
  session can produce it (``csrf_token``/``check_csrf``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import Depends, Request
from sqlmodel import Session

from freshness import clock
from freshness.config import Settings, get_settings
from freshness.db import get_engine
from freshness.errors import FreshnessError
from freshness.models import Person

SESSION_COOKIE = "freshness_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Unauthorized(FreshnessError):
    """No credentials, or credentials that open nothing (HTTP 401)."""

    http_status = 401
    code = "unauthorized"
    exit_code = 2


class Forbidden(FreshnessError):
    http_status = 403
    code = "forbidden"
    exit_code = 2


def settings_of(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def db(request: Request) -> Iterator[Session]:
    """A database session for one request (closed afterwards)."""
    with Session(get_engine(settings_of(request)), expire_on_commit=False) as session:
        yield session


# ---------------------------------------------------------------- the secret key


def secret_key(settings: Settings) -> bytes:
    """FRESHNESS_SECRET_KEY, or the one kept in <home>/secret_key (made at first use, 0600)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path: Path = settings.home / "secret_key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    settings.home.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _mac(settings: Settings, purpose: str, value: str) -> str:
    digest = hmac.new(secret_key(settings), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# ---------------------------------------------------------------- sessions


def session_cookie(settings: Settings, person_id: int, issued: datetime) -> str:
    payload = f"{person_id}.{int(issued.timestamp())}"
    return f"{payload}.{_mac(settings, 'session', payload)}"


def person_id_from_cookie(settings: Settings, cookie: str | None, now: datetime) -> int | None:
    """The person a session cookie was issued to, or None (forged, malformed or expired)."""
    if not cookie or len(cookie) > 200:
        return None
    try:
        pid, issued, mac = cookie.split(".")
        person_id, issued_at = int(pid), int(issued)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, _mac(settings, "session", f"{pid}.{issued}")):
        return None
    age = now.timestamp() - issued_at
    if age < -300 or age > timedelta(days=settings.session_days).total_seconds():
        return None
    return person_id


def csrf_token(settings: Settings, cookie: str) -> str:
    return _mac(settings, "csrf", cookie)


def check_csrf(settings: Settings, cookie: str | None, token: str | None) -> bool:
    return bool(cookie and token) and hmac.compare_digest(csrf_token(settings, cookie), token)  # type: ignore[arg-type]


# ---------------------------------------------------------------- dependencies


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def optional_person(request: Request, session: Session = Depends(db)) -> Person | None:
    """The person a request is made for (API token or session cookie), or None."""
    settings = settings_of(request)
    now = clock.utcnow()
    token = _bearer(request)
    if token is not None:
        from freshness.people import person_by_token

        # failed tokens are counted per address (and per person for their revoked tokens): too
        # many, and the address is answered 429 before its tokens are even looked at
        check_attempts(request, now)
        person = person_by_token(session, token, now)
        if person is None:
            failed_attempt(request, session, token, now)
            raise Unauthorized("this token opens nothing: it is unknown or was revoked")
        return person
    person_id = person_id_from_cookie(settings, request.cookies.get(SESSION_COOKIE), now)
    if person_id is not None and request.url.path.startswith("/api/") and request.method not in SAFE_METHODS:
        # a browser sends the cookie by itself: an API call that changes something must carry
        # a token, so no other site can make a signed-in browser change anything (CSRF)
        raise Unauthorized("a request that changes something needs 'Authorization: Bearer <token>': "
                           "the sign-in cookie only reads")
    person = session.get(Person, person_id) if person_id is not None else None
    if person is not None:
        from freshness.privacy import touch

        touch(session, person, now)  # using the app keeps the person's data (retention)
    return person


def check_attempts(request: Request, now: datetime, person_id: int | None = None) -> None:
    """Refuse (429, with Retry-After) an address, or a person's failed credentials, that failed too often lately."""
    from freshness.web import ratelimit

    keys = [ratelimit.client_key(request)] + ([ratelimit.person_key(person_id)] if person_id else [])
    wait = ratelimit.limiter(request).retry_after(keys, now)
    if wait is not None:
        from starlette.exceptions import HTTPException

        raise HTTPException(429, ratelimit.too_many(wait), headers={"Retry-After": str(wait)})


def failed_attempt(request: Request, session: Session, token: str, now: datetime) -> None:
    """Count a credential that opened nothing: for the address, and for the person whose revoked
    token or spent link it is; a person over the limit is answered 429 from then on."""
    from freshness.people import failed_credential_owner
    from freshness.web import ratelimit

    owner = failed_credential_owner(session, token)
    keys = [ratelimit.client_key(request)] + ([ratelimit.person_key(owner)] if owner else [])
    ratelimit.limiter(request).failed(keys, now)
    if owner:
        check_attempts(request, now, owner)


def current_person(person: Person | None = Depends(optional_person)) -> Person:
    """The person a request is made for; 401 without valid credentials."""
    if person is None:
        raise Unauthorized("sign in: send 'Authorization: Bearer <your API token>' (see `freshness token create`)")
    return person


def admin(request: Request) -> None:
    """The admin token (FRESHNESS_ADMIN_TOKEN) must be given; the admin API is off without one."""
    settings = settings_of(request)
    token = _bearer(request)
    if not settings.admin_token:
        raise Forbidden("the admin API is off: set FRESHNESS_ADMIN_TOKEN on the server to use it")
    if token is None:
        raise Unauthorized("send 'Authorization: Bearer <the admin token>'")
    now = clock.utcnow()
    check_attempts(request, now)
    if not hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        from freshness.web import ratelimit

        ratelimit.limiter(request).failed([ratelimit.client_key(request)], now)
        raise Unauthorized("this is not the admin token")
