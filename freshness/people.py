"""Service: people and their API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from sqlalchemy.exc import IntegrityError

from freshness.errors import NotFound, UsageError
from freshness.names import clean_name, name_key
from freshness.models import ApiToken, Channel, Person
from freshness.privacy import EARLIER_NOTICES, NOTICE_VERSION, notice_text, touch

# The privacy notice a person agrees to (README, "Privacy notice"): its text and version live in
# freshness.privacy; the version and the time of consent are stored with the person.
CONSENT_VERSION = NOTICE_VERSION
CONSENT_TEXT = EARLIER_NOTICES["2026-11"]  # the notice before version 2026-12 (kept for its records)
SECTORS = ("healthcare", "legal", "government", "finance", "education", "technology", "media", "other")
TRUST_CRITICAL_SECTORS = ("healthcare", "legal", "government", "finance")
TOKEN_PREFIX = "fr_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def person_dict(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "sector": person.sector,
        "timezone": person.timezone,
        "checkin_every_days": person.checkin_every_days,
        "next_checkin_due": _iso(person.next_checkin_due),
        "prompt_hour": person.prompt_hour,
        "next_prompt_at": _iso(person.next_prompt_at),
        "notify_resolved": person.notify_resolved,
        "policy_overrides": person.policy_overrides or {},
        "consent": {"version": person.consent_version, "at": _iso(person.consent_at)},
        "created_at": _iso(person.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones ("America")
        raise UsageError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'"
        ) from None
    return name


def validate_prompt_hour(hour: int) -> int:
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise UsageError(f"--prompt-hour must be a whole hour from 0 to 23 (local time), got {hour!r}")
    return hour


def validate_sector(sector: str | None) -> str | None:
    if sector is None:
        return None
    value = sector.strip().lower()
    if value not in SECTORS:
        raise UsageError(f"unknown sector {sector!r}: accepted sectors are {', '.join(SECTORS)}")
    return value


def add_person(
    session: Session,
    name: str,
    *,
    consent: bool,
    now: datetime,
    email: str | None = None,
    sector: str | None = None,
    timezone: str = "UTC",
    checkin_every_days: int = 30,
    prompt_hour: int = 9,
) -> tuple[Person, str]:
    """Create a person and an API token. Returns (person, token); only the token's hash is stored."""
    if not consent:
        raise UsageError("consent required (face embeddings are biometric data): read the privacy notice below; "
                         "run again with --consent to agree.\n\n" + notice_text(), code="consent")
    try:
        name = clean_name(name or "")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if email is not None and not _EMAIL.match(email):
        raise UsageError(f"not an e-mail address: {email!r}")
    if not 1 <= checkin_every_days <= 365:
        raise UsageError(f"--checkin-every must be between 1 and 365 days, got {checkin_every_days}")
    validate_prompt_hour(prompt_hour)
    key = name_key(name)
    same = session.exec(select(Person).where(Person.name_key == key)).first()
    if same is not None:
        raise UsageError(f"a person named {same.name!r} already exists (#{same.id}); names must be unique "
                         "(compared ignoring case and invisible characters)")
    person = Person(
        name=name,
        name_key=key,
        email=email,
        sector=validate_sector(sector),
        timezone=validate_timezone(timezone),
        checkin_every_days=checkin_every_days,
        next_checkin_due=now + timedelta(days=checkin_every_days),
        prompt_hour=prompt_hour,
        policy_overrides={},
        consent_version=CONSENT_VERSION,
        consent_at=now,
        created_at=now,
        last_activity_at=now,
    )
    session.add(person)
    try:
        session.flush()
    except IntegrityError:  # the same name, added at the same moment by another process
        session.rollback()
        raise UsageError(f"a person named {name!r} already exists; names must be unique") from None
    from freshness.prompts import schedule

    schedule(session, person)
    if email is not None:  # the address given "for reminders" is their first channel
        session.add(Channel(person_id=person.id, kind="email", target=email, created_at=now))
    token = _new_api_token(session, person.id, now, "created with the person")  # type: ignore[arg-type]
    session.commit()
    return person, token


def resolve_person(session: Session, ref: str | int) -> Person:
    """A person by id (digits) or by name (case-insensitive; names are unique)."""
    text = str(ref).strip()
    if text.isdigit():
        person = session.get(Person, int(text))
        if person is None:
            raise NotFound(f"no person with id {text}")
        return person
    person = session.exec(select(Person).where(Person.name_key == name_key(text))).first()
    if person is None:
        raise NotFound(f"no person named {text!r} (see `freshness person list`)")
    return person


def list_people(session: Session, *, limit: int | None = None, after: int = 0,
                search: str | None = None) -> list[Person]:
    """People by id, ``limit`` at a time after the id ``after`` (a keyset page: the cost of a page
    does not grow with everyone); ``search`` keeps those whose name contains it (compared as
    names are: case and invisible characters ignored)."""
    query = select(Person).where(Person.id > after)  # type: ignore[operator]
    if search:
        needle = name_key(search).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Person.name_key.like(f"%{needle}%", escape="\\"))  # type: ignore[attr-defined]
    query = query.order_by(Person.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def delete_person(session: Session, person: Person, blobs) -> dict[str, int]:
    """Delete a person and everything stored about them: rows, thumbnails, kept originals.

    Blobs still referenced by another person's rows (identical bytes) are kept.
    Returns counts of what was removed.
    """
    from sqlalchemy import delete
    from sqlalchemy import select as sa_select

    from freshness.models import (
        Channel, Checkin, Delivery, Headshot, Measurement, Notification, Reminder, ReminderEvent,
    )

    pid = person.id
    headshots = session.exec(select(Headshot).where(Headshot.person_id == pid)).all()
    checkins = session.exec(select(Checkin).where(Checkin.person_id == pid)).all()
    digests = {h.image_digest for h in headshots} | {h.thumb_digest for h in headshots}
    digests |= {c.thumb_digest for c in checkins} | {c.image_digest for c in checkins if c.original_kept}
    reminder_ids = sa_select(Reminder.id).where(Reminder.person_id == pid)
    notification_ids = sa_select(Notification.id).where(Notification.person_id == pid)
    checkin_ids = sa_select(Checkin.id).where(Checkin.person_id == pid)
    session.execute(delete(Delivery).where(Delivery.notification_id.in_(notification_ids)))
    session.execute(delete(Notification).where(Notification.person_id == pid))
    session.execute(delete(ReminderEvent).where(ReminderEvent.reminder_id.in_(reminder_ids)))
    session.execute(delete(Reminder).where(Reminder.person_id == pid))
    session.execute(delete(Measurement).where(Measurement.checkin_id.in_(checkin_ids)))
    session.execute(delete(Channel).where(Channel.person_id == pid))
    session.execute(delete(ApiToken).where(ApiToken.person_id == pid))
    session.execute(delete(Checkin).where(Checkin.person_id == pid))
    session.execute(delete(Headshot).where(Headshot.person_id == pid))
    session.execute(delete(Person).where(Person.id == pid))
    session.commit()
    # a file stays only if a committed row still refers to it (another person's identical bytes,
    # or a check-in of them being committed right now): see freshness.blobs
    from freshness.blobs import references_from

    removed = len(blobs.discard(digests, references_from(session.get_bind())))
    return {"headshots": len(headshots), "checkins": len(checkins), "files": removed}


def _move_email_channel(session: Session, person: Person, email: str, now: datetime | None) -> None:
    """A new address "for reminders": the e-mail channel of the old one moves to it (and is
    enabled again: a new address deserves a new try), or a new channel is added."""
    from freshness.clock import utcnow

    channel = None
    if person.email:
        channel = session.exec(select(Channel).where(Channel.person_id == person.id, Channel.kind == "email",
                                                     Channel.target == person.email)).first()
    if channel is None:
        session.add(Channel(person_id=person.id, kind="email", target=email, created_at=now or utcnow()))
        return
    channel.target, channel.enabled, channel.disabled_reason, channel.disabled_at = email, True, None, None
    session.add(channel)


def _parse_override(item: str) -> tuple[str, object]:
    import json as _json

    name, sep, raw = item.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--policy {item!r}: use NAME=VALUE, e.g. refresh_due_months=18")
    raw = raw.strip()
    try:
        value = _json.loads(raw)
    except ValueError:
        value = raw  # e.g. a comma-separated list of sectors
    return name.strip(), value


def update_person(
    session: Session,
    person: Person,
    *,
    email: str | None = None,
    sector: str | None = None,
    timezone: str | None = None,
    checkin_every_days: int | None = None,
    prompt_hour: int | None = None,
    policy: list[str] | None = None,
    reset_policy: bool = False,
    now: datetime | None = None,
) -> Person:
    """Change a person's details and rule overrides; everything is validated before anything is saved."""
    from freshness import rules

    if email is not None and not _EMAIL.match(email):
        raise UsageError(f"not an e-mail address: {email!r}")
    if checkin_every_days is not None and not 1 <= checkin_every_days <= 365:
        raise UsageError(f"--checkin-every must be between 1 and 365 days, got {checkin_every_days}")
    if prompt_hour is not None:
        validate_prompt_hour(prompt_hour)
    overrides = {} if reset_policy else dict(person.policy_overrides or {})
    for item in policy or []:
        name, value = _parse_override(item)
        overrides[name] = value
    try:
        checked = rules.Policy().with_overrides(overrides)
    except ValueError as exc:
        raise UsageError(f"--policy: {exc}") from None
    # keep only what was given, in the canonical form the policy stores
    canonical = checked.as_dict()
    person.policy_overrides = {name: canonical[name] for name in overrides}
    if email is not None and email != person.email:
        _move_email_channel(session, person, email, now)
        person.email = email
    if sector is not None:
        person.sector = validate_sector(sector)
    if timezone is not None:
        person.timezone = validate_timezone(timezone)
    if checkin_every_days is not None:
        person.checkin_every_days = checkin_every_days
    if prompt_hour is not None:
        person.prompt_hour = prompt_hour
    if timezone is not None or checkin_every_days is not None or prompt_hour is not None:
        from freshness.prompts import schedule

        schedule(session, person)
    session.add(person)
    session.commit()
    session.refresh(person)
    return person


# ---------------------------------------------------------------- calendar feed token

CALENDAR_TOKEN_PREFIX = "frcal_"


def new_calendar_token(session: Session, person: Person) -> tuple[str, bool]:
    """Give the person a new calendar-feed token (only its sha256 is stored); an earlier one
    stops working. Returns (token, whether an earlier one was revoked)."""
    replaced = person.calendar_token_sha256 is not None
    token = CALENDAR_TOKEN_PREFIX + secrets.token_urlsafe(32)
    person.calendar_token_sha256 = hash_token(token)
    session.add(person)
    session.commit()
    return token, replaced


def revoke_calendar_token(session: Session, person: Person) -> bool:
    """Remove the person's calendar-feed token; True if there was one."""
    if person.calendar_token_sha256 is None:
        return False
    person.calendar_token_sha256 = None
    session.add(person)
    session.commit()
    return True


def person_by_calendar_token(session: Session, token: str) -> Person | None:
    """The person whose calendar feed this token opens, or None (unknown or revoked)."""
    if not token.startswith(CALENDAR_TOKEN_PREFIX) or len(token) > 200:
        return None
    return session.exec(select(Person).where(Person.calendar_token_sha256 == hash_token(token))).first()


# ---------------------------------------------------------------- API tokens

MAX_TOKEN_LENGTH = 200


def _new_api_token(session: Session, person_id: int, now: datetime, label: str | None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(person_id=person_id, token_sha256=hash_token(token), label=label, created_at=now))
    return token


def create_token(session: Session, person: Person, now: datetime, label: str | None = None) -> tuple[ApiToken, str]:
    """A new API token for the person (shown once; only its sha256 is stored)."""
    label = (label or "").strip() or None
    if label is not None and len(label) > 100:
        raise UsageError("a token's label must be at most 100 characters")
    token = _new_api_token(session, person.id, now, label)  # type: ignore[arg-type]
    session.commit()
    row = session.exec(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token))).one()
    return row, token


def list_tokens(session: Session, person: Person) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.person_id == person.id).order_by(ApiToken.id)).all())


def revoke_token(session: Session, person: Person, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of the person's tokens (another person's token id is 'not found')."""
    row = session.get(ApiToken, token_id)
    if row is None or row.person_id != person.id:
        raise NotFound(f"{person.name} has no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
        session.commit()
    return row


def token_dict(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "created_at": _iso(row.created_at),
            "last_used_at": _iso(row.last_used_at), "revoked_at": _iso(row.revoked_at)}


def person_by_token(session: Session, token: str, now: datetime | None = None) -> Person | None:
    """The person an API token belongs to, or None (unknown, malformed or revoked).

    The lookup is by the token's sha256 (an index); the stored digest is then compared in
    constant time, so neither the lookup nor the comparison tells how close a guess was.
    ``last_used_at`` is refreshed at most once a minute.
    """
    import hmac

    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    row = session.exec(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    if now is not None and (row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60):
        row.last_used_at = now
        session.add(row)
        session.commit()
    person = session.get(Person, row.person_id)
    if now is not None and person is not None:
        touch(session, person, now)  # API use and sign-ins keep the person's data (retention)
    return person


def failed_credential_owner(session: Session, token: str) -> int | None:
    """Whose revoked API token or spent/expired sign-in link this is (for counting failed
    sign-ins per person), or None for a token nobody has."""
    from freshness.models import SignInLink

    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    model: Any = ApiToken if token.startswith(TOKEN_PREFIX) else SignInLink if token.startswith(SIGNIN_PREFIX) \
        else None
    if model is None:
        return None
    return session.exec(select(model.person_id).where(model.token_sha256 == digest)).first()


# ---------------------------------------------------------------- one-time sign-in links

SIGNIN_PREFIX = "frlink_"


def create_signin_link(session: Session, person: Person, now: datetime, valid_for: timedelta,
                       *, commit: bool = True) -> str:
    """A one-time sign-in token for the person, valid for ``valid_for`` (only its sha256 is stored).
    With ``commit=False`` it joins the caller's transaction."""
    from freshness.models import SignInLink

    token = SIGNIN_PREFIX + secrets.token_urlsafe(32)
    session.add(SignInLink(person_id=person.id, token_sha256=hash_token(token), created_at=now,
                           expires_at=now + valid_for))
    if commit:
        session.commit()
    return token


def use_signin_link(session: Session, token: str, now: datetime) -> Person | None:
    """The person a sign-in link is for, marking it used (a conditional update: a link opens
    one session, even when opened twice at once); None if unknown, used or expired."""
    from sqlalchemy import update

    from freshness.models import SignInLink

    if not isinstance(token, str) or not token.startswith(SIGNIN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    changed = session.execute(
        update(SignInLink)
        .where(SignInLink.token_sha256 == digest, SignInLink.used_at.is_(None), SignInLink.expires_at > now)  # type: ignore[union-attr,arg-type,operator]
        .values(used_at=now)
    ).rowcount
    session.commit()
    if changed != 1:
        return None
    link = session.exec(select(SignInLink).where(SignInLink.token_sha256 == digest)).one()
    person = session.get(Person, link.person_id)
    if person is not None:
        touch(session, person, now)  # a sign-in keeps the person's data (retention)
    return person
