"""The one place the CLI and services read the real clock (tests replace ``utcnow``)."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(timezone.utc)
