"""Any Apprise URL (ntfy, Slack, Telegram, Discord, Matrix, Gotify, json://, form://, …)
through the apprise package (README, "Notifications").

The message goes out with the subject as its title and the text as its body (plain
text). Apprise is imported on first use: it loads a hundred plugins.

Errors: a URL Apprise cannot use is permanent (the channel is disabled with the reason);
a service that does not accept the message (an HTTP error, a timeout, no connection) is
retried with backoff, with the warning Apprise logged as the reason. Each try waits at
most ``FRESHNESS_HTTP_TIMEOUT_SECONDS`` to connect and to read, unless the URL sets its
own ``cto=`` / ``rto=``. Hosts on private, loopback or link-local addresses are refused
(``freshness.netguard``), when the channel is added and at every send. Apprise services have no idempotency key: a resend after a crash
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


def _hosts(notifier: Any) -> list[tuple[str, int | None]]:
    """The hosts the URL names that look like network hosts (an IP address, localhost, a dotted
    name): services with a fixed address (Telegram, Slack, …) keep tokens where a host would be."""
    import ipaddress

    found = []
    for service in notifier:
        host = getattr(service, "host", None)
        if not isinstance(host, str) or not host.strip():
            continue
        name = host.strip().strip("[]")
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
            literal = True
        except ValueError:
            literal = False
        if literal or "." in name or name.lower() == "localhost":
            port = getattr(service, "port", None)
            found.append((name, port if isinstance(port, int) else None))
    return found


def validate(url: str, settings: Settings | None = None) -> str | None:
    """Why ``url`` cannot be an Apprise channel, or None if it can (nothing is sent). A host on a
    private, loopback or link-local address is refused unless FRESHNESS_ALLOW_PRIVATE_TARGETS
    allows it (it is checked again at every send)."""
    from freshness import netguard

    if settings is None:
        from freshness.config import get_settings

        settings = get_settings()
    notifier, problem = _apprise(settings, url)
    if problem is not None:
        return problem
    policy = netguard.Policy.from_settings(settings)
    for host, port in _hosts(notifier):
        try:
            netguard.check_host(host, port, policy)
        except netguard.TargetRefused as exc:
            return str(exc)
    return None


class AppriseTransport:
    """Sends a channel's message to its Apprise URL (the channel's secret is not used)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, target: str, secret: str | None, message: Message) -> None:
        import apprise

        from freshness import netguard

        notifier, problem = _apprise(self.settings, target)
        if problem is not None:
            raise PermanentError(problem)
        policy = netguard.Policy.from_settings(self.settings)
        for host, port in _hosts(notifier):  # as when the channel was added
            try:
                netguard.check_host(host, port, policy)
            except netguard.TargetRefused as exc:
                raise PermanentError(str(exc)) from None
        # every connection the service makes (redirects included) goes to an allowed address
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured, netguard.guarded(policy):
            delivered = notifier.notify(title=message.subject, body=message.text,
                                        body_format=apprise.NotifyFormat.TEXT)
            said = " ".join(line.strip() for line in captured.getvalue().splitlines() if line.strip())
        if policy.refused:
            raise PermanentError(netguard.refusal(*policy.refused[0]))
        if not delivered:
            raise TemporaryError(f"the Apprise service ({_shown(target)}) did not take the message"
                                 + (f": {said}" if said else ""))
