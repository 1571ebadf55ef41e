"""Service: a person's notification channels, a test message, and the delivery log.

A channel is where a person's reminders and check-in prompts go: an e-mail address, an
Apprise URL (ntfy, Slack, Telegram, Discord, Matrix, ...) or a signed webhook. Everything
is validated before anything is written. Removing a channel first cancels its pending
deliveries, in the same transaction, so a removed channel is sent nothing more (its
delivery history goes with it: the target may be personal data or carry credentials).

``send_test`` writes a ``test`` notification for one channel and sends it at once with
the real transports, outside the scheduler: the delivery is written already claimed
(``sending``, under a lease), so no dispatcher running meanwhile sends it too. A test
is tried once and never retried later; a permanent error disables the channel, as it
would for a reminder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import update
from sqlmodel import Session, select

from freshness import words
from freshness.config import Settings
from freshness.errors import NotFound, UsageError
from freshness.models import Channel, Delivery, Notification, Person
from freshness.notify.transports import CHANNEL_KINDS

MASK = "****"
MAX_TARGET = 2000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --------------------------------------------------------------------------- showing a target


def _looks_like_host(host: str) -> bool:
    """A DNS name, an IP address or localhost, not a token standing where a host would be
    (Apprise puts a bot token there: tgram://123456:ABC-DEF/chat)."""
    return bool(host) and ("." in host or ":" in host or host == "localhost") and not host.endswith(".")


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a non-numeric port
    except ValueError:
        return None
    return parts


def mask_target(kind: str, target: str) -> str:
    """A target as it may be printed: e-mail addresses whole; webhook URLs without the
    password and query values; Apprise URLs with only the scheme, a real host name and the
    port (their tokens, users, passwords, topics and paths are credentials):
    ``tgram://****``, ``ntfy://ntfy.sh/****``, ``json://****@hooks.example.org/****``."""
    if kind == "email":
        return target
    scheme, sep, rest = target.partition("://")
    if not sep:
        return MASK
    parts = _split(target)
    if kind == "webhook" and parts is not None and parts.hostname:
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}:{MASK}@{netloc}" if parts.password else f"{MASK}@{netloc}"
        query = "&".join(f"{item.partition('=')[0]}={MASK}" for item in parts.query.split("&") if item)
        return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    # Apprise (or anything unparsable): what identifies the service, nothing that unlocks it
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    host, _, port = hostport.partition(":") if not hostport.startswith("[") else (hostport, "", "")
    shown = f"{scheme}://"
    if at:
        shown += f"{MASK}@"
    if _looks_like_host(host):
        shown += host + (f":{port}" if port.isdigit() else (f":{MASK}" if port else ""))
    else:
        shown += MASK
    if slash and (path.strip("/") or "?" in path):
        shown += f"/{MASK}"
    elif "?" in authority:
        shown += f"?{MASK}"
    return shown


def channel_dict(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "person_id": channel.person_id,
        "kind": channel.kind,
        "target": mask_target(channel.kind, channel.target),
        "enabled": channel.enabled,
        "disabled_reason": channel.disabled_reason,
        "disabled_at": _iso(channel.disabled_at),
        "created_at": _iso(channel.created_at),
    }


# --------------------------------------------------------------------------- validation


def _check_email(address: str) -> str:
    value = address.strip()
    if not _EMAIL.match(value) or len(value) > 320:
        raise UsageError(f"not an e-mail address: {address!r} (expected name@example.org)")
    return value


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _check_webhook(url: str, settings: Settings) -> tuple[str, list[str]]:
    value = url.strip()
    if any(c.isspace() for c in value):
        raise UsageError(f"a webhook URL cannot contain spaces: {url!r}")
    parts = _split(value)
    if parts is None:
        raise UsageError(f"not a URL: {url!r} (expected https://host/path)")
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(f"a webhook URL must start with https:// (or http://), got {url!r}")
    if not parts.hostname:
        raise UsageError(f"a webhook URL needs a host name: {url!r} (expected https://host/path)")
    if parts.fragment:
        raise UsageError(f"a webhook URL cannot have a #fragment (it is never sent to the server): {url!r}")
    from freshness import netguard

    try:  # not to the server's own network (SSRF): checked again at every send
        netguard.check_url(value, netguard.Policy.from_settings(settings))
    except netguard.TargetRefused as exc:
        raise UsageError(f"webhook URL refused: {exc}") from None
    warnings = []
    if parts.scheme.lower() == "http" and not _is_loopback(parts.hostname):
        warnings.append(words.webhook_plain_http_warning())
    return value, warnings


def _check_apprise(url: str, settings: Settings) -> str:
    value = url.strip()
    if "://" not in value:
        raise UsageError(f"not an Apprise URL: {url!r} (expected a service URL such as ntfy://ntfy.sh/my-topic "
                         f"or tgram://bot-token/chat-id)")
    from freshness.notify import apprise_channel

    problem = apprise_channel.validate(value, settings)
    if problem:
        raise UsageError(f"Apprise URL refused: {problem}")
    return value


def validate_target(kind: str, target: str, settings: Settings | None = None) -> tuple[str, list[str]]:
    """The target as it will be stored, and warnings to show (nothing is written here). Webhook
    and Apprise hosts must be public addresses unless FRESHNESS_ALLOW_PRIVATE_TARGETS allows
    them (``freshness.netguard``)."""
    if settings is None:
        from freshness.config import get_settings

        settings = get_settings()
    if kind not in CHANNEL_KINDS:
        raise UsageError(f"unknown channel kind {kind!r}: use one of {', '.join(CHANNEL_KINDS)}")
    if not target or not target.strip():
        raise UsageError(f"the {kind} channel needs a target")
    if len(target) > MAX_TARGET:
        raise UsageError(f"a channel target is at most {MAX_TARGET} characters, this one has {len(target)}")
    if kind == "email":
        return _check_email(target), []
    if kind == "webhook":
        return _check_webhook(target, settings)
    return _check_apprise(target, settings), []


# --------------------------------------------------------------------------- add, list, remove, enable


@dataclass
class Added:
    channel: Channel
    secret: str | None = None  # a webhook's signing secret, shown once
    warnings: list[str] = field(default_factory=list)


def add_channel(session: Session, person: Person, kind: str, target: str, now: datetime,
                settings: Settings | None = None) -> Added:
    """Validate and add a channel; a webhook gets a new signing secret."""
    value, warnings = validate_target(kind, target, settings)
    existing = session.exec(select(Channel).where(Channel.person_id == person.id, Channel.kind == kind,
                                                  Channel.target == value)).first()
    if existing is not None:
        raise UsageError(f"{person.name} already has this {kind} channel (#{existing.id})"
                         + ("" if existing.enabled else f", disabled: re-enable it with "
                                                        f"`freshness channel enable {existing.id}`"))
    secret = None
    if kind == "webhook":
        from freshness.notify.webhook import new_secret

        secret = new_secret()
    channel = Channel(person_id=person.id, kind=kind, target=value, secret=secret, enabled=True,  # type: ignore[arg-type]
                      created_at=now)
    session.add(channel)
    session.commit()
    session.refresh(channel)
    return Added(channel, secret, warnings)


def list_channels(session: Session, person: Person) -> list[Channel]:
    return list(session.exec(select(Channel).where(Channel.person_id == person.id).order_by(Channel.id)).all())


def get_channel(session: Session, channel_id: int) -> Channel:
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"no channel with id {channel_id} (see `freshness channel list PERSON`)")
    return channel


def remove_channel(session: Session, channel: Channel, now: datetime) -> int:
    """Cancel the channel's pending deliveries, then delete it, in one transaction.
    Returns how many deliveries were cancelled."""
    from freshness.notify.outbox import CANCELLED, PENDING

    cancelled = session.execute(
        update(Delivery).where(Delivery.channel_id == channel.id, Delivery.status == PENDING)  # type: ignore[arg-type]
        .values(status=CANCELLED, last_error="channel removed", next_attempt_at=None)
    ).rowcount
    session.delete(channel)
    session.commit()
    return cancelled


def enable_channel(session: Session, channel: Channel) -> bool:
    """Enable a disabled channel again (its cancelled deliveries stay cancelled). True if it changed."""
    if channel.enabled:
        return False
    channel.enabled, channel.disabled_reason, channel.disabled_at = True, None, None
    session.add(channel)
    session.commit()
    return True


# --------------------------------------------------------------------------- test message


@dataclass
class TestResult:
    channel: Channel
    delivery: Delivery
    disabled: bool  # this test's permanent error disabled the channel

    __test__ = False  # not a pytest test class

    @property
    def sent(self) -> bool:
        return self.delivery.status == "sent"

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "channel": channel_dict(self.channel),
                "delivery": delivery_dict(self.delivery), "channel_disabled": self.disabled}


def send_test(
    session: Session,
    channel: Channel,
    settings: Settings,
    clock: Callable[[], datetime],
    transport_for: Callable[[str], Any] | None = None,
) -> TestResult:
    """Send a test message to one channel now (one attempt) and record the outcome."""
    from freshness.links import person_page
    from freshness.notify import outbox
    from freshness.notify.base import DeliveryError, Message
    from freshness.notify.transports import Transports

    if not channel.enabled:
        raise UsageError(words.channel_disabled_refusal(channel.id, channel.disabled_reason,  # type: ignore[arg-type]
                                                        channel.disabled_at))
    person = session.get(Person, channel.person_id)
    now = clock()
    subject, text = words.test_notification(channel.kind, channel.id)  # type: ignore[arg-type]
    payload = {
        "type": "channel.test",
        "person": {"id": person.id, "name": person.name},  # type: ignore[union-attr]
        "channel": {"id": channel.id, "kind": channel.kind},
        "link": person_page(settings),
        "at": now.isoformat(),
    }
    note = outbox.enqueue(session, channel.person_id, "test", subject, text, payload, now, channel_ids=[channel.id])  # type: ignore[arg-type]
    session.flush()
    delivery = session.exec(select(Delivery).where(Delivery.notification_id == note.id)).one()
    # born claimed: a dispatcher running meanwhile leaves it alone (until the lease runs out)
    delivery.status, delivery.attempts = outbox.SENDING, 1
    delivery.lease_until = now + timedelta(seconds=settings.delivery_lease_seconds)
    delivery.next_attempt_at = None
    session.add(delivery)
    session.commit()
    message = Message(idempotency_key=delivery.idempotency_key, kind="test", subject=subject, text=text,
                      payload=payload, created_at=now)
    transports = transport_for or Transports(settings)
    error: str | None = None
    permanent = False
    try:
        transports(channel.kind).send(channel.target, channel.secret, message)
    except DeliveryError as exc:
        error, permanent = exc.reason, exc.permanent
    except Exception as exc:  # an unexpected library error: reported, not raised
        error = f"unexpected error: {exc.__class__.__name__}: {exc}"
    done = clock()
    if error is None:
        values = {"status": outbox.SENT, "sent_at": done, "last_error": None}
    else:  # a test is tried once: never retried later by the scheduler
        values = {"status": outbox.DEAD, "last_error": f"attempt 1: {error}"}
    outbox._record(session, delivery.id, 1, {**values, "lease_until": None, "next_attempt_at": None})  # type: ignore[arg-type]
    disabled = bool(error and permanent and outbox.disable_channel(session, channel.id, error, done))  # type: ignore[arg-type]
    session.refresh(delivery)
    session.refresh(channel)
    return TestResult(channel, delivery, disabled)


# --------------------------------------------------------------------------- the delivery log


def delivery_dict(d: Delivery, channel: Channel | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at),
        "last_error": d.last_error,
        "sent_at": _iso(d.sent_at),
        "idempotency_key": d.idempotency_key,
        "created_at": _iso(d.created_at),
    }
    if channel is not None:
        out = {"id": d.id, "channel": {"id": channel.id, "kind": channel.kind,
                                       "target": mask_target(channel.kind, channel.target)}, **{
            k: v for k, v in out.items() if k != "id"}}
    return out


@dataclass
class LogEntry:
    notification: Notification
    person: Person
    deliveries: list[tuple[Delivery, Channel]]

    def as_dict(self) -> dict[str, Any]:
        n = self.notification
        return {
            "id": n.id,
            "person": {"id": self.person.id, "name": self.person.name},
            "kind": n.kind,
            "subject": n.subject,
            "text": n.text,
            "event_id": n.event_id,
            "created_at": _iso(n.created_at),
            "deliveries": [delivery_dict(d, c) for d, c in self.deliveries],
        }


def delivery_log(
    session: Session, person: Person | None = None, *, limit: int = 50, before: int | None = None,
) -> tuple[list[LogEntry], bool]:
    """Notifications with their deliveries, newest first (in the order they were written), at
    most ``limit`` of them; with ``before``, those written before notification #``before`` (the
    next page). Returns (entries, whether older ones exist)."""
    if not 1 <= limit <= 1000:
        raise UsageError(f"--limit must be from 1 to 1000, got {limit}")
    query = select(Notification)
    if person is not None:
        query = query.where(Notification.person_id == person.id)
    if before is not None:
        query = query.where(Notification.id < before)  # type: ignore[operator]
    notes = list(session.exec(query.order_by(Notification.id.desc()).limit(limit + 1)).all())  # type: ignore[union-attr]
    more = len(notes) > limit
    notes = notes[:limit]
    ids = [n.id for n in notes]
    rows: dict[int, list[tuple[Delivery, Channel]]] = {i: [] for i in ids}  # type: ignore[misc]
    if ids:
        found = session.exec(select(Delivery, Channel).join(Channel, Channel.id == Delivery.channel_id)  # type: ignore[arg-type]
                             .where(Delivery.notification_id.in_(ids)).order_by(Delivery.id)).all()  # type: ignore[attr-defined]
        for d, c in found:
            rows[d.notification_id].append((d, c))
    people = {p.id: p for p in session.exec(select(Person).where(Person.id.in_({n.person_id for n in notes}))).all()}  # type: ignore[union-attr]
    return [LogEntry(n, people[n.person_id], rows[n.id]) for n in notes], more  # type: ignore[index]
