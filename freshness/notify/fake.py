"""A transport for tests: records what it was given and fails on request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from freshness.notify.base import DeliveryError, Message


@dataclass
class FakeTransport:
    """Records ``(target, message)`` of every successful send. ``fail`` (a callable
    given the target and the message) may return an error to raise for one attempt."""

    sent: list[tuple[str, Message]] = field(default_factory=list)
    attempts: int = 0
    fail: Callable[[str, Message], DeliveryError | None] | None = None

    def send(self, target: str, secret: str | None, message: Message) -> None:
        self.attempts += 1
        error = self.fail(target, message) if self.fail else None
        if error is not None:
            raise error
        self.sent.append((target, message))
