"""The web pages: server-rendered HTML over the same service functions as the CLI.

Signed in with a session cookie (``auth.session_cookie``) set by ``/signin`` (an API token)
or ``/signin/<link>`` (a one-time link from ``freshness person link``). Every form carries a
CSRF token: for a signed-in person the HMAC of their session cookie (``auth.csrf_token``);
on the sign-in forms the HMAC of a random pre-session cookie, so nobody can sign a visitor
into another account either. Every POST checks it first (a missing or wrong one: 403).

The pages say what the CLI says: every sentence comes from ``freshness.words``. Face
analysis and drawing are CPU work: POST handlers read the form (with a size limit enforced
while the body streams in) and then run in a worker thread; GET handlers are plain ``def``
routes, which FastAPI runs in its thread pool.

``install(app)`` adds the pages, the static files, the security headers on every response
and HTML error pages for the pages (JSON errors stay JSON for /api, /calendar and the rest).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import tempfile
import threading
import time as _time
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, available_timezones

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from freshness import clock, words
from freshness.config import Settings
from freshness.context import get_context
from freshness.db import get_engine
from freshness.errors import FreshnessError, ImageRejected, NotFound, UsageError
from freshness.models import Checkin, Person, Reminder
from freshness.web.auth import (
    SESSION_COOKIE,
    check_csrf,
    csrf_token,
    db,
    person_id_from_cookie,
    session_cookie,
    settings_of,
)

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

#: The cookie that carries a random nonce for the sign-in forms' CSRF token (before a session exists).
SIGNIN_COOKIE = "freshness_signin"
#: At most this many photos per upload form, and this many bytes per request (times the per-image limit).
MAX_FILES = 10
REQUEST_IMAGES = 4
#: Candidates ranked on the Headshots page are held this long for "register this one".
HOLD_SECONDS = 3600

#: The pages' Content-Security-Policy: nothing inline, nothing from elsewhere, no framing.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Swagger UI and ReDoc (the API docs) start themselves with an inline script: looser on those pages only.
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
#: The chart as a document of its own: matplotlib's SVG styles itself inline; it never runs a script.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # sign-in links carry their token in the path
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "geolocation=(), microphone=(), payment=(), usb=()",
}
#: Paths whose errors stay JSON (the API, the calendar feeds, the docs, health).
JSON_PREFIXES = ("/api", "/calendar", "/healthz", "/openapi.json", "/docs", "/redoc", "/static-offline-docs")
PAGE_PREFIXES = ("/me", "/signin", "/signout", "/static", "/privacy")

NAV = (("/me", "Dashboard"), ("/me/checkin", "Check in"), ("/me/history", "History"),
       ("/me/rank", "Headshots"), ("/me/settings", "Settings"))

_PLOT_LOCK = threading.Lock()  # matplotlib's pyplot is not thread-safe


# ---------------------------------------------------------------- templates

def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             autoescape=jinja2.select_autoescape(), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(words=words, nav=NAV, band_meanings=words.BAND_MEANINGS)
    env.filters["first_upper"] = lambda text: text[:1].upper() + text[1:]  # "LinkedIn", not "Linkedin"
    return env


templates = Jinja2Templates(env=_env())


# ---------------------------------------------------------------- errors that pages turn into pages

class SignInRequired(Exception):
    """No valid session: the page redirects to /signin (and back afterwards)."""

    def __init__(self, next_path: str | None = None):
        super().__init__("sign in")
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form without a valid CSRF token: 403, nothing changed."""


class TooLarge(Exception):
    """A request body over the limit (stopped while it streamed in): 413."""


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path == "/" or path.startswith(PAGE_PREFIXES):
        return True
    if path.startswith(JSON_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    person = _optional_person_quick(request)
    return _render(request, "error.html", person, status_code=status, title=title, message=message)


def _optional_person_quick(request: Request) -> Person | None:
    """The signed-in person for an error page's navigation (None when not signed in)."""
    settings = settings_of(request)
    pid = person_id_from_cookie(settings, request.cookies.get(SESSION_COOKIE), clock.utcnow())
    if pid is None:
        return None
    try:
        with Session(get_engine(settings), expire_on_commit=False) as session:
            return session.get(Person, pid)
    except Exception:  # pragma: no cover - an error page must not fail on the database
        return None


ERROR_TITLES = {400: "That request is not valid", 403: "Not allowed", 404: "Not found",
                405: "Not allowed here", 413: "Too large", 422: "That request is not valid"}


def _install_error_pages(app: FastAPI) -> None:
    """HTML error pages for the pages; the JSON handlers (``errors.install``) keep everything else."""
    for exc_class in (FreshnessError, RequestValidationError, StarletteHTTPException):
        original = app.exception_handlers.get(exc_class)

        async def handler(request: Request, exc: Exception, original: Any = original) -> Response:
            if not _wants_html(request) and original is not None:
                return await original(request, exc)
            if isinstance(exc, FreshnessError):
                status, message = exc.http_status, exc.message
            elif isinstance(exc, RequestValidationError):
                status, message = 422, "Some fields of this form are missing or not valid; go back and try again."
            else:
                status = exc.status_code  # type: ignore[attr-defined]
                message = exc.detail if isinstance(exc.detail, str) else ""  # type: ignore[attr-defined]
                if status == 404:
                    message = "There is no such page."
            if status == 401:
                return _signin_redirect(request)
            return _error_page(request, status, ERROR_TITLES.get(status, "Something went wrong"), message)

        app.add_exception_handler(exc_class, handler)

    async def signin_required(request: Request, exc: SignInRequired) -> Response:
        return _signin_redirect(request, exc.next_path)

    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return _error_page(request, 403, "This form was not accepted", words.CSRF_REFUSED)

    async def too_large(request: Request, exc: TooLarge) -> Response:
        limit = settings_of(request).max_upload_bytes * REQUEST_IMAGES // (1024 * 1024)
        return _error_page(request, 413, ERROR_TITLES[413],
                           f"This upload is larger than {limit} MB in all: send fewer or smaller photos.")

    app.add_exception_handler(SignInRequired, signin_required)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, csrf_refused)  # type: ignore[arg-type]
    app.add_exception_handler(TooLarge, too_large)  # type: ignore[arg-type]


def _signin_redirect(request: Request, next_path: str | None = None) -> RedirectResponse:
    target = "/signin"
    if next_path and _safe_next(next_path) and next_path != "/me":
        target += "?next=" + quote(next_path, safe="/")
    return RedirectResponse(target, status_code=303)


def _safe_next(value: str | None) -> str | None:
    """A path on this site under /me (never another host: no //, no backslash, no scheme)."""
    if not value or not value.startswith("/me") or "//" in value or "\\" in value or len(value) > 200:
        return None
    return value


# ---------------------------------------------------------------- security headers

class SecurityHeaders:
    """Adds the security headers to every response (a response may set its own CSP first)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path in DOCS_PATHS else CSP
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers.append("content-security-policy", csp)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
                if https and "strict-transport-security" not in headers:
                    headers.append("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------- sessions, CSRF, forms

def _chart_latest() -> str:
    """Where the plot area of the chart ends, as a fraction of its width: a narrow screen scrolls
    the chart so that this edge (the latest check-ins) is in view (static/freshness.js)."""
    from freshness import plot

    return f"{(plot.LEFT + plot.PLOT_W) / plot.FIG_W:.3f}"


def _now() -> datetime:
    return clock.utcnow()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or settings_of(request).base_url.lower().startswith("https://")


def _signed_in(request: Request, session: Session) -> Person:
    settings = settings_of(request)
    pid = person_id_from_cookie(settings, request.cookies.get(SESSION_COOKIE), _now())
    person = session.get(Person, pid) if pid is not None else None
    if person is None:
        raise SignInRequired(request.url.path if request.method == "GET" else None)
    from freshness.privacy import touch

    touch(session, person, _now())  # using the app keeps the person's data (retention)
    return person


def _csrf_for(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    return csrf_token(settings_of(request), cookie) if cookie else ""


def _check_form(request: Request, form: FormData | dict) -> None:
    token = form.get("csrf")
    if not check_csrf(settings_of(request), request.cookies.get(SESSION_COOKIE),
                      token if isinstance(token, str) else None):
        raise CsrfRefused()


async def _read_form(request: Request, limit: int | None = None) -> FormData:
    """The form, read with a body limit that is enforced while the body streams in."""
    settings = settings_of(request)
    limit = limit if limit is not None else settings.max_upload_bytes * REQUEST_IMAGES + 1024 * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge()
    received = 0
    receive = request.receive

    async def limited() -> dict:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge()
        return message

    return await Request(request.scope, limited).form(max_files=MAX_FILES, max_fields=60)


@dataclass
class Upload:
    name: str
    data: bytes


async def _uploads(form: FormData, field_name: str) -> list[Upload]:
    out = []
    for n, item in enumerate(form.getlist(field_name), start=1):
        if not isinstance(item, UploadFile) or not item.filename:
            continue
        data = await item.read()
        if data:
            out.append(Upload(name=item.filename.rsplit("/", 1)[-1][:120] or f"photo {n}", data=data))
    return out


def _render(request: Request, template: str, person: Person | None, *, status_code: int = 200,
            **context: Any) -> HTMLResponse:
    path = request.url.path
    context.setdefault("title", "freshness")
    context.setdefault("chart_latest", _chart_latest())
    context.setdefault("max_files", MAX_FILES)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    response = templates.TemplateResponse(request, template, {
        "person": person, "csrf": _csrf_for(request) if person is not None else "", "path": path, **context,
    }, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    return response


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _session_of(request: Request) -> Session:
    return Session(get_engine(settings_of(request)), expire_on_commit=False)


# ---------------------------------------------------------------- the router

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, session: Session = Depends(db)) -> Response:
    pid = person_id_from_cookie(settings_of(request), request.cookies.get(SESSION_COOKIE), _now())
    signed_in = pid is not None and session.get(Person, pid) is not None
    return _redirect("/me" if signed_in else "/signin")


# ---------------------------------------------------------------- sign-in and sign-out

def _signin_nonce(request: Request) -> tuple[str, bool]:
    nonce = request.cookies.get(SIGNIN_COOKIE)
    if nonce and 16 <= len(nonce) <= 64:
        return nonce, False
    return secrets.token_urlsafe(24), True


def _with_signin_nonce(request: Request, response: Response, nonce: str, new: bool) -> Response:
    if new:
        # Secure when this request came over https (the session cookie also when base_url is https)
        response.set_cookie(SIGNIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/signin")
    return response


def _check_signin_form(request: Request, form: FormData) -> None:
    nonce = request.cookies.get(SIGNIN_COOKIE)
    token = form.get("csrf")
    if not (nonce and isinstance(token, str)
            and check_csrf(settings_of(request), "signin:" + nonce, token)):
        raise CsrfRefused()


def _signin_page(request: Request, *, status_code: int = 200, error: str | None = None,
                 notice: str | None = None, link: str | None = None, link_ok: bool = True) -> Response:
    nonce, new = _signin_nonce(request)
    next_path = _safe_next(request.query_params.get("next"))
    response = _render(request, "signin_link.html" if link is not None else "signin.html", None,
                       status_code=status_code, title="Sign in", error=error, notice=notice, link=link,
                       link_ok=link_ok, next_path=next_path or "",
                       signin_csrf=csrf_token(settings_of(request), "signin:" + nonce))
    return _with_signin_nonce(request, response, nonce, new)


def _start_session(request: Request, person: Person, next_path: str | None) -> Response:
    settings = settings_of(request)
    response = _redirect(_safe_next(next_path) or "/me")
    response.set_cookie(SESSION_COOKIE, session_cookie(settings, person.id, _now()),  # type: ignore[arg-type]
                        max_age=int(settings.session_days * 86400), httponly=True, samesite="lax",
                        secure=_secure(request), path="/")
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.get("/signin")
def signin_form(request: Request) -> Response:
    done = request.query_params.get("done")
    return _signin_page(request, notice=words.SIGNED_OUT if done == "signed-out" else None)


def _signin_locked(request: Request, person_id: int | None = None) -> int | None:
    """Seconds this address (or this person's failed credentials) must wait after too many
    failed sign-ins (``freshness.web.ratelimit``), or None."""
    from freshness.web import ratelimit

    keys = [ratelimit.client_key(request)] + ([ratelimit.person_key(person_id)] if person_id else [])
    return ratelimit.limiter(request).retry_after(keys, _now())


def _signin_failed(request: Request, owner: int | None) -> int | None:
    """Count a failed sign-in (for the address, and for the person whose old credential it was);
    the seconds to wait if that person's failed credentials are now locked."""
    from freshness.web import ratelimit

    keys = [ratelimit.client_key(request)] + ([ratelimit.person_key(owner)] if owner else [])
    ratelimit.limiter(request).failed(keys, _now())
    return _signin_locked(request, owner) if owner else None


def _too_many(request: Request, wait: int, link: str | None = None) -> Response:
    from freshness.web import ratelimit

    response = _signin_page(request, status_code=429, error=ratelimit.too_many(wait), link=link,
                            link_ok=link is None)
    response.headers["retry-after"] = str(wait)
    return response


@router.post("/signin")
async def signin_with_token(request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)
    _check_signin_form(request, form)
    token = str(form.get("token") or "").strip()
    wait = _signin_locked(request)
    if wait is not None:  # before the token is looked at: a locked address learns nothing
        return _too_many(request, wait)

    def work() -> tuple[Person | None, int | None]:
        from freshness.people import failed_credential_owner, person_by_token

        with _session_of(request) as session:
            person = person_by_token(session, token, _now()) if token else None
            return person, (failed_credential_owner(session, token) if person is None and token else None)

    person, owner = await run_in_threadpool(work)
    if person is None:
        wait = _signin_failed(request, owner)
        if wait is not None:
            return _too_many(request, wait)
        return _signin_page(request, status_code=401, error=words.SIGNIN_BAD_TOKEN)
    return _start_session(request, person, str(form.get("next") or ""))


def _link_usable(session: Session, token: str, now: datetime) -> bool:
    """Whether a sign-in link would open a session now (read only: the POST spends it)."""
    from freshness.models import SignInLink
    from freshness.people import SIGNIN_PREFIX, hash_token

    if not token.startswith(SIGNIN_PREFIX) or len(token) > 200:
        return False
    link = session.exec(select(SignInLink).where(SignInLink.token_sha256 == hash_token(token))).first()
    return link is not None and link.used_at is None and link.expires_at > now


@router.get("/signin/{token}")
def signin_link_page(token: str, request: Request, session: Session = Depends(db)) -> Response:
    """The link's page: one button spends the link (a link previewer that only GETs spends nothing)."""
    if not _link_usable(session, token, _now()):
        return _signin_page(request, status_code=410, error=words.SIGNIN_LINK_SPENT, link=token, link_ok=False)
    return _signin_page(request, link=token)


@router.post("/signin/{token}")
async def signin_with_link(token: str, request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)
    _check_signin_form(request, form)
    wait = _signin_locked(request)
    if wait is not None:
        return _too_many(request, wait, link=token)

    def work() -> tuple[Person | None, int | None]:
        from freshness.people import failed_credential_owner, use_signin_link

        with _session_of(request) as session:
            person = use_signin_link(session, token, _now())
            return person, (failed_credential_owner(session, token) if person is None else None)

    person, owner = await run_in_threadpool(work)
    if person is None:
        wait = _signin_failed(request, owner)
        if wait is not None:
            return _too_many(request, wait, link=token)
        return _signin_page(request, status_code=410, error=words.SIGNIN_LINK_SPENT, link=token, link_ok=False)
    return _start_session(request, person, str(form.get("next") or ""))


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)
    if person_id_from_cookie(settings_of(request), request.cookies.get(SESSION_COOKIE), _now()) is not None:
        _check_form(request, form)
    response = _redirect("/signin?done=signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- the dashboard

def _reminder_rows(session: Session, person: Person, views: list[dict]) -> list[dict]:
    """Reminder views of ``reports.status`` with their stored state (snoozed until…)."""
    from freshness.reminders import unresolved

    stored = {r.id: r for r in unresolved(session, person)}
    rows = []
    for v in views:
        r = stored.get(v["id"]) if v.get("id") is not None else None
        rows.append({**v, "state": r.state if r else "open",
                     "state_text": words.reminder_state_text(r.state, r.snoozed_until, person.timezone)
                     if r else "not recorded yet",
                     "since_text": words.local_date(v["since"], person.timezone)})
    return rows


def _notice(request: Request, session: Session, person: Person) -> str | None:
    done = request.query_params.get("done")
    fixed = {"settings": words.SETTINGS_SAVED, "rules": words.RULES_SAVED, "token-revoked": words.TOKEN_REVOKED,
             "disclosed": words.MARKED_DISCLOSED}
    if done in fixed:
        return fixed[done]
    if done in ("ack", "snooze"):
        rid = request.query_params.get("r", "")
        r = session.get(Reminder, int(rid)) if rid.isdigit() else None
        if r is not None and r.person_id == person.id:
            until = words.local_date(r.snoozed_until, person.timezone) if r.snoozed_until else None
            return words.reminder_done(done, r.id, r.kind, until)  # type: ignore[arg-type]
    return None


def _status_view(session: Session, person: Person, as_of: datetime) -> dict[str, Any]:
    from freshness.checkins import local_today
    from freshness.reminders import policy_for
    from freshness.reports import status
    from freshness.rules import checkin_deadline

    data = status(session, person, as_of)
    tz = person.timezone
    pol = data["policy"]
    today = local_today(person, as_of)
    # the next check-in as the check-in rule counts it (the latest selfie + the cadence), so that
    # this line and a "check-in missed" reminder always name the same day
    last = datetime.fromisoformat(data["last_checkin_at"]) if data["last_checkin_at"] else person.created_at
    due_at, _ = checkin_deadline(last, person.checkin_every_days, policy_for(person))
    heads = []
    for h in data["headshots"]:
        heads.append({
            **h,
            "name": words.headshot_name(h["platform"]),
            "published_text": words.published_text(h["published_on"], h["age_days"]),
            "refresh_text": words.refresh_countdown(h["refresh_due_on"], h["refresh_overdue_on"], today),
            "latest_text": words.latest_distance_text(h["latest_distance"], h["latest_band"],
                                                      h["latest_taken_at"], tz),
            "trend_text": words.trend_text(h["trend"], threshold=h["threshold"],
                                           projected_on=h["projected_divergence_on"],
                                           confidence=pol["drift_confidence"], min_points=pol["drift_min_points"],
                                           min_span_days=pol["drift_min_span_days"],
                                           window_days=pol["drift_window_days"]),
            "level_text": words.level_text(h["level"], h["band"], pol["level_n"]),
            "band_meaning": words.BAND_MEANINGS.get(h["band"] or "", ""),
            "headline": words.STATE_HEADLINES.get(h["state"], ""),
            "reminders": _reminder_rows(session, person, h["reminders"]),
        })
    return {
        "data": data,
        "headshots": heads,
        "person_reminders": _reminder_rows(session, person, data["reminders"]),
        "next_checkin": words.next_checkin_text(due_at, tz, today),
        "last_checkin": words.local_time(data["last_checkin_at"], tz) if data["last_checkin_at"] else None,
        "today": today,
    }


@router.get("/me")
def dashboard(request: Request, session: Session = Depends(db)) -> Response:
    from freshness.reminders import evaluate_person

    person = _signed_in(request, session)
    now = _now()
    # the same evaluation the hourly sweep runs: the reminders shown are recorded, with ids to act on
    evaluate_person(session, person, now, settings_of(request), now=now)
    view = _status_view(session, person, now)
    return _render(request, "dashboard.html", person, title="Dashboard", notice=_notice(request, session, person),
                   snooze_default=(view["today"] + timedelta(days=7)).isoformat(),
                   snooze_min=(view["today"] + timedelta(days=1)).isoformat(), **view)


def _own_reminder(session: Session, person: Person, reminder_id: int) -> Reminder:
    r = session.get(Reminder, reminder_id)
    if r is None or r.person_id != person.id:
        raise NotFound(f"{person.name} has no reminder with id {reminder_id}")
    return r


@router.post("/me/reminders/{reminder_id}/ack")
async def reminder_ack(reminder_id: int, request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.reminders import acknowledge

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            _own_reminder(session, person, reminder_id)
            acknowledge(session, reminder_id, _now())
        return _redirect(f"/me?done=ack&r={reminder_id}#reminder-{reminder_id}")

    return await run_in_threadpool(work)


@router.post("/me/reminders/{reminder_id}/snooze")
async def reminder_snooze(reminder_id: int, request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.reminders import snooze

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            _own_reminder(session, person, reminder_id)
            day = _form_date(form.get("until"), "the snooze date")
            when = datetime.combine(day, time(0, 0), ZoneInfo(person.timezone)).astimezone(timezone.utc)
            snooze(session, reminder_id, when, _now())
        return _redirect(f"/me?done=snooze&r={reminder_id}#reminder-{reminder_id}")

    return await run_in_threadpool(work)


@router.post("/me/headshots/{headshot_id}/disclosed")
async def headshot_disclosed(headshot_id: int, request: Request) -> Response:
    """The disclosure reminder's own action: the headshot is labelled where it is published."""
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.checkins import get_headshot, update_headshot
        from freshness.reminders import evaluate_person

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            get_headshot(session, person, headshot_id)  # another person's headshot: not found
            update_headshot(session, headshot_id, now=_now(), disclosed=True)
            evaluate_person(session, person, _now(), now=_now())  # the reminder resolves at once
        return _redirect(f"/me?done=disclosed#h{headshot_id}-title")

    return await run_in_threadpool(work)


def _form_date(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise UsageError(f"cannot read {what} {value!r}: use YYYY-MM-DD") from None


# ---------------------------------------------------------------- thumbnails

def _thumbnail(request: Request, digest: str) -> Response:
    try:
        data = get_context(settings_of(request)).blobs.get(digest)
    except (FileNotFoundError, ValueError):
        raise NotFound("this thumbnail is not stored") from None
    # not cached: once a person deletes everything, no copy of their face stays behind in a browser cache
    return Response(data, media_type="image/jpeg", headers={"cache-control": "no-store"})


@router.get("/me/headshots/{headshot_id}/thumb.jpg")
def headshot_thumb(headshot_id: int, request: Request, session: Session = Depends(db)) -> Response:
    from freshness.checkins import get_headshot

    person = _signed_in(request, session)
    return _thumbnail(request, get_headshot(session, person, headshot_id).thumb_digest)


@router.get("/me/headshots/{headshot_id}/export")
def headshot_export(headshot_id: int, request: Request, label: str = "", format: str = "jpeg",
                    session: Session = Depends(db)) -> Response:
    """The dashboard's download: the headshot labelled for publishing (as ``headshot export``)."""
    from freshness.checkins import get_headshot
    from freshness.provenance import export_headshot

    person = _signed_in(request, session)
    h = get_headshot(session, person, headshot_id)
    if format not in ("jpeg", "png"):
        raise UsageError("the format is jpeg or png")
    captioned = label in ("1", "true", "on")
    data = export_headshot(get_context(settings_of(request)), h, fmt=format.upper(), caption=captioned)
    name = f"headshot-{h.id}-ai-labelled{'-captioned' if captioned else ''}.{'jpg' if format == 'jpeg' else 'png'}"
    return Response(data, media_type=f"image/{format}",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


@router.get("/me/checkins/{checkin_id}/thumb.jpg")
def checkin_thumb(checkin_id: int, request: Request, session: Session = Depends(db)) -> Response:
    person = _signed_in(request, session)
    c = session.get(Checkin, checkin_id)
    if c is None or c.person_id != person.id:
        raise NotFound(f"{person.name} has no check-in with id {checkin_id}")
    return _thumbnail(request, c.thumb_digest)


# ---------------------------------------------------------------- check-in

@router.get("/me/checkin")
def checkin_form(request: Request, session: Session = Depends(db)) -> Response:
    from freshness.checkins import active_headshots

    person = _signed_in(request, session)
    return _render(request, "checkin.html", person, title="Check in", results=None, verdicts=None,
                   has_headshot=bool(active_headshots(session, person.id)))  # type: ignore[arg-type]


def _refusal(exc: FreshnessError) -> dict[str, Any]:
    """A refused selfie: the message (the identity refusal says how to confirm on this page) and hints."""
    message = exc.message
    details = exc.details or {}
    if exc.code == "not_you" and {"distance", "radius", "compared_with"} <= details.keys():
        n = len(details["compared_with"])
        for back in (False, True):
            if words.identity_refusal(details["distance"], n, details["radius"], back_dated=back) == exc.message:
                message = words.identity_refusal(details["distance"], n, details["radius"], back_dated=back,
                                                 confirm=words.WEB_CONFIRM_IDENTITY)
    hints = [m["hint"] for m in details.get("measures", []) if not m.get("ok") and m.get("hint")] \
        if isinstance(details.get("measures"), list) else []
    return {"code": exc.code, "message": message, "hints": hints}


@router.post("/me/checkin")
async def checkin_upload(request: Request) -> Response:
    form = await _read_form(request)
    uploads = await _uploads(form, "images")
    confirm = form.get("confirm_identity") == "1"
    await form.close()

    def work() -> Response:
        from freshness.checkins import active_headshots, add_checkin, checkin_entry, verdicts_after_checkin
        from freshness.reminders import evaluate_person, policy_for

        settings = settings_of(request)
        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            tz = person.timezone
            if not uploads:
                return _render(request, "checkin.html", person, title="Check in", results=None, verdicts=None,
                               has_headshot=bool(active_headshots(session, person.id)),  # type: ignore[arg-type]
                               error="Choose at least one photo (or take one with the camera).", status_code=400)
            ctx = get_context(settings)
            policy = policy_for(person)
            # each result in the shape `freshness checkin --json` and the API answer, plus what the page shows
            results: list[dict[str, Any]] = []
            for up in uploads:
                try:
                    res = add_checkin(session, ctx, person, up.data, now=_now(), confirm_identity=confirm)
                except (ImageRejected, UsageError) as exc:
                    results.append({"file": up.name, "accepted": False, "error": exc.as_dict(),
                                    "text": words.checkin_refused(up.name, exc.message), **_refusal(exc)})
                    continue
                entry = checkin_entry(res, policy.bands)
                results.append({
                    "file": up.name, **entry,
                    "text": words.checkin_accepted(up.name, entry["checkin_id"], entry["taken_at"], tz,
                                                   entry["taken_at_source"]),
                    "lines": [words.distance_line(d) for d in entry["distances"]],
                    "identity_note": entry["identity"]["note"],
                })
            now = _now()
            accepted = sum(1 for r in results if r["accepted"])
            if accepted:
                evaluate_person(session, person, now, settings, now=now)
            # each active headshot's verdict once these selfies count (as `freshness checkin` prints them)
            verdicts = verdicts_after_checkin(session, person, results, now)
            return _render(request, "checkin.html", person, title="Check-in results", results=results,
                           verdicts=verdicts, has_headshot=bool(verdicts), accepted=accepted,
                           refused=len(results) - accepted, chart_version=f"{accepted}-{int(now.timestamp())}")

    return await run_in_threadpool(work)


# ---------------------------------------------------------------- history

@router.get("/me/history")
def history_page(request: Request, session: Session = Depends(db)) -> Response:
    from freshness.reports import history

    person = _signed_in(request, session)
    data = history(session, person)
    tz = person.timezone
    heads = data["headshots"]
    rows = []
    for r in data["rows"]:
        rows.append({"checkin_id": r["checkin_id"], "taken": words.local_time(r["taken_at"], tz),
                     "cells": [(words.distance_text(d["distance"], d["distance_band"]),
                                words.distance_text(d["level"], d["band"])) for d in r["distances"]]})
    timelines = []
    for i, h in enumerate(heads):
        selfies = [{"checkin_id": r["checkin_id"], "day": words.local_date(r["taken_at"], tz),
                    "distance": words.distance_text(r["distances"][i]["distance"], r["distances"][i]["distance_band"]),
                    "band": r["distances"][i]["distance_band"]}
                   for r in data["rows"] if r["distances"][i]["distance"] is not None]
        timelines.append({**h, "name": words.headshot_name(h["platform"]), "selfies": selfies,
                          "retired": words.local_date(h["retired_at"], tz) if h["retired_at"] else None})
    unmatched = [] if heads else [{"checkin_id": r["checkin_id"], "day": words.local_date(r["taken_at"], tz)}
                                  for r in data["rows"]]
    return _render(request, "history.html", person, title="History", headshots=heads, rows=rows,
                   timelines=timelines, unmatched=unmatched, chart_version=str(len(data["rows"])))


@router.get("/me/history.svg")
def history_chart(request: Request, session: Session = Depends(db)) -> Response:
    """The chart `freshness history --plot FILE.svg` draws, as of now."""
    from freshness import plot
    from freshness.reminders import policy_for
    from freshness.reports import plot_series

    person = _signed_in(request, session)
    now = _now()
    series = plot_series(session, person, now)
    with tempfile.TemporaryDirectory(prefix="freshness-plot-") as tmp:
        path = Path(tmp) / "history.svg"
        with _PLOT_LOCK:
            plot.draw(path, f"{person.name}: headshot likeness over time", series, now,
                      policy_for(person).drift_horizon_days)
        body = path.read_bytes()
    return Response(body, media_type="image/svg+xml",
                    headers={"cache-control": "no-store", "content-security-policy": SVG_CSP})


@router.get("/me/history.csv")
def history_csv(request: Request, session: Session = Depends(db)) -> Response:
    from freshness.reports import history, history_csv

    person = _signed_in(request, session)
    return Response(history_csv(history(session, person)), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="freshness-history.csv"',
                             "cache-control": "no-store"})


# ---------------------------------------------------------------- headshots: rank candidates, register one

def _hold_dir(settings: Settings, person_id: int) -> Path:
    return settings.home / "web-candidates" / str(person_id)


def _purge_held(settings: Settings, person_id: int | None = None) -> None:
    """Drop held candidates older than HOLD_SECONDS (all of a person's with ``person_id``)."""
    if person_id is not None:
        shutil.rmtree(_hold_dir(settings, person_id), ignore_errors=True)
        return
    root = settings.home / "web-candidates"
    cutoff = _time.time() - HOLD_SECONDS
    for path in root.glob("*/*") if root.is_dir() else []:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass


def _hold(settings: Settings, person_id: int, data: bytes, name: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    folder = _hold_dir(settings, person_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{digest}.img").write_bytes(data)
    (folder / f"{digest}.name").write_text(name)
    return digest


def _held(settings: Settings, person_id: int, digest: str) -> tuple[str, bytes] | None:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    folder = _hold_dir(settings, person_id)
    try:
        return (folder / f"{digest}.name").read_text(), (folder / f"{digest}.img").read_bytes()
    except FileNotFoundError:
        return None


def _headshots_page(request: Request, session: Session, person: Person, *, status_code: int = 200,
                    **context: Any) -> Response:
    from freshness.checkins import MIN_RANK_SELFIES, PLATFORMS, active_headshots

    selfies = session.exec(select(Checkin.id).where(Checkin.person_id == person.id)).all()
    today = _now().astimezone(ZoneInfo(person.timezone)).date()
    context.setdefault("ranking", None)
    context.setdefault("added", None)
    return _render(request, "rank.html", person, status_code=status_code, title="Headshots",
                   active=[{"id": h.id, "name": words.headshot_name(h.platform),
                            "published": h.published_on.isoformat(), "ai": h.ai_generated, "disclosed": h.disclosed}
                           for h in active_headshots(session, person.id)],  # type: ignore[arg-type]
                   can_rank=len(selfies) >= MIN_RANK_SELFIES,
                   rank_needs=words.rank_needs_selfies(len(selfies), MIN_RANK_SELFIES),
                   platforms=[(p, words.PLATFORM_NAMES.get(p, p)) for p in PLATFORMS], today=today.isoformat(),
                   **context)


@router.get("/me/rank")
def rank_page(request: Request, session: Session = Depends(db)) -> Response:
    person = _signed_in(request, session)
    _purge_held(settings_of(request))  # candidates held past their hour
    return _headshots_page(request, session, person)


@router.post("/me/rank")
async def rank_upload(request: Request) -> Response:
    form = await _read_form(request)
    uploads = await _uploads(form, "candidates")
    await form.close()

    def work() -> Response:
        from freshness.checkins import current_headshot_medians, rank_candidates
        from freshness.likeness import band
        from freshness.reminders import policy_for

        settings = settings_of(request)
        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            if not uploads:
                return _headshots_page(request, session, person, status_code=400,
                                       error="Choose at least one candidate headshot.")
            policy = policy_for(person)
            try:
                used, ranked = rank_candidates(session, get_context(settings), person,
                                               [(u.name, u.data) for u in uploads])
            except UsageError as exc:
                return _headshots_page(request, session, person, status_code=400, error=exc.message)
            current = current_headshot_medians(session, person, used)
            _purge_held(settings)
            by_name = {u.name: u.data for u in uploads}
            items = []
            for position, c in enumerate(ranked, start=1):
                if c.error is not None:
                    items.append({"rank": None, "file": c.name, "refused": words.checkin_refused(c.name, c.error.message)})
                    continue
                median = round(c.median, 4)  # type: ignore[arg-type]
                items.append({
                    "rank": position, "file": c.name,
                    "distance": words.distance_text(median, band(median, policy.bands)),
                    "band": band(median, policy.bands),
                    "warning": words.rank_warning(median, policy.abs_threshold) if median >= policy.abs_threshold
                    else None,
                    "thumb": "data:image/jpeg;base64," + base64.b64encode(c.analysis.thumbnail_jpeg).decode()
                    if c.analysis else None,
                    "held": _hold(settings, person.id, by_name[c.name], c.name),  # type: ignore[arg-type]
                })
            newest = used[0].taken_at
            ranking = {
                "compared": (f"compared with the {len(used)} most recent selfie(s) of {person.name} "
                             f"(taken {words.local_date(used[-1].taken_at, person.timezone)} to "
                             f"{words.local_date(newest, person.timezone)})"),
                "stale": words.stale_selfies_warning(newest, person.timezone)
                if _now() - newest > timedelta(days=365) else None,
                "items": items,
                "current": [{"name": f"current headshot #{h.id} ({h.platform})",
                             "distance": words.distance_text(d, band(d, policy.bands)), "band": band(d, policy.bands)}
                            for h, d in current],
                "flag": words.RANK_FLAG,
            }
            return _headshots_page(request, session, person, ranking=ranking)

    return await run_in_threadpool(work)


@router.post("/me/headshots")
async def headshot_register(request: Request) -> Response:
    form = await _read_form(request)
    uploads = await _uploads(form, "image")
    await form.close()

    def work() -> Response:
        from freshness.checkins import add_headshot

        settings = settings_of(request)
        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            held = str(form.get("held") or "")
            image: tuple[str, bytes] | None
            if held:
                image = _held(settings, person.id, held)  # type: ignore[arg-type]
                if image is None:
                    return _headshots_page(request, session, person, status_code=410, error=words.CANDIDATE_GONE)
            else:
                image = (uploads[0].name, uploads[0].data) if uploads else None
                if image is None:
                    return _headshots_page(request, session, person, status_code=400,
                                           error="Choose the headshot image you publish.")
            try:
                published = _form_date(form.get("published"), "the publication date") \
                    if form.get("published") else None
                result = add_headshot(session, get_context(settings), person, image[1],
                                      platform=str(form.get("platform") or ""), now=_now(), published_on=published,
                                      ai_generated=form.get("ai") == "1", disclosed=form.get("disclosed") == "1",
                                      published_with_label=form.get("published_with_label") == "1")
            except (ImageRejected, UsageError) as exc:
                return _headshots_page(request, session, person, status_code=400,
                                       error=words.checkin_refused(image[0], exc.message)
                                       if isinstance(exc, ImageRejected) else exc.message)
            h = result.headshot
            if held:
                _purge_held(settings, person.id)
            added = {"text": words.headshot_added(h.id, person.name, h.platform, h.published_on,  # type: ignore[arg-type]
                                                  h.ai_generated, h.disclosed),
                     "provenance": words.provenance_text(h.provenance),
                     "warnings": result.warnings, "backfilled": result.backfilled}
            return _headshots_page(request, session, person, added=added)

    return await run_in_threadpool(work)


# ---------------------------------------------------------------- settings, tokens, privacy

_ZONES: list[str] = []


def _zones() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))
    return _ZONES


def _settings_page(request: Request, session: Session, person: Person, *, status_code: int = 200,
                   **context: Any) -> Response:
    from freshness.channels import channel_dict, list_channels
    from freshness.people import SECTORS, list_tokens
    from freshness.privacy import NOTICE_VERSION, notice_text
    from freshness.reminders import policy_for
    from freshness.rules import Policy

    tz = person.timezone
    tokens = [{"id": t.id, "label": t.label or "(no label)", "created": words.local_time(t.created_at, tz),
               "last_used": words.local_time(t.last_used_at, tz) if t.last_used_at else "never",
               "revoked": words.local_time(t.revoked_at, tz) if t.revoked_at else None}
              for t in list_tokens(session, person)]
    channels = []
    for c in list_channels(session, person):
        d = channel_dict(c)
        state = "enabled" if d["enabled"] else "disabled" + (
            f" since {words.local_date(d['disabled_at'], tz)}" if d["disabled_at"] else "") + (
            f": {d['disabled_reason']}" if d["disabled_reason"] else "")
        channels.append({**d, "state": state})
    effective = policy_for(person).as_dict()
    defaults = Policy().as_dict()
    overrides = person.policy_overrides or {}
    context.setdefault("new_token", None)
    context.setdefault("policy_text", "\n".join(f"{k}={_policy_value(v)}" for k, v in overrides.items()))
    return _render(request, "settings.html", person, status_code=status_code, title="Settings",
                   tokens=tokens, channels=channels, sectors=SECTORS, zones=_zones(), hours=list(range(24)),
                   policy_rows=[{"name": k, "value": _policy_value(v), "default": _policy_value(defaults[k]),
                                 "overridden": k in overrides} for k, v in effective.items()],
                   consent_text=notice_text(settings_of(request), person.consent_version),
                   consent_current=person.consent_version == NOTICE_VERSION,
                   notice_version=NOTICE_VERSION, consent_version=person.consent_version,
                   consent_at=words.local_time(person.consent_at, tz),
                   next_prompt=words.local_time(person.next_prompt_at, tz) if person.next_prompt_at else "none",
                   notice=context.pop("notice", None) or _notice(request, session, person), **context)


def _policy_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return json.dumps(value) if not isinstance(value, str) else value


@router.get("/me/settings")
def settings_page(request: Request, session: Session = Depends(db)) -> Response:
    person = _signed_in(request, session)
    return _settings_page(request, session, person)


def _form_int(value: Any, what: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{what} must be a whole number, got {text!r}") from None


@router.post("/me/settings")
async def settings_save(request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.people import update_person

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            try:
                email = str(form.get("email") or "").strip() or None
                sector = str(form.get("sector") or "").strip() or None
                tz = str(form.get("timezone") or "").strip() or None
                every = _form_int(form.get("checkin_every"), "the check-in cadence")
                hour = _form_int(form.get("prompt_hour"), "the prompt hour")
                person.notify_resolved = form.get("notify_resolved") == "1"
                update_person(session, person, email=email, sector=sector, timezone=tz, checkin_every_days=every,
                              prompt_hour=hour, now=_now())
            except UsageError as exc:
                session.rollback()
                return _settings_page(request, session, session.get(Person, person.id), status_code=400,  # type: ignore[arg-type]
                                      error=exc.message)
        return _redirect("/me/settings?done=settings")

    return await run_in_threadpool(work)


@router.post("/me/settings/rules")
async def rules_save(request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.people import update_person

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            text = str(form.get("policy") or "")
            lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
            try:
                update_person(session, person, policy=lines, reset_policy=True, now=_now())
            except UsageError as exc:
                session.rollback()
                return _settings_page(request, session, session.get(Person, person.id), status_code=400,  # type: ignore[arg-type]
                                      error=exc.message, policy_text=text)
        return _redirect("/me/settings?done=rules#rules")

    return await run_in_threadpool(work)


@router.post("/me/tokens")
async def token_create(request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.people import create_token

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            try:
                _, token = create_token(session, person, _now(), label=str(form.get("label") or ""))
            except UsageError as exc:
                return _settings_page(request, session, person, status_code=400, error=exc.message)
            return _settings_page(request, session, person, new_token=token)

    return await run_in_threadpool(work)


@router.post("/me/tokens/{token_id}/revoke")
async def token_revoke(token_id: int, request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.people import revoke_token

        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            revoke_token(session, person, token_id, _now())
        return _redirect("/me/settings?done=token-revoked#tokens")

    return await run_in_threadpool(work)


@router.post("/me/delete")
async def delete_everything(request: Request) -> Response:
    form = await _read_form(request, limit=64 * 1024)

    def work() -> Response:
        from freshness.privacy import forget

        settings = settings_of(request)
        with _session_of(request) as session:
            person = _signed_in(request, session)
            _check_form(request, form)
            typed = str(form.get("confirm_name") or "").strip()
            if typed != person.name:
                return _settings_page(request, session, person, status_code=400,
                                      error=words.delete_name_mismatch(person.name))
            name, pid = person.name, person.id
            # everything, held candidates and inbox photos included, then the database scrubbed
            counts = forget(session, person, settings, get_context(settings).blobs, actor="web",
                            now=_now()).counts()
        response = _render(request, "deleted.html", None, title="Deleted",
                           message=words.deleted_everything(name, pid, counts))  # type: ignore[arg-type]
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return await run_in_threadpool(work)


@router.get("/me/export")
def export_download(request: Request, session: Session = Depends(db)) -> Response:
    """Download my data: the zip `freshness export` writes (README, "Export")."""
    from freshness.web.api import export_download

    person = _signed_in(request, session)
    return export_download(session, person, settings_of(request), _now(), actor="web")


@router.get("/privacy")
def privacy_notice(request: Request) -> Response:
    """The privacy notice, for anyone (before they agree to it)."""
    from freshness.privacy import notice_text

    person = _optional_person_quick(request)
    return _render(request, "privacy.html", person, title="Privacy notice",
                   notice_text=notice_text(settings_of(request)))


# ---------------------------------------------------------------- wiring

def install(app: FastAPI) -> None:
    """The pages, their static files, the security headers and the HTML error pages (call after
    ``errors.install``: the JSON handlers stay in charge outside the pages)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(SecurityHeaders)
    _install_error_pages(app)
