"""The calendar feed: ``GET /calendar/{token}.ics`` (README, "Calendar feed").

A person subscribes to it from any calendar app. It holds, for each active headshot, an
all-day event on the day it becomes due for a refresh and one on the day it becomes
overdue, and the next check-in at the time its prompt goes out, in the person's time
zone. UIDs are stable (``headshot-<id>-refresh-due@<host>``, ``person-<id>-next-checkin@<host>``),
so a calendar app updates an event when its date moves instead of adding a second one.

The token is the feed's own revocable secret (``freshness person calendar``): only its
sha256 is stored. An unknown or revoked token is answered exactly like a path that does
not exist.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, select

from freshness import words
from freshness.config import Settings
from freshness.db import get_engine
from freshness.models import Headshot, Person

CONTENT_TYPE = "text/calendar; charset=utf-8"
CHECKIN_MINUTES = 15
PATH = "/calendar/{token}.ics"


def _uid_domain(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "freshness"


def build_calendar(session: Session, person: Person, settings: Settings, now: datetime) -> bytes:
    """The person's feed as iCalendar bytes (RFC 5545)."""
    from icalendar import Calendar, Event

    from freshness.links import checkin_page, person_page
    from freshness.reminders import policy_for
    from freshness.rules import refresh_dates

    domain = _uid_domain(settings)
    policy = policy_for(person, settings)
    link = person_page(settings)
    cal = Calendar()
    cal.add("prodid", "-//freshness//headshot reminders//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", words.calendar_name(person.name))
    cal.add("x-wr-timezone", person.timezone)
    # ask subscribers to refetch twice a day (dates move when a headshot or a check-in changes)
    cal.add("refresh-interval", timedelta(hours=12), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT12H")
    stamp = now.astimezone(timezone.utc)

    headshots = session.exec(
        select(Headshot).where(Headshot.person_id == person.id, Headshot.retired_at.is_(None))  # type: ignore[union-attr]
        .order_by(Headshot.id)
    ).all()
    for h in headshots:
        due_on, overdue_on = refresh_dates(h.published_on, policy)
        for overdue, day, key in ((False, due_on, "refresh-due"), (True, overdue_on, "refresh-overdue")):
            event = Event()
            event.add("uid", f"headshot-{h.id}-{key}@{domain}")
            event.add("dtstamp", stamp)
            event.add("summary", words.calendar_refresh_title(h.platform, overdue))
            event.add("description", words.calendar_refresh_description(
                h.platform, h.published_on, due_on, overdue_on, policy.refresh_due_months,
                policy.refresh_overdue_months, overdue=overdue, link=link))
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
            event.add("transp", "TRANSPARENT")
            event.add("url", link)
            cal.add_component(event)

    if person.next_prompt_at is not None:
        start = person.next_prompt_at.astimezone(ZoneInfo(person.timezone))
        event = Event()
        event.add("uid", f"person-{person.id}-next-checkin@{domain}")
        event.add("dtstamp", stamp)
        event.add("summary", words.calendar_checkin_title())
        event.add("description", words.calendar_checkin_description(
            person.name, person.checkin_every_days, link=checkin_page(settings)))
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=CHECKIN_MINUTES))
        event.add("url", checkin_page(settings))
        cal.add_component(event)
    if person.timezone != "UTC":  # its rules for the years the events can fall in, not since 1970
        cal.add_missing_timezones(first_date=date(now.year - 1, 1, 1), last_date=date(now.year + 3, 1, 1))
    return cal.to_ical()


def _not_found() -> JSONResponse:
    # exactly what any unknown path answers: nothing tells a wrong token from a revoked one
    from freshness.web.errors import error_body

    return JSONResponse(error_body("not_found", "Not Found"), status_code=404)


def calendar_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["calendar"])

    @router.get(
        PATH,
        summary="A person's calendar feed (refresh dates and the next check-in)",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}}, 404: {"description": "Unknown or revoked token"}},
    )
    def calendar_feed(token: str) -> Response:
        from freshness.clock import utcnow
        from freshness.people import person_by_calendar_token

        with Session(get_engine(settings), expire_on_commit=False) as session:
            person = person_by_calendar_token(session, token)
            if person is None:
                return _not_found()
            body = build_calendar(session, person, settings, utcnow())
        return Response(
            content=body,
            media_type=CONTENT_TYPE,
            headers={
                "Cache-Control": "private, no-cache",
                "Content-Disposition": 'inline; filename="freshness.ics"',
                "X-Robots-Tag": "noindex",
            },
        )

    # HEAD too: some calendar apps check an address with it before subscribing
    router.add_api_route(PATH, calendar_feed, methods=["HEAD"], include_in_schema=False)
    return router
