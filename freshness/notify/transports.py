"""Which transport sends a channel of each kind (imported when first used)."""

from __future__ import annotations

from importlib import import_module

from freshness.config import Settings
from freshness.notify.base import Transport

CHANNEL_KINDS = ("email", "apprise", "webhook")

# kind -> (module, class); each class is built with the settings.
_REGISTRY = {
    "email": ("freshness.notify.email", "EmailTransport"),
    "apprise": ("freshness.notify.apprise_channel", "AppriseTransport"),
    "webhook": ("freshness.notify.webhook", "WebhookTransport"),
}


class Transports:
    """Builds one transport per kind, on first use, for one dispatch run."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._built: dict[str, Transport] = {}

    def __call__(self, kind: str) -> Transport:
        if kind not in self._built:
            if kind not in _REGISTRY:
                raise ValueError(f"unknown channel kind {kind!r}; known kinds: {', '.join(CHANNEL_KINDS)}")
            module, cls = _REGISTRY[kind]
            self._built[kind] = getattr(import_module(module), cls)(self.settings)
        return self._built[kind]
