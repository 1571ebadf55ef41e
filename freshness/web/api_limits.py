"""The upload limit, enforced while the request body streams in.

An ASGI middleware counts the bytes each ``receive()`` hands to the app. A request that
announces more than its limit (``Content-Length``) is answered 413 at once, before a byte
of its body is read; one that sends more than its limit (chunked, or lying about its
length) is answered 413 as soon as the count passes the limit, and nothing more is read:
the server never holds, parses or spools to disk more than the limit of any request.

The limit of a request depends on what it may carry:

* ``POST /api/v1/headshots`` (one image): ``FRESHNESS_MAX_UPLOAD_BYTES`` plus room for the
  multipart framing and the form fields (``FORM_OVERHEAD``);
* ``POST /api/v1/checkins`` and ``POST /api/v1/headshots/rank``: ``MAX_FILES`` images;
* every other API request (JSON bodies): ``JSON_LIMIT``;
* any other path (the web pages' forms, which may carry a check-in's photos): as many
  images as a check-in.

A single image larger than ``FRESHNESS_MAX_UPLOAD_BYTES`` inside an allowed body is still
refused, by the decoder, with the code ``too_large`` (for a check-in: that image only).
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from freshness.config import Settings

MAX_FILES = 10  # images in one check-in or ranking request
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and the small form fields
JSON_LIMIT = 1024 * 1024  # every API request without images
SINGLE_IMAGE = {("POST", "/api/v1/headshots")}
MANY_IMAGES = {("POST", "/api/v1/checkins"), ("POST", "/api/v1/headshots/rank")}


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The most bytes a request's body may have."""
    per_file = settings.max_upload_bytes
    key = (method.upper(), path.rstrip("/") or "/")
    if key in SINGLE_IMAGE:
        return per_file + FORM_OVERHEAD
    if key in MANY_IMAGES or not path.startswith("/api/"):
        return MAX_FILES * per_file + FORM_OVERHEAD
    return JSON_LIMIT


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{round(n / 1024)} KB"


def too_large_message(limit: int, settings: Settings, announced: int | None = None) -> str:
    size = f"the request body ({_mb(announced)})" if announced is not None else "the request body"
    return (f"{size} is larger than this request's limit of {_mb(limit)} "
            f"(images of at most {_mb(settings.max_upload_bytes)} each, at most {MAX_FILES} in one request)")


class BodyTooLarge(HTTPException):
    """Raised from ``receive()`` once a body passes its limit. An HTTPException, so FastAPI's
    body parsing lets it through to the JSON error handler (413, code too_large)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["method"], scope["path"])
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await _refuse(send, too_large_message(limit, self.settings, announced))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(too_large_message(limit, self.settings))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:  # raised where nothing turned it into a response
            if started:
                raise
            await _refuse(send, exc.detail)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"code": "too_large", "message": message}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
