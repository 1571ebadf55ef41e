"""All tables, in one module (as SQLModel's docs advise).

Times are timezone-aware UTC (``UTCDateTime``). Embeddings are 128 float32
values stored as 512 bytes (see ``freshness.faces.embedding_to_bytes``).
"""

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshness.db import UTCDateTime, utcnow

# Named constraints, so Alembic's batch mode (SQLite) can alter them later.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Table models never validate input (SQLModel skips validation for tables), so their
# pydantic schemas are built only if something asks for one: every command starts faster.
_DEFERRED: Any = {"defer_build": True}


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _fk(target: str, nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True),
    )


class Person(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    # freshness.names.name_key(name): unique, so "Straße" and "STRASSE" are one name
    name_key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    email: Optional[str] = Field(default=None, max_length=320)
    timezone: str = Field(default="UTC", max_length=64)
    sector: Optional[str] = Field(default=None, max_length=64)
    checkin_every_days: int = Field(default=30)
    next_checkin_due: Optional[datetime] = _utc(nullable=True)
    # Check-in prompts: at this local hour (0-23) on the day a check-in is due; the next
    # prompt's instant is stored and advanced by a conditional update when it is sent.
    prompt_hour: int = Field(default=9)
    next_prompt_at: Optional[datetime] = _utc(nullable=True, index=True)
    # Notify when a reminder resolves too (default: only when one opens or re-opens).
    notify_resolved: bool = Field(default=False)
    # The calendar feed's own revocable secret (sha256 of the token in the URL).
    calendar_token_sha256: Optional[str] = Field(default=None, max_length=64, unique=True)
    # Per-person overrides of the likeness/reminder policy (field names of rules.Policy).
    policy_overrides: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    consent_version: str = Field(max_length=32)
    consent_at: datetime = _utc()
    created_at: datetime = _utc()
    last_activity_at: Optional[datetime] = _utc(nullable=True)


class ApiToken(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    token_sha256: str = Field(max_length=64, unique=True)
    label: Optional[str] = Field(default=None, max_length=100)  # what the person calls it ("phone")
    created_at: datetime = _utc()
    last_used_at: Optional[datetime] = _utc(nullable=True)
    revoked_at: Optional[datetime] = _utc(nullable=True)


class SignInLink(SQLModel, table=True):
    """A one-time sign-in link (only the sha256 of its token is stored)."""

    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    token_sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    used_at: Optional[datetime] = _utc(nullable=True)


class Headshot(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    platform: str = Field(max_length=32)
    published_on: date
    ai_generated: bool = Field(default=True)
    disclosed: bool = Field(default=False)
    image_digest: str = Field(max_length=64)  # sha256 of the uploaded bytes (kept in the blob store)
    thumb_digest: str = Field(max_length=64)
    embedding: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    quality: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc()
    retired_at: Optional[datetime] = _utc(nullable=True)
    # "person:image sha256" while active, NULL once retired: its unique index allows one
    # active headshot per image per person, even when the same file is added twice at once
    active_key: Optional[str] = Field(default=None, max_length=80, sa_column_kwargs={"unique": True})
    # What the file itself says about where it came from (C2PA manifest, IPTC digital source
    # type): see freshness.provenance; {} when it was not read
    provenance: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Checkin(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    __table_args__ = (UniqueConstraint("person_id", "image_digest", name="uq_checkin_person_image"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    taken_at: datetime = _utc(index=True)
    taken_at_source: str = Field(max_length=16)  # given | exif | received
    received_at: datetime = _utc()
    image_digest: str = Field(max_length=64)  # sha256 of the uploaded bytes (duplicate check)
    original_kept: bool = Field(default=False)
    thumb_digest: str = Field(max_length=64)
    embedding: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    quality: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    # Identity guard: median distance of this selfie to the person's recent accepted
    # selfies when it was checked in (None when there were too few to compare with),
    # and whether the caller confirmed it was them although it was outside the radius.
    identity_distance: Optional[float] = Field(default=None)
    identity_confirmed: bool = Field(default=False)


class Measurement(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    __table_args__ = (UniqueConstraint("checkin_id", "headshot_id", name="uq_measurement_pair"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    checkin_id: int = _fk("checkin.id")
    headshot_id: int = _fk("headshot.id")
    distance: float


class Reminder(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    headshot_id: Optional[int] = _fk("headshot.id", nullable=True)
    kind: str = Field(max_length=32)
    state: str = Field(max_length=16)  # open | acknowledged | snoozed | resolved
    # "person:headshot-or-0:kind" while unresolved, NULL once resolved: its unique
    # index allows at most one unresolved reminder per (person, headshot, kind) on
    # every backend (NULLs never collide), without a partial index.
    active_key: Optional[str] = Field(
        default=None, sa_column=Column(String(96), unique=True, nullable=True)
    )
    opened_at: datetime = _utc()  # when an evaluation recorded it
    since: datetime = _utc()  # when its condition began, according to the data
    acknowledged_at: Optional[datetime] = _utc(nullable=True)
    snoozed_until: Optional[datetime] = _utc(nullable=True)
    resolved_at: Optional[datetime] = _utc(nullable=True)
    updated_at: datetime = _utc()
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ReminderEvent(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    """A state change ("flip"), written only when a conditional UPDATE changed one row."""

    id: Optional[int] = Field(default=None, primary_key=True)
    reminder_id: int = _fk("reminder.id")
    old_state: Optional[str] = Field(default=None, max_length=16)
    new_state: str = Field(max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = _utc(index=True)
    processed_at: Optional[datetime] = _utc(nullable=True)


class Channel(SQLModel, table=True):
    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    kind: str = Field(max_length=16)  # email | apprise | webhook
    target: str = Field(sa_column=Column(Text, nullable=False))
    secret: Optional[str] = Field(default=None, max_length=128)
    enabled: bool = Field(default=True)
    disabled_reason: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    disabled_at: Optional[datetime] = _utc(nullable=True)
    created_at: datetime = _utc()


class AuditEvent(SQLModel, table=True):
    """What was done to whose data, kept after the person is gone (README, "Privacy"): never
    biometric data, names or e-mail addresses, only ids, counts and reasons."""

    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = _utc(index=True)
    action: str = Field(max_length=32)  # e.g. forget, purge, export, import, consent_withdrawn
    person_id: Optional[int] = Field(default=None)  # no foreign key: it outlives the person
    actor: str = Field(default="system", max_length=32)  # cli | api | web | scheduler | system
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Notification(SQLModel, table=True):
    """One message to a person, rendered once (so every retry sends the same words):
    a reminder that opened or re-opened, a check-in prompt, or a channel test."""

    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = _fk("person.id")
    kind: str = Field(max_length=16)  # reminder | prompt | test
    event_id: Optional[int] = _fk("reminderevent.id", nullable=True)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(index=True)


class Delivery(SQLModel, table=True):
    """Outbox row: one notification to one channel."""

    model_config = _DEFERRED  # type: ignore[assignment]
    id: Optional[int] = Field(default=None, primary_key=True)
    notification_id: int = _fk("notification.id")
    channel_id: int = _fk("channel.id")
    # pending -> sending (claimed, until lease_until) -> sent | pending (retry) | dead
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: Optional[datetime] = _utc(nullable=True, index=True)
    lease_until: Optional[datetime] = _utc(nullable=True)
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    idempotency_key: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc()
    sent_at: Optional[datetime] = _utc(nullable=True)


__all__ = [
    "ApiToken",
    "AuditEvent",
    "Channel",
    "Checkin",
    "Delivery",
    "Headshot",
    "Measurement",
    "Notification",
    "Person",
    "Reminder",
    "ReminderEvent",
    "SignInLink",
    "utcnow",
]
