"""Failed sign-in attempts, counted and limited (README, "Security").

A failure is a token that opens nothing — on the sign-in form or as an API bearer token (a
401) — or a sign-in link that is unknown, spent or expired. Failures are counted per client
address, and per person when the failed credential names one (a revoked token of theirs, a
spent link of theirs). ``FRESHNESS_SIGNIN_MAX_FAILURES`` failures within
``FRESHNESS_SIGNIN_FAILURE_WINDOW_SECONDS`` lock that key for ``FRESHNESS_SIGNIN_LOCKOUT_SECONDS``:
every attempt from a locked address is answered 429 (with ``Retry-After``) before the
credential is even looked at, so a guesser learns nothing more; a locked person's failed
credentials answer 429 instead of 401 while their valid tokens keep working (nobody can lock a
person out of their own account by trying their old tokens).

The counters live in the process (one per ``freshness serve`` worker; the limit holds per
worker): tokens are 256-bit random values, so the limit is a brake on noise and on tools
that try leaked lists, not what keeps tokens unguessable. Time comes from the product's clock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request

from freshness import clock
from freshness.config import Settings

#: At most this many keys are remembered (the oldest are dropped first): memory stays bounded
#: however many addresses try.
MAX_KEYS = 50_000


@dataclass
class _Entry:
    failures: deque = field(default_factory=deque)  # times of recent failures
    locked_until: datetime | None = None


class AttemptLimiter:
    """Counts failures per key (``ip:…``, ``person:…``) in a sliding window; a key with too many is
    locked for the lockout time."""

    def __init__(self, max_failures: int, window: timedelta, lockout: timedelta, max_keys: int = MAX_KEYS):
        self.max_failures, self.window, self.lockout, self.max_keys = max_failures, window, lockout, max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AttemptLimiter:
        return cls(settings.signin_max_failures, timedelta(seconds=settings.signin_failure_window_seconds),
                   timedelta(seconds=settings.signin_lockout_seconds))

    def retry_after(self, keys: list[str], now: datetime | None = None) -> int | None:
        """Seconds until the first of ``keys`` that is locked opens again, or None if none is."""
        now = now or clock.utcnow()
        waits = []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and entry.locked_until is not None:
                    if entry.locked_until > now:
                        waits.append(entry.locked_until - now)
                    else:
                        entry.locked_until = None
                        entry.failures.clear()
        if not waits:
            return None
        return max(1, int(max(waits).total_seconds() + 0.999))

    def failed(self, keys: list[str], now: datetime | None = None) -> None:
        """Count one failure for each key; a key reaching the limit is locked."""
        now = now or clock.utcnow()
        with self._lock:
            for key in keys:
                entry = self._entries.pop(key, None) or _Entry()
                self._entries[key] = entry  # most recently used last
                while entry.failures and now - entry.failures[0] > self.window:
                    entry.failures.popleft()
                entry.failures.append(now)
                if len(entry.failures) >= self.max_failures:
                    entry.locked_until = now + self.lockout
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)


def client_key(request: Request) -> str:
    """The client's address (behind a reverse proxy, the one uvicorn took from X-Forwarded-For:
    see README, "Deployment")."""
    host = request.client.host if request.client else "unknown"
    return f"ip:{host}"


def person_key(person_id: int) -> str:
    return f"person:{person_id}"


_LIMITERS_LOCK = threading.Lock()


def limiter(request: Request) -> AttemptLimiter:
    """The app's limiter (made on first use from the app's settings)."""
    state = request.app.state
    found = getattr(state, "signin_limiter", None)
    if found is None:
        with _LIMITERS_LOCK:
            found = getattr(state, "signin_limiter", None)
            if found is None:
                from freshness.web.auth import settings_of

                found = state.signin_limiter = AttemptLimiter.from_settings(settings_of(request))
    return found


def too_many(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return (f"Too many failed sign-in attempts: try again in {minutes} minute{'s' if minutes != 1 else ''}. "
            "Check that you copied the whole token, or ask for a one-time sign-in link.")
