"""The outbox: notifications written with what caused them, delivered exactly once per channel.

Delivery states: ``pending`` (due at ``next_attempt_at``) → ``sending`` (claimed by one
dispatcher until ``lease_until``) → ``sent``; or back to ``pending`` with a later
``next_attempt_at`` after a temporary error; or ``dead`` (attempts used up, or a permanent
error, which also disables the channel); or ``cancelled`` (its channel was disabled or
removed, or the reminder it announces was resolved, acknowledged or snoozed before it
went out).

Exactly once: a delivery is claimed by a conditional UPDATE (``WHERE status = 'pending'``,
or a ``sending`` one whose lease ran out because its dispatcher died), so two dispatchers
never send it at the same time; the result is recorded by a conditional UPDATE on the
claim (``WHERE status = 'sending' AND attempts = <the claim's>``). A dispatcher killed
between sending and recording leaves a ``sending`` row whose lease runs out: it is sent
again with the same idempotency key, so the receiver sees the same message, never a
second, different one.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, select

from freshness.config import Settings
from freshness.models import Channel, Delivery, Notification, Reminder
from freshness.notify.base import DeliveryError, Message, Transport

log = logging.getLogger("freshness.notify")

PENDING, SENDING, SENT, DEAD, CANCELLED = "pending", "sending", "sent", "dead", "cancelled"
KINDS = ("reminder", "prompt", "test")


def new_idempotency_key() -> str:
    return "frd_" + secrets.token_hex(16)


def enqueue(
    session: Session,
    person_id: int,
    kind: str,
    subject: str,
    text: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    event_id: int | None = None,
    channel_ids: list[int] | None = None,
) -> Notification:
    """Write a notification and one pending delivery per enabled channel of the person (or
    per given channel) in the caller's transaction. Nothing is sent here."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    note = Notification(person_id=person_id, kind=kind, event_id=event_id, subject=subject, text=text,
                        payload=payload, created_at=now)
    session.add(note)
    session.flush()
    query = select(Channel).where(Channel.person_id == person_id, Channel.enabled == True)  # noqa: E712
    if channel_ids is not None:
        query = select(Channel).where(Channel.person_id == person_id, Channel.id.in_(channel_ids))  # type: ignore[attr-defined]
    for channel in session.exec(query.order_by(Channel.id)).all():
        session.add(Delivery(notification_id=note.id, channel_id=channel.id, status=PENDING, attempts=0,  # type: ignore[arg-type]
                             next_attempt_at=now, idempotency_key=new_idempotency_key(), created_at=now))
    return note


def backoff(attempts: int, settings: Settings) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base, 2 x base, 4 x base, ... up to the cap."""
    seconds = settings.delivery_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.delivery_backoff_max_seconds))


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    cancelled: int = 0
    skipped: int = 0  # claimed by another dispatcher meanwhile
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.dead


def _due(now: datetime) -> Any:
    return or_(
        and_(Delivery.status == PENDING, Delivery.next_attempt_at <= now),  # type: ignore[arg-type,operator]
        and_(Delivery.status == SENDING, Delivery.lease_until < now),  # type: ignore[arg-type,operator]
    )


def _claim(session: Session, delivery_id: int, now: datetime, settings: Settings) -> int | None:
    """Own a due delivery for one lease; returns the attempt number, or None if another
    dispatcher has it (or it is no longer due)."""
    attempts = session.exec(select(Delivery.attempts).where(Delivery.id == delivery_id)).first()
    if attempts is None:
        return None
    attempt = attempts + 1
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.attempts == attempts, _due(now))  # type: ignore[arg-type]
        .values(status=SENDING, attempts=attempt,
                lease_until=now + timedelta(seconds=settings.delivery_lease_seconds))
    )
    session.commit()
    return attempt if result.rowcount == 1 else None


def _record(session: Session, delivery_id: int, attempt: int, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == SENDING, Delivery.attempts == attempt)  # type: ignore[arg-type]
        .values(**values)
    )
    session.commit()
    return result.rowcount == 1


def _stale(session: Session, note: Notification) -> str | None:
    """Why a reminder notification should no longer go out (None: send it)."""
    if note.kind != "reminder" or not note.payload.get("reminder"):
        return None
    if note.payload.get("type") == "reminder.resolved":
        return None
    reminder = session.get(Reminder, note.payload["reminder"]["id"])
    if reminder is None:
        return "the reminder no longer exists"
    if reminder.state in ("resolved", "acknowledged", "snoozed"):
        return f"the reminder was {reminder.state} before this message went out"
    return None


def disable_channel(session: Session, channel_id: int, reason: str, now: datetime) -> bool:
    """Disable a channel with its reason; its pending deliveries are cancelled. True if it changed."""
    result = session.execute(
        update(Channel).where(Channel.id == channel_id, Channel.enabled == True)  # type: ignore[arg-type]  # noqa: E712
        .values(enabled=False, disabled_reason=reason, disabled_at=now)
    )
    session.execute(
        update(Delivery).where(Delivery.channel_id == channel_id, Delivery.status == PENDING)  # type: ignore[arg-type]
        .values(status=CANCELLED, last_error=f"channel disabled: {reason}", next_attempt_at=None)
    )
    session.commit()
    return result.rowcount == 1


def dispatch(
    session: Session,
    transport_for: Callable[[str], Transport] | Mapping[str, Transport],
    settings: Settings,
    now: Callable[[], datetime],
    *,
    limit: int = 200,
) -> DispatchReport:
    """Send the deliveries due as of ``now()``, oldest first, at most ``limit`` of them.

    ``transport_for`` maps a channel kind to its transport. Each delivery is claimed,
    sent and recorded in its own short transactions, so one slow endpoint delays only
    its own delivery and a crash loses nothing (see the module docstring).
    """
    lookup = transport_for.__getitem__ if isinstance(transport_for, Mapping) else transport_for
    report = DispatchReport()
    start = now()
    ids = session.exec(
        select(Delivery.id).where(_due(start)).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)  # type: ignore[arg-type]
    ).all()
    for delivery_id in ids:
        attempt = _claim(session, delivery_id, now(), settings)  # type: ignore[arg-type]
        if attempt is None:
            report.skipped += 1
            continue
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:  # its channel was removed meanwhile (removing cascades to deliveries)
            report.cancelled += 1
            continue
        session.refresh(delivery)
        note = session.get(Notification, delivery.notification_id)
        channel = session.get(Channel, delivery.channel_id)  # type: ignore[union-attr]
        reason = None
        if channel is None or not channel.enabled:
            reason = "channel disabled" + (f": {channel.disabled_reason}" if channel and channel.disabled_reason else "")
        elif note is not None:
            reason = _stale(session, note)
        if note is None or reason is not None:
            _record(session, delivery_id, attempt,  # type: ignore[arg-type]
                    {"status": CANCELLED, "last_error": reason, "lease_until": None, "next_attempt_at": None})
            report.cancelled += 1
            continue
        message = Message(idempotency_key=delivery.idempotency_key, kind=note.kind, subject=note.subject,  # type: ignore[union-attr]
                          text=note.text, payload=note.payload, created_at=note.created_at)
        try:
            lookup(channel.kind).send(channel.target, channel.secret, message)  # type: ignore[union-attr]
        except DeliveryError as exc:
            when = now()
            error = f"attempt {attempt}: {exc.reason}"
            if exc.permanent or attempt >= settings.delivery_max_attempts:
                _record(session, delivery_id, attempt, {"status": DEAD, "last_error": error, "lease_until": None,  # type: ignore[arg-type]
                                                        "next_attempt_at": None})
                report.dead += 1
                if exc.permanent:
                    disable_channel(session, channel.id, exc.reason, when)  # type: ignore[union-attr,arg-type]
                log.warning("delivery #%s to channel #%s given up: %s", delivery_id, channel.id, error)  # type: ignore[union-attr]
            else:
                _record(session, delivery_id, attempt, {"status": PENDING, "last_error": error, "lease_until": None,  # type: ignore[arg-type]
                                                        "next_attempt_at": when + backoff(attempt, settings)})
                report.retried += 1
            report.errors.append(f"delivery #{delivery_id}: {error}")
            continue
        except Exception as exc:  # a bug or an unexpected library error: retry later, keep dispatching
            log.exception("delivery #%s failed unexpectedly", delivery_id)
            when = now()
            error = f"attempt {attempt}: unexpected error: {exc}"
            status = DEAD if attempt >= settings.delivery_max_attempts else PENDING
            _record(session, delivery_id, attempt, {"status": status, "last_error": error, "lease_until": None,  # type: ignore[arg-type]
                                                    "next_attempt_at": None if status == DEAD else when + backoff(attempt, settings)})
            report.dead += status == DEAD
            report.retried += status == PENDING
            report.errors.append(f"delivery #{delivery_id}: {error}")
            continue
        if _record(session, delivery_id, attempt, {"status": SENT, "sent_at": now(), "lease_until": None,  # type: ignore[arg-type]
                                                   "last_error": None, "next_attempt_at": None}):
            report.sent += 1
        else:  # our lease ran out while sending and another dispatcher took over: it records
            report.skipped += 1
    return report
