"""Signed webhooks, the Standard Webhooks way (README, "Notifications").

Each delivery is one ``POST`` of a JSON body to the channel's URL::

    {"type": "reminder.opened", "id": "frd_…", "timestamp": "2025-06-01T12:00:00Z",
     "kind": "reminder", "subject": "…", "text": "…", "data": {…the notification's payload…}}

with the headers ``webhook-id`` (the delivery's idempotency key, the same on every retry),
``webhook-timestamp`` (this attempt, unix seconds) and ``webhook-signature``
(``v1,`` + base64 of HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``, keyed
with the base64-decoded part of the channel's ``whsec_…`` secret). The body is the same
bytes on every attempt; only the timestamp and the signature change.

A receiver checks it like this (``body``: the raw bytes, before any JSON parsing;
``headers``: the request's headers, case-insensitive)::

    import base64, hashlib, hmac, time

    def verify_freshness_webhook(secret: str, headers, body: bytes, now: float | None = None) -> bool:
        msg_id, ts, sigs = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        if not (msg_id and ts and sigs) or not ts.isdigit():
            return False
        if abs((time.time() if now is None else now) - int(ts)) > 300:
            return False  # older (or newer) than 5 minutes: a replay
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        return any(hmac.compare_digest(base64.b64encode(expected).decode(), s.removeprefix("v1,"))
                   for s in sigs.split() if s.startswith("v1,"))

Answers: 2xx is delivered. 408, 409, 425, 429, 5xx, a timeout or a connection error is
retried with backoff. 410 and every other 4xx (and 3xx: redirects are not followed) is
permanent: the channel is disabled with the answer as its reason. A URL whose host is, or
now resolves to, a private, loopback or link-local address is permanent too, unless
``FRESHNESS_ALLOW_PRIVATE_TARGETS`` allows it (``freshness.netguard``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from freshness import __version__, clock, netguard
from freshness.config import Settings
from freshness.notify.base import Message, PermanentError, TemporaryError

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300
RETRIED_4XX = frozenset({408, 409, 425, 429})


def new_secret() -> str:
    """A channel's signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (its base64-decoded part); ValueError if it is not one."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a whsec_ secret (base64 after the prefix)") from None
    if not key:
        raise ValueError("the secret is empty")
    return key


def _unix(when: datetime | float | None) -> int:
    if when is None:
        when = clock.utcnow()
    return int(when.timestamp()) if isinstance(when, datetime) else int(when)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    digest = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes | str, tolerance_seconds: float = TOLERANCE_SECONDS,
           now: datetime | float | None = None) -> bool:
    """What a receiver checks: the three headers are there, the timestamp is within
    ``tolerance_seconds`` of ``now`` (default: the product's clock), and one ``v1``
    signature matches. Headers are looked up case-insensitively."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, signatures = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not (msg_id and ts and signatures) or not ts.isdigit():
        return False
    if abs(_unix(now) - int(ts)) > tolerance_seconds:
        return False
    raw = body.encode() if isinstance(body, str) else body
    try:
        expected = sign(secret, msg_id, int(ts), raw)
    except ValueError:
        return False
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures.split() if s.startswith("v1,"))


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def body_of(message: Message) -> bytes:
    """The JSON body of a message: the same bytes on every attempt."""
    document: dict[str, Any] = {
        "type": message.payload.get("type") or message.kind,
        "id": message.idempotency_key,
        "timestamp": _iso(message.created_at or clock.utcnow()),
        "kind": message.kind,
        "subject": message.subject,
        "text": message.text,
        "data": message.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _answer(response: Any) -> str:
    words = f"the webhook answered {response.status_code} {response.reason_phrase}".rstrip()
    if 300 <= response.status_code < 400:
        location = response.headers.get("location")
        return words + "; redirects are not followed" + (f": use {location}" if location else "")
    plain = response.headers.get("content-type", "").startswith(("text/plain", "application/json"))
    snippet = " ".join(response.text.split())[:160] if plain and response.content else ""
    return words + (f": {snippet}" if snippet and snippet.lower() != response.reason_phrase.lower() else "")


class WebhookTransport:
    """POSTs a signed JSON body to the channel's URL (its secret signs it)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, target: str, secret: str | None, message: Message) -> None:
        import httpx

        if not target.lower().startswith(("https://", "http://")):
            raise PermanentError(f"not a webhook URL (http:// or https://): {target}")
        if not secret:
            raise PermanentError("the webhook channel has no signing secret: remove it and add it again")
        body = body_of(message)
        timestamp = _unix(None)
        try:
            signature = sign(secret, message.idempotency_key, timestamp, body)
        except ValueError as exc:
            raise PermanentError(f"the webhook channel's secret is unusable ({exc}): remove it and add it again") from None
        headers = {
            "content-type": "application/json",
            "user-agent": f"freshness/{__version__}",
            "webhook-id": message.idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        timeout = self.settings.http_timeout_seconds
        # only to public addresses (or those FRESHNESS_ALLOW_PRIVATE_TARGETS allows), checked on the
        # address the connection is made to (README, "Security")
        with netguard.guarded(netguard.Policy.from_settings(self.settings)) as policy:
            try:
                response = httpx.post(target, content=body, headers=headers, timeout=timeout, follow_redirects=False)
            except httpx.TimeoutException:
                raise TemporaryError(f"the webhook did not answer within {timeout:g} s") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise PermanentError(f"not a webhook URL we can use: {target} ({exc})") from None
            except httpx.TransportError as exc:
                if policy.refused:
                    raise PermanentError(netguard.refusal(*policy.refused[0])) from None
                raise TemporaryError(f"could not reach the webhook: {exc or type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in RETRIED_4XX or status >= 500 or status < 200:
            raise TemporaryError(_answer(response))
        raise PermanentError(_answer(response))  # 3xx, 410 and the other 4xx
