"""The JSON API under ``/api/v1`` (README, "API"): everything the CLI does, over HTTP.

* Who: ``Authorization: Bearer <token>`` with one of the person's API tokens (or the web
  session cookie); every route answers for the token's owner only. Another person's ids
  answer 404 exactly like ids that do not exist. ``/api/v1/persons`` takes the admin
  token (``FRESHNESS_ADMIN_TOKEN``) instead.
* What: the same service functions as the CLI, answering the same JSON shapes as its
  ``--json`` (``freshness.web.api_models`` describes them for the OpenAPI schema).
* Errors: ``{code, message, details?}`` with the CLI's codes (``freshness.web.errors``).
* Work: every endpoint is a plain ``def``, so Starlette runs it in its worker threads:
  the face analysis of a check-in, a headshot or a ranking (CPU seconds) and the database
  calls never block the event loop, and other requests are answered meanwhile.
* Size: ``freshness.web.api_limits`` refuses a body larger than its limit while it
  streams in (413).
* Docs: ``/docs`` (Swagger UI) and ``/redoc`` load their scripts and styles from the app
  itself (the files of the ``fastapi-offline`` package), never from a CDN.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Optional
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, FastAPI, File, Form, Query, Request, Response, Security, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from sqlmodel import Session

from freshness import clock
from freshness.context import Context
from freshness.errors import FreshnessError, NotFound, UsageError
from freshness.models import ApiToken, Channel, Checkin, Headshot, Person, Reminder
from freshness.web import api_models as m
from freshness.web.api_limits import MAX_FILES
from freshness.web.auth import admin, current_person, db, settings_of

PREFIX = "/api/v1"
JPEG = {200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
              "description": "A face thumbnail (JPEG, at most 256 px, no metadata)."}}
LINK_HEADER = {"Link": {"description": "The next page, when there is one: <URL>; rel=\"next\"",
                        "schema": {"type": "string"}}}

# Declares "Authorization: Bearer" in the OpenAPI schema (the Authorize button of /docs); the
# checking itself is ``current_person`` / ``admin``.
BEARER = HTTPBearer(auto_error=False, scheme_name="token",
                    description="Your API token (freshness token create PERSON); the admin token for /persons.")
_QUERY_NAMES: dict[int, frozenset[str]] = {}


def known_query_only(request: Request) -> None:
    """Refuse query parameters the route does not take: a misspelt ``?asof=`` would otherwise
    be ignored without a word, and the answer would be about another time than asked."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        found: set[str] = set()
        stack = [dependant]
        while stack:
            d = stack.pop()
            found |= {f.alias for f in d.query_params}
            stack.extend(d.dependencies)
        names = _QUERY_NAMES[id(route)] = frozenset(found)
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        takes = f"this route takes {', '.join(sorted(names))}" if names else "this route takes none"
        raise InvalidRequest(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in unknown)}: {takes}",
            details={"problems": [{"where": f"query.{name}", "problem": "unknown query parameter"}
                                  for name in unknown]})


class InvalidRequest(FreshnessError):
    """The request does not fit the route (as a schema validation error: 422 invalid_request)."""

    http_status = 422
    code = "invalid_request"


router = APIRouter(prefix=PREFIX, responses=m.ERRORS, dependencies=[Security(BEARER), Depends(known_query_only)])
admin_router = APIRouter(prefix=PREFIX, responses=m.ADMIN_ERRORS,
                         dependencies=[Security(BEARER), Depends(known_query_only), Depends(admin)], tags=["admin"])

Me = Annotated[Person, Depends(current_person)]
DB = Annotated[Session, Depends(db)]


def _context(request: Request) -> Context:
    return Context(settings_of(request))


Ctx = Annotated[Context, Depends(_context)]


def _owned(session: Session, model: Any, ident: int, person: Person, what: str) -> Any:
    """One of the person's rows; another person's row is 'not found', word for word as a missing one."""
    row = session.get(model, ident) if 0 < ident < 2**63 else None
    if row is None or row.person_id != person.id:
        raise NotFound(f"you have no {what} with id {ident}")
    return row


def _parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{field} {value!r} is not a date: use YYYY-MM-DD") from None


def _as_of(value: Optional[str], person: Person) -> datetime:
    from freshness.checkins import parse_as_of

    return parse_as_of(value, person.timezone, clock.utcnow(), option="as_of")


def _uploads(uploads: list[UploadFile], what: str) -> list[tuple[str, Any]]:
    """(name, read) of each uploaded file: read() gives its bytes (Starlette keeps a large
    upload in a temporary file until then)."""
    if len(uploads) > MAX_FILES:
        raise UsageError(f"send at most {MAX_FILES} {what} in one request, not {len(uploads)}")
    return [(u.filename or f"{what[:-1]} {i}", u.file.read) for i, u in enumerate(uploads, start=1)]


def _files(uploads: list[UploadFile], what: str) -> list[tuple[str, bytes]]:
    return [(name, read()) for name, read in _uploads(uploads, what)]


def _link_next(request: Request, response: Response, **params: Any) -> None:
    url = request.url.include_query_params(**params)
    response.headers["Link"] = f"<{url.path}?{url.query}>; rel=\"next\""


# ---------------------------------------------------------------- me


@router.get("/me", response_model=m.PersonOut, tags=["me"], summary="Your details and settings")
def get_me(person: Me) -> Any:
    from freshness.people import person_dict

    return person_dict(person)


@router.patch("/me", response_model=m.PersonOut, tags=["me"],
              summary="Change your details, check-in cadence and hour, time zone, sector, rule overrides")
def patch_me(change: m.PersonPatch, person: Me, session: DB) -> Any:
    from freshness.people import person_dict, update_person

    if change.notify_resolved is not None:  # saved with the other changes, or not at all
        person.notify_resolved = change.notify_resolved
    policy = [f"{name}={json.dumps(value)}" for name, value in (change.policy or {}).items()]
    # everything is validated before anything is saved; a refusal leaves the session uncommitted
    person = update_person(session, person, email=change.email, sector=change.sector, timezone=change.timezone,
                           checkin_every_days=change.checkin_every_days, prompt_hour=change.prompt_hour,
                           policy=policy, reset_policy=change.reset_policy, now=clock.utcnow())
    return person_dict(person)


@router.delete("/me", response_model=m.Deleted, tags=["me"],
               summary="Delete yourself and everything stored about you, withdrawing your consent "
                       "(give your name to confirm)")
def delete_me(confirm: Annotated[m.DeleteMe, Body()], person: Me, session: DB, ctx: Ctx) -> Any:
    from freshness.privacy import forget

    if confirm.confirm != person.name:
        raise UsageError(f"this deletes {person.name} (#{person.id}) and all their data (headshots, check-ins, "
                         f"reminders, channels, tokens) and cannot be undone: send {{\"confirm\": "
                         f"{json.dumps(person.name)}}} to confirm")
    ref = {"id": person.id, "name": person.name}
    done = forget(session, person, ctx.settings, ctx.blobs, actor="api", now=clock.utcnow())
    return {"person": ref, **done.counts()}


@router.get("/me/export", response_class=Response, tags=["me"],
            responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "A zip: freshness.json and the stored images (README, \"Export\")."}},
            summary="Download everything stored about you (a zip that `freshness import` reads)")
def get_export(person: Me, session: DB, ctx: Ctx) -> Response:
    return export_download(session, person, ctx.settings, clock.utcnow(), actor="api")


def export_download(session: Session, person: Person, settings: Any, now: datetime, actor: str) -> Response:
    """The zip `freshness export` writes, as a download (the API's and the Settings page's)."""
    import tempfile

    from fastapi.responses import StreamingResponse

    from freshness.export import export_person

    # in memory up to 16 MB, then in an unnamed temporary file (gone when closed)
    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    try:
        export_person(session, person, settings, out, now, actor=actor)
        out.seek(0)
    except BaseException:
        out.close()
        raise

    def chunks() -> Any:
        with out:
            while chunk := out.read(1024 * 1024):
                yield chunk

    name = f"freshness-export-{person.id}.zip"
    return StreamingResponse(chunks(), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


@router.post("/me/calendar", response_model=m.CalendarOut, tags=["me"],
             summary="A new calendar feed address (shown once; an earlier one stops working)")
def new_calendar(request: Request, person: Me, session: DB) -> Any:
    from freshness.links import calendar_feed
    from freshness.people import new_calendar_token

    token, revoked = new_calendar_token(session, person)
    return {"person": {"id": person.id, "name": person.name}, "url": calendar_feed(settings_of(request), token),
            "revoked": revoked}


@router.delete("/me/calendar", response_model=m.CalendarOut, tags=["me"], summary="Stop your calendar feed")
def revoke_calendar(person: Me, session: DB) -> Any:
    from freshness.people import revoke_calendar_token

    revoked = revoke_calendar_token(session, person)
    return {"person": {"id": person.id, "name": person.name}, "url": None, "revoked": revoked}


# ---------------------------------------------------------------- tokens


@router.get("/tokens", response_model=list[m.TokenOut], tags=["tokens"], summary="Your API tokens")
def get_tokens(person: Me, session: DB) -> Any:
    from freshness.people import list_tokens, token_dict

    return [token_dict(t) for t in list_tokens(session, person)]


@router.post("/tokens", response_model=m.TokenCreated, status_code=201, tags=["tokens"],
             summary="A new API token (shown once)")
def post_token(person: Me, session: DB, body: Annotated[Optional[m.TokenIn], Body()] = None) -> Any:
    from freshness.people import create_token, token_dict

    row, token = create_token(session, person, clock.utcnow(), label=body.label if body else None)
    return {**token_dict(row), "token": token}


@router.delete("/tokens/{token_id}", response_model=m.TokenOut, tags=["tokens"],
               summary="Revoke one of your API tokens")
def delete_token(token_id: int, person: Me, session: DB) -> Any:
    from freshness.people import revoke_token, token_dict

    _owned(session, ApiToken, token_id, person, "API token")
    return token_dict(revoke_token(session, person, token_id, clock.utcnow()))


# ---------------------------------------------------------------- headshots


@router.get("/headshots", response_model=list[m.HeadshotOut], response_model_exclude_unset=True,
            tags=["headshots"], summary="Your headshots, retired ones included")
def get_headshots(person: Me, session: DB) -> Any:
    from freshness.checkins import list_headshots
    from freshness.reports import headshot_dict

    return [headshot_dict(h) for h in list_headshots(session, person)]


@router.post("/headshots", response_model=m.HeadshotAdded, response_model_exclude_unset=True, status_code=201,
             tags=["headshots"], summary="Register a published headshot (multipart: image and its facts)")
def post_headshot(
    person: Me, session: DB, ctx: Ctx,
    image: Annotated[UploadFile, File(description="The published headshot: JPEG, PNG, WebP or HEIC.")],
    platform: Annotated[str, Form(description="linkedin, resume, portfolio, website, github, x, company or other.")],
    published: Annotated[Optional[str], Form(description="Publication date YYYY-MM-DD (default today).")] = None,
    ai: Annotated[Optional[bool], Form(description="It is AI-generated (default: yes; a file labelled as "
                                                   "AI-generated is recorded so unless this is false).")] = None,
    disclosed: Annotated[bool, Form(description="It is labelled as AI-generated where published.")] = False,
    published_with_label: Annotated[bool, Form(description="This very file is published with its embedded AI "
                                                           "label (counts while the label is intact).")] = False,
) -> Any:
    from freshness.checkins import add_headshot
    from freshness.reports import headshot_dict

    published_on = _parse_day(published, "published") if published else None
    data = _files([image], "images")[0][1]
    result = add_headshot(session, ctx, person, data, platform=platform, now=clock.utcnow(),
                          published_on=published_on, ai_generated=ai, disclosed=disclosed,
                          published_with_label=published_with_label)
    return {**headshot_dict(result.headshot), "warnings": result.warnings, "backfilled_checkins": result.backfilled}


@router.post("/headshots/rank", response_model=m.RankReport, response_model_exclude_unset=True, tags=["headshots"],
             summary="Rank candidate headshots by how much they look like you now (nothing stored)")
def rank_headshots(
    person: Me, session: DB, ctx: Ctx,
    candidates: Annotated[list[UploadFile], File(description=f"1 to {MAX_FILES} candidate images.")],
    selfies: Annotated[int, Form(description="Compare with this many most recent selfies (at least 3).")] = 5,
) -> Any:
    from freshness.checkins import rank_report

    return rank_report(session, ctx, person, _files(candidates, "candidates"), now=clock.utcnow(), recent=selfies)


@router.get("/headshots/{headshot_id}", response_model=m.HeadshotOut, response_model_exclude_unset=True,
            tags=["headshots"], summary="One of your headshots")
def get_headshot(headshot_id: int, person: Me, session: DB) -> Any:
    from freshness.reports import headshot_dict

    return headshot_dict(_owned(session, Headshot, headshot_id, person, "headshot"))


@router.patch("/headshots/{headshot_id}", response_model=m.HeadshotChanged, response_model_exclude_unset=True,
              tags=["headshots"], summary="Change what is known about a headshot")
def patch_headshot(headshot_id: int, change: m.HeadshotPatch, person: Me, session: DB) -> Any:
    from freshness.checkins import update_headshot
    from freshness.reports import headshot_dict

    _owned(session, Headshot, headshot_id, person, "headshot")
    published_on = _parse_day(change.published_on, "published_on") if change.published_on else None
    h, changed = update_headshot(session, headshot_id, now=clock.utcnow(), platform=change.platform,
                                 published_on=published_on, ai_generated=change.ai_generated,
                                 disclosed=change.disclosed, published_with_label=change.published_with_label)
    return {**headshot_dict(h), "changed": changed}


@router.post("/headshots/{headshot_id}/retire", response_model=m.HeadshotOut, response_model_exclude_unset=True,
             tags=["headshots"], summary="Retire a headshot (no more reminders; its history is kept)")
def retire_headshot(headshot_id: int, person: Me, session: DB) -> Any:
    from freshness.checkins import retire_headshot as retire
    from freshness.reports import headshot_dict

    _owned(session, Headshot, headshot_id, person, "headshot")
    return headshot_dict(retire(session, headshot_id, clock.utcnow()))


EXPORTED = {200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                              "image/png": {"schema": {"type": "string", "format": "binary"}}},
                  "description": "The headshot as a file to publish: IPTC digital source type in its XMP, no EXIF "
                                 "or GPS of the original, with label=true a visible AI-generated caption."}}


@router.get("/headshots/{headshot_id}/export", response_class=Response, responses=EXPORTED, tags=["headshots"],
            summary="Download an AI-generated headshot labelled for publishing (JPEG or PNG)")
def export_headshot(
    headshot_id: int, person: Me, session: DB, ctx: Ctx,
    label: Annotated[bool, Query(description="Also draw a visible \"AI-generated\" caption on it.")] = False,
    format: Annotated[Literal["jpeg", "png"], Query(description="The file format.")] = "jpeg",
) -> Response:
    from freshness.provenance import export_headshot as export

    h = _owned(session, Headshot, headshot_id, person, "headshot")
    data = export(ctx, h, fmt=format.upper(), caption=label)
    name = f"headshot-{h.id}-ai-labelled{'-captioned' if label else ''}.{'jpg' if format == 'jpeg' else 'png'}"
    return Response(data, media_type=f"image/{format}",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _thumbnail(ctx: Context, digest: str) -> Response:
    try:
        data = ctx.blobs.get(digest)
    except (FileNotFoundError, ValueError):
        raise NotFound("the thumbnail's file is missing from the file store") from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@router.get("/headshots/{headshot_id}/thumbnail", response_class=Response, responses=JPEG, tags=["headshots"],
            summary="A headshot's face thumbnail (JPEG)")
def headshot_thumbnail(headshot_id: int, person: Me, session: DB, ctx: Ctx) -> Response:
    return _thumbnail(ctx, _owned(session, Headshot, headshot_id, person, "headshot").thumb_digest)


# ---------------------------------------------------------------- check-ins


@router.post("/checkins", response_model=m.CheckinReport, response_model_exclude_unset=True, tags=["checkins"],
             summary="Check in with one or more selfies: each is accepted (distances, quality) or refused (why)")
def post_checkins(
    person: Me, session: DB, ctx: Ctx,
    images: Annotated[list[UploadFile], File(description=f"1 to {MAX_FILES} selfies.")],
    taken_at: Annotated[Optional[str], Form(description="When they were taken, YYYY-MM-DD or YYYY-MM-DDTHH:MM "
                                                        "in your time zone (default: the photo's EXIF date, "
                                                        "else now).")] = None,
    confirm_identity: Annotated[bool, Form(description="It is me: accept selfies that do not look like my "
                                                       "earlier ones instead of refusing them as not_you.")] = False,
) -> Any:
    from freshness.checkins import check_in, parse_taken

    taken = parse_taken(taken_at, person) if taken_at else None
    # one image in memory at a time: each is read when its turn comes
    return check_in(session, ctx, person, _uploads(images, "images"), clock=clock.utcnow, taken_at=taken,
                    confirm_identity=confirm_identity)


@router.get("/checkins/{checkin_id}/thumbnail", response_class=Response, responses=JPEG, tags=["checkins"],
            summary="A check-in selfie's face thumbnail (JPEG)")
def checkin_thumbnail(checkin_id: int, person: Me, session: DB, ctx: Ctx) -> Response:
    return _thumbnail(ctx, _owned(session, Checkin, checkin_id, person, "check-in").thumb_digest)


# ---------------------------------------------------------------- status and history


@router.get("/status", response_model=m.StatusOut, tags=["reports"],
            summary="Each active headshot: verdict, distances, baseline, level, band, trend, reminders")
def get_status(person: Me, session: DB,
               as_of: Annotated[Optional[str], Query(description="A date (the end of that day in your time "
                                                                 "zone) or an ISO time; default now.")] = None) -> Any:
    from freshness.reports import status

    return status(session, person, _as_of(as_of, person))


@router.get("/history", response_model=m.HistoryOut, tags=["reports"],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, or CSV with format=csv"}},
            summary="One row per check-in with each headshot's distance, level and band (JSON or CSV)")
def get_history(person: Me, session: DB,
                format: Annotated[str, Query(pattern="^(json|csv)$", description="json or csv")] = "json",
                headshot: Annotated[Optional[int], Query(description="Only this headshot.")] = None) -> Any:
    from freshness.reports import history, history_csv

    if headshot is not None:
        _owned(session, Headshot, headshot, person, "headshot")
    data = history(session, person, headshot)
    if format == "csv":
        return Response(history_csv(data), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="freshness-history.csv"'})
    return data


# ---------------------------------------------------------------- reminders


@router.get("/reminders", response_model=list[m.ReminderOut], response_model_exclude_unset=True, tags=["reminders"],
            summary="Evaluate your reminders now (recording changes) and list the unresolved ones; "
                    "a future as_of is a preview that records nothing")
def get_reminders(request: Request, person: Me, session: DB,
                  as_of: Annotated[Optional[str], Query(description="A date or an ISO time; default now. A day "
                                                                    "still to come previews.")] = None) -> Any:
    from freshness.reminders import evaluate_person, preview_dict, preview_person, reminder_dict, unresolved

    now = clock.utcnow()
    when = _as_of(as_of, person)
    if when > now:  # the record follows the real clock: a look ahead records nothing
        return [preview_dict(p, person, when) for p in preview_person(session, person, when)]
    evaluate_person(session, person, when, settings_of(request), now=now)
    return [reminder_dict(r, person) for r in unresolved(session, person)]


@router.post("/reminders/{reminder_id}/ack", response_model=m.AckOut, tags=["reminders"],
             summary="Acknowledge a reminder: it stays until its condition clears but is not notified again")
def ack_reminder(reminder_id: int, person: Me, session: DB) -> Any:
    from freshness.reminders import acknowledge, reminder_dict

    _owned(session, Reminder, reminder_id, person, "reminder")
    r, changed = acknowledge(session, reminder_id, clock.utcnow())
    return {**reminder_dict(r, person), "changed": changed}


@router.post("/reminders/{reminder_id}/snooze", response_model=m.ReminderOut, tags=["reminders"],
             summary="Snooze a reminder until a date; it re-opens then if its condition still holds")
def snooze_reminder(reminder_id: int, body: m.SnoozeIn, person: Me, session: DB) -> Any:
    from freshness.reminders import reminder_dict, snooze

    _owned(session, Reminder, reminder_id, person, "reminder")
    day = _parse_day(body.until, "until")
    try:
        when = datetime.combine(day, time(0, 0), ZoneInfo(person.timezone)).astimezone(timezone.utc)
    except OverflowError:
        raise UsageError(f"until {body.until!r} is not a usable date") from None
    return reminder_dict(snooze(session, reminder_id, when, clock.utcnow()), person)


# ---------------------------------------------------------------- channels and notifications


@router.get("/channels", response_model=list[m.ChannelOut], tags=["channels"],
            summary="Where your reminders and prompts go (credentials masked)")
def get_channels(person: Me, session: DB) -> Any:
    from freshness.channels import channel_dict, list_channels

    return [channel_dict(c) for c in list_channels(session, person)]


@router.post("/channels", response_model=m.ChannelAdded, status_code=201, tags=["channels"],
             summary="Add a channel: e-mail, Apprise URL or signed webhook (a webhook's secret is shown once)")
def post_channel(request: Request, body: m.ChannelIn, person: Me, session: DB) -> Any:
    from freshness.channels import add_channel, channel_dict

    added = add_channel(session, person, body.kind, body.target, clock.utcnow(), settings_of(request))
    return {**channel_dict(added.channel), "secret": added.secret, "warnings": added.warnings}


@router.delete("/channels/{channel_id}", response_model=m.ChannelRemoved, tags=["channels"],
               summary="Remove a channel (its pending messages are cancelled first)")
def delete_channel(channel_id: int, person: Me, session: DB) -> Any:
    from freshness.channels import mask_target, remove_channel

    channel = _owned(session, Channel, channel_id, person, "channel")
    kind, target = channel.kind, mask_target(channel.kind, channel.target)
    cancelled = remove_channel(session, channel, clock.utcnow())
    return {"id": channel_id, "kind": kind, "target": target, "cancelled": cancelled}


@router.post("/channels/{channel_id}/test", response_model=m.ChannelTestOut, tags=["channels"],
             summary="Send a test message now and report the result (a permanent error disables the channel)")
def test_channel(request: Request, channel_id: int, person: Me, session: DB) -> Any:
    from freshness.channels import send_test

    channel = _owned(session, Channel, channel_id, person, "channel")
    return send_test(session, channel, settings_of(request), clock.utcnow).as_dict()


@router.post("/channels/{channel_id}/enable", response_model=m.ChannelEnabled, tags=["channels"],
             summary="Enable a channel again after fixing what disabled it")
def enable_channel(channel_id: int, person: Me, session: DB) -> Any:
    from freshness.channels import channel_dict, enable_channel as enable

    channel = _owned(session, Channel, channel_id, person, "channel")
    changed = enable(session, channel)
    return {**channel_dict(channel), "changed": changed}


@router.get("/notifications", response_model=list[m.NotificationOut], response_model_exclude_unset=True,
            tags=["channels"], responses={200: {"headers": LINK_HEADER, "description": "Newest first"}},
            summary="The delivery log: your messages and, per channel, their state, attempts and errors")
def get_notifications(
    request: Request, response: Response, person: Me, session: DB,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 50,
    before: Annotated[Optional[int], Query(ge=1, lt=2**63, description="Only those older than this notification id.")] = None,
) -> Any:
    from freshness.channels import delivery_log

    entries, more = delivery_log(session, person, limit=limit, before=before)
    if more:
        _link_next(request, response, limit=limit, before=entries[-1].notification.id)
    return [e.as_dict() for e in entries]


# ---------------------------------------------------------------- admin: persons


@admin_router.post("/persons", response_model=m.PersonCreated, status_code=201,
                   summary="Register a person (admin token); answers their first API token, shown once")
def post_person(request: Request, body: m.PersonIn, session: DB) -> Any:
    from freshness.people import add_person, person_dict

    settings = settings_of(request)
    person, token = add_person(
        session, body.name, consent=body.consent, now=clock.utcnow(), email=body.email, sector=body.sector,
        timezone=body.timezone,
        checkin_every_days=body.checkin_every_days if body.checkin_every_days is not None
        else settings.default_checkin_every_days,
        prompt_hour=body.prompt_hour if body.prompt_hour is not None else settings.default_prompt_hour,
    )
    return {**person_dict(person), "token": token}


@admin_router.get("/persons", response_model=list[m.PersonOut], responses={200: {"headers": LINK_HEADER}},
                  summary="People, by id, one page at a time (admin token)")
def get_persons(
    request: Request, response: Response, session: DB,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 50,
    after: Annotated[int, Query(ge=0, lt=2**63, description="Only those with a larger id (the next page).")] = 0,
) -> Any:
    from freshness.people import person_dict

    from freshness.people import list_people

    people = list_people(session, limit=limit + 1, after=after)
    if len(people) > limit:
        people = people[:limit]
        _link_next(request, response, limit=limit, after=people[-1].id)
    return [person_dict(p) for p in people]


# ---------------------------------------------------------------- wiring


def _offline_docs(app: FastAPI) -> None:
    """Replace FastAPI's /docs and /redoc (which load their scripts from a CDN) with pages whose
    every asset the app serves itself."""
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.staticfiles import StaticFiles

    assets = "/docs-assets"
    replaced = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in replaced]
    app.mount(assets, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-assets")
    title, openapi_url = app.title, app.openapi_url or "/openapi.json"
    oauth2 = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{title} - API", oauth2_redirect_url=f"{root}{oauth2}",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js", swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon.png", swagger_ui_parameters=app.swagger_ui_parameters)

    @app.get(oauth2, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{openapi_url}", title=f"{title} - API",
                              redoc_js_url=f"{root}{assets}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{assets}/favicon.png", with_google_fonts=False)


def install(app: FastAPI) -> None:
    """Add the API routes and the offline docs to the app (``create_app`` calls this)."""
    app.include_router(router)
    app.include_router(admin_router)
    _offline_docs(app)
