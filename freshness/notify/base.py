"""What a transport is given and what it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from freshness.config import Settings


@dataclass(frozen=True)
class Message:
    """One delivery's content, identical on every attempt.

    ``idempotency_key`` is the same on every retry of one delivery (the webhook's
    ``webhook-id`` header, the e-mail's Message-ID): a receiver that sees it twice
    has seen one message twice, never two messages. ``payload`` is the JSON body of
    a webhook (README, "Webhooks"); ``subject``/``text`` the words of e-mail and
    Apprise messages.
    """

    idempotency_key: str
    kind: str  # reminder | prompt | test
    subject: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


class DeliveryError(Exception):
    """A send failed. ``permanent`` errors disable the channel (a rejected address, a
    webhook answering 4xx); others are retried with backoff."""

    permanent: ClassVar[bool] = False

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TemporaryError(DeliveryError):
    permanent = False


class PermanentError(DeliveryError):
    permanent = True


class Transport(Protocol):
    """Sends a message to one channel's target. Raises ``DeliveryError`` on failure."""

    def send(self, target: str, secret: str | None, message: Message) -> None: ...


class TransportFactory(Protocol):
    def __call__(self, kind: str, settings: Settings) -> Transport: ...
