"""Addresses in messages (the web pages are served at FRESHNESS_BASE_URL)."""

from __future__ import annotations

from freshness.config import Settings


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def person_page(settings: Settings) -> str:
    """The signed-in person's own page: their headshots, verdicts and reminders."""
    return f"{_base(settings)}/me"


def checkin_page(settings: Settings) -> str:
    """Where a person takes a check-in selfie with their phone's camera."""
    return f"{_base(settings)}/me/checkin"


def calendar_feed(settings: Settings, token: str) -> str:
    """The person's calendar subscription (refresh dates, next check-in)."""
    return f"{_base(settings)}/calendar/{token}.ics"


def signin_page(settings: Settings, token: str) -> str:
    """A one-time sign-in link (``freshness person link``, check-in prompts)."""
    return f"{_base(settings)}/signin/{token}"
