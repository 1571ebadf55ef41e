"""Where freshness may send things (README, "Security"): webhook and Apprise targets must be
public addresses, so a channel cannot be pointed at the server's own network (SSRF).

Refused unless ``FRESHNESS_ALLOW_PRIVATE_TARGETS`` allows them: loopback, private (RFC 1918,
fc00::/7), link-local (169.254/16 — cloud metadata services —, fe80::/10), shared
(100.64/10), unspecified, multicast, reserved and documentation addresses, and IPv6
addresses that embed one of these (IPv4-mapped, 6to4, NAT64, Teredo). The setting is
``true`` (allow them all: a test bench, a home network) or a comma-separated list of
networks (``127.0.0.1/32,10.1.0.0/16``: a receiver on the LAN).

Checked twice:

* when a channel is added (``check_url``): the host as written (an IP literal, ``localhost``)
  and every address its name resolves to now;
* at every send (``guarded()``): while a transport sends, every name resolution made for
  it (``socket.getaddrinfo``, which httpx, requests, urllib3 and smtplib use to
  connect) is checked, and a refused address fails the connection before it is made. This
  covers a name that resolved to a public address when the channel was added and to a
  private one now (DNS rebinding), and the targets of redirects Apprise's services follow.
  The connection goes to the address that was checked: the check and the connection use
  the same resolution.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

ALL = "all"
_TRUE = {"true", "yes", "1", "on", "all", "*"}
_FALSE = {"", "false", "no", "0", "off", "none"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_allow_list(value: str | None) -> str | tuple[Network, ...]:
    """``ALL``, or the networks of a comma-separated list (``()`` when nothing is allowed).
    ValueError names an entry that is not a network."""
    text = (value or "").strip()
    if text.lower() in _TRUE:
        return ALL
    if text.lower() in _FALSE:
        return ()
    networks = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network: use true, or addresses and networks such as "
                             "127.0.0.1/32,10.0.0.0/8") from None
    return tuple(networks)


def _embedded(ip: Address) -> Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, Teredo), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public(ip: Address) -> bool:
    """A globally routable unicast address (and, for IPv6, not one that embeds a non-public IPv4)."""
    inner = _embedded(ip)
    if inner is not None and not is_public(inner):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_unspecified and not ip.is_loopback


@dataclass
class Policy:
    """Which addresses a target may have (from FRESHNESS_ALLOW_PRIVATE_TARGETS)."""

    allowed: str | tuple[Network, ...] = ()
    refused: list[tuple[str, str]] = field(default_factory=list)  # (host, address) refused while guarded

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(parse_allow_list(getattr(settings, "allow_private_targets", "")))

    def allows(self, address: str | Address) -> bool:
        try:
            ip = ipaddress.ip_address(str(address).split("%", 1)[0]) if isinstance(address, str) else address
        except ValueError:
            return False
        if is_public(ip):
            return True
        if self.allowed == ALL:
            return True
        inner = _embedded(ip)
        return any(ip in net or (inner is not None and inner in net) for net in self.allowed)  # type: ignore[union-attr]


class TargetRefused(ValueError):
    """A target's address is not public and not allowed; the message says which and how to allow it."""


def refusal(host: str, address: str) -> str:
    what = f"{host} ({address})" if host != address else address
    return (f"{what} is a private, loopback, link-local or otherwise non-public address: freshness does not "
            "send there unless FRESHNESS_ALLOW_PRIVATE_TARGETS allows it (true, or networks such as "
            "10.0.0.0/8)")


def _resolve(host: str, port: int | None) -> list[str]:
    """The addresses ``host`` resolves to ([] when it does not resolve now)."""
    try:
        infos = _ORIGINAL_GETADDRINFO(host, port or 0, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    return sorted({info[4][0] for info in infos})


def check_host(host: str, port: int | None, policy: Policy) -> bool:
    """Refuse (``TargetRefused``) a host that is, or resolves to, an address the policy does not
    allow. Returns whether the host resolved (a name that does not resolve now is checked again
    at every send)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if not name:
        return False
    try:
        literal = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        if not policy.allows(literal):
            raise TargetRefused(refusal(host, str(literal)))
        return True
    if name == "localhost" or name.endswith(".localhost"):
        if not policy.allows("127.0.0.1"):
            raise TargetRefused(refusal(host, "127.0.0.1"))
    addresses = _resolve(name, port)
    for address in addresses:
        if not policy.allows(address):
            raise TargetRefused(refusal(host, address))
    return bool(addresses)


def check_url(url: str, policy: Policy) -> bool:
    """``check_host`` for the host of an http(s) URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return check_host(parts.hostname or "", port, policy)


# --------------------------------------------------------------------------- checked at send time

_ORIGINAL_GETADDRINFO = socket.getaddrinfo
# A context variable, not a thread-local: work a library hands to its own threads with a copy of
# the caller's context (Apprise does, to enforce its deadlines) stays guarded.
_policy: contextvars.ContextVar[Policy | None] = contextvars.ContextVar("freshness_netguard", default=None)
_install_lock = threading.Lock()


def _guarded_getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
    infos = _ORIGINAL_GETADDRINFO(host, port, *args, **kwargs)
    policy = _policy.get()
    if policy is None:
        return infos
    shown = host.decode() if isinstance(host, bytes) else str(host)
    for info in infos:
        address = info[4][0]
        if not policy.allows(address):
            policy.refused.append((shown, address))
            raise socket.gaierror(socket.EAI_NONAME, refusal(shown, address))
    return infos


def _install() -> None:
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


@contextmanager
def guarded(policy: Policy) -> Iterator[Policy]:
    """While the block runs, this thread (and work it hands on with a copy of its context) connects
    only to addresses the policy allows: a name resolving to another one fails to resolve
    (``policy.refused`` says which). Other threads are not affected."""
    _install()
    token = _policy.set(policy)
    try:
        yield policy
    finally:
        _policy.reset(token)
