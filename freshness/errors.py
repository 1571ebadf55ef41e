"""Errors with a message meant for people (CLI prints it; the API returns it)."""

from __future__ import annotations

from typing import Any


class FreshnessError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing message."""

    exit_code = 1
    http_status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **({"details": self.details} if self.details else {})}


class UsageError(FreshnessError):
    """The request itself is wrong (bad option value, unknown name)."""

    exit_code = 2
    code = "usage"


class SettingsError(UsageError):
    """A FRESHNESS_* setting has a value that cannot be used."""

    code = "settings"


class NotFound(UsageError):
    http_status = 404
    code = "not_found"


class ImageRejected(FreshnessError):
    """An image was refused; nothing was stored. ``code`` names the reason."""

    exit_code = 3
    http_status = 422
