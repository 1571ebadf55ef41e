"""Any Apprise URL (ntfy, Slack, Telegram, Discord, Matrix, Gotify, json://, form://, …)
through the apprise package (README, "Notifications").

The message goes out with the subject as its title and the text as its body (plain
text). Apprise is imported on first use: it loads a hundred plugins.

Errors: a URL Apprise cannot use is permanent (the channel is disabled with the reason);
a service that does not accept the message (an HTTP error, a timeout, no connection) is
retried with backoff, with the warning Apprise logged as the reason. Each try waits at
most ``FRESHNESS_HTTP_TIMEOUT_SECONDS`` to connect and to read, unless the URL sets its
own ``cto=`` / ``rto=``. Apprise services have no idempotency key: a resend after a crash
between sending and recording can show twice there (e-mail and webhooks carry the key).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from freshness import __version__
from freshness.config import Settings
from freshness.notify.base import Message, PermanentError, TemporaryError

HELP = "see https://github.com/caronc/apprise/wiki for the URL of each service"


def _shown(url: str) -> str:
    """An Apprise URL without its secrets (tokens and passwords live after the scheme)."""
    scheme = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*)://", url)
    return f"{scheme.group(1)}://…" if scheme else repr(url[:40])


def _apprise(settings: Settings, url: str) -> tuple[Any, str | None]:
    """An ``apprise.Apprise`` holding exactly this URL, or None and why not."""
    import apprise

    asset = apprise.AppriseAsset(app_id="freshness", app_desc=f"freshness {__version__}",
                                 app_url=settings.base_url, storage_mode="memory")
    notifier = apprise.Apprise(asset=asset)
    if not url.strip() or not notifier.add(url):
        return None, f"not an Apprise URL we can use: {_shown(url)} ({HELP})"
    if len(notifier) != 1:
        return None, f"one Apprise URL per channel, not {len(notifier)}: {_shown(url)}"
    for service in notifier:
        if "cto=" not in url:
            service.socket_connect_timeout = settings.http_timeout_seconds
        if "rto=" not in url:
            service.socket_read_timeout = settings.http_timeout_seconds
    return notifier, None


def validate(url: str, settings: Settings | None = None) -> str | None:
    """Why ``url`` cannot be an Apprise channel, or None if it can (nothing is sent)."""
    if settings is None:
        from freshness.config import get_settings

        settings = get_settings()
    return _apprise(settings, url)[1]


class AppriseTransport:
    """Sends a channel's message to its Apprise URL (the channel's secret is not used)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, target: str, secret: str | None, message: Message) -> None:
        import apprise

        notifier, problem = _apprise(self.settings, target)
        if problem is not None:
            raise PermanentError(problem)
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            delivered = notifier.notify(title=message.subject, body=message.text,
                                        body_format=apprise.NotifyFormat.TEXT)
            said = " ".join(line.strip() for line in captured.getvalue().splitlines() if line.strip())
        if not delivered:
            raise TemporaryError(f"the Apprise service ({_shown(target)}) did not take the message"
                                 + (f": {said}" if said else ""))
