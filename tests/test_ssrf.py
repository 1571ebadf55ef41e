"""Webhook and Apprise targets on the server's own network are refused (SSRF), when a channel is
added and again at every send, unless FRESHNESS_ALLOW_PRIVATE_TARGETS allows them.

The receivers listen on loopback: each test says what is allowed. Name resolution is faked
only where a test needs a name to change its address (DNS rebinding); everything else goes
through the real resolver and real sockets.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session, select

from freshness import netguard
from freshness.config import Settings
from freshness.errors import SettingsError
from freshness.models import Channel, Delivery
from freshness.notify import outbox, webhook
from freshness.notify.apprise_channel import AppriseTransport, validate
from freshness.notify.base import Message, PermanentError
from freshness.notify.transports import Transports
from freshness.reminders import evaluate_person
from tests import dbseed
from tests.clitools import run, snapshot
from tests.receivers import Answer, receiver_fixture

UTC = timezone.utc
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)

receiver = receiver_fixture(default=204)


def message() -> Message:
    return Message(idempotency_key="frd_ssrf", kind="prompt", subject="s", text="t", payload={}, created_at=NOW)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a00:1", "ff02::1",
])
def test_it_counts_private_loopback_and_link_local_addresses_as_not_public(address: str) -> None:
    assert not netguard.is_public(ipaddress.ip_address(address))
    assert not netguard.Policy().allows(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "2002:808:808::1"])
def test_it_counts_public_addresses_as_public(address: str) -> None:
    assert netguard.Policy().allows(address)


def test_the_allow_list_is_true_or_networks() -> None:
    assert netguard.parse_allow_list("") == () == netguard.parse_allow_list("false")
    assert netguard.parse_allow_list("true") == netguard.ALL
    narrow = netguard.Policy(netguard.parse_allow_list("10.0.0.0/8, 192.168.1.5"))
    assert narrow.allows("10.9.8.7") and narrow.allows("192.168.1.5") and narrow.allows("::ffff:10.0.0.1")
    assert not narrow.allows("192.168.1.6") and not narrow.allows("127.0.0.1")
    with pytest.raises(ValueError, match="'10.0.0.300/8' is not a network"):
        netguard.parse_allow_list("10.0.0.300/8")


def test_a_wrong_allow_list_stops_every_command(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freshness.config import get_settings, reset_settings_cache

    monkeypatch.setenv("FRESHNESS_ALLOW_PRIVATE_TARGETS", "intranet")
    reset_settings_cache()
    with pytest.raises(SettingsError, match="FRESHNESS_ALLOW_PRIVATE_TARGETS=intranet: 'intranet' is not a network"):
        get_settings()
    result = run("init", code=2)
    assert "FRESHNESS_ALLOW_PRIVATE_TARGETS" in result.stderr


# ---------------------------------------------------------------- when a channel is added


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://LOCALHOST./hook", "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/", "https://10.0.0.5/hook", "http://[::ffff:7f00:1]/hook",
    "http://2130706433/hook",  # 127.0.0.1 written as one number
    "http://0x7f.1/hook",
])
def test_it_refuses_a_webhook_on_a_private_address(ready: Path, url: str) -> None:
    run("person", "add", "Ada", "--consent")
    before = snapshot(ready)
    result = run("channel", "add", "Ada", "--webhook", url, code=2)
    assert "webhook URL refused" in result.stderr and "FRESHNESS_ALLOW_PRIVATE_TARGETS" in result.stderr
    assert snapshot(ready) == before


@pytest.mark.parametrize("url", ["json://127.0.0.1:8080/notify", "form://localhost/x", "ntfy://10.1.1.1/topic",
                                 "gotify://169.254.169.254/token", "json://[::1]/x"])
def test_it_refuses_an_apprise_url_on_a_private_address(url: str) -> None:
    problem = validate(url, Settings())
    assert problem is not None and "non-public address" in problem, problem


def test_apprise_services_with_tokens_where_a_host_would_be_are_accepted() -> None:
    assert validate("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12315544", Settings()) is None
    assert validate("ntfy://ntfy.sh/my-topic", Settings()) is None  # public (or not resolvable here)


def test_a_name_resolving_to_a_private_address_is_refused(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = netguard._ORIGINAL_GETADDRINFO

    def resolver(host, port, *args, **kwargs):
        if host == "hooks.inside.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.10.20", port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(netguard, "_ORIGINAL_GETADDRINFO", resolver)
    run("person", "add", "Ada", "--consent")
    result = run("channel", "add", "Ada", "--webhook", "https://hooks.inside.test/x", code=2)
    assert "hooks.inside.test (192.168.10.20)" in result.stderr


def test_the_allow_list_lets_the_named_networks_through(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freshness.config import reset_settings_cache

    monkeypatch.setenv("FRESHNESS_ALLOW_PRIVATE_TARGETS", "10.0.0.0/8")
    reset_settings_cache()
    run("person", "add", "Ada", "--consent")
    run("channel", "add", "Ada", "--webhook", "https://10.0.0.5/hook")
    run("channel", "add", "Ada", "--webhook", "http://127.0.0.1:9/hook", code=2)  # not in the list


def test_the_api_refuses_a_private_target_with_the_apps_own_settings(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from freshness.db import get_engine
    from freshness.people import add_person
    from freshness.web import create_app

    with Session(get_engine(settings)) as s:
        _, token = add_person(s, "Ada", consent=True, now=NOW)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        for body in ({"kind": "webhook", "target": "http://169.254.169.254/latest"},
                     {"kind": "apprise", "target": "json://127.0.0.1:9/x"}):
            r = client.post("/api/v1/channels", json=body, headers=headers)
            assert r.status_code == 400 and r.json()["code"] == "usage", r.text
            assert "FRESHNESS_ALLOW_PRIVATE_TARGETS" in r.json()["message"]
        assert client.get("/api/v1/channels", headers=headers).json() == []
    allowing = settings.model_copy(update={"allow_private_targets": "169.254.0.0/16"})
    with TestClient(create_app(allowing)) as client:  # the app's settings decide, not the environment's
        r = client.post("/api/v1/channels", json={"kind": "webhook", "target": "http://169.254.169.254/x"},
                        headers=headers)
        assert r.status_code == 201, r.text


# ---------------------------------------------------------------- at every send


def stored_channel(session: Session, target: str, kind: str = "webhook") -> Channel:
    """A channel written straight into the database (added before the rule, or the address changed
    since), with a reminder waiting in the outbox for it."""
    p = dbseed.person(session)
    dbseed.headshot(session, p, date(2024, 3, 1), disclosed=True)
    dbseed.checkin(session, p, datetime(2025, 5, 1, tzinfo=UTC), {})
    c = Channel(person_id=p.id, kind=kind, target=target, secret=webhook.new_secret(), created_at=NOW)
    session.add(c)
    session.commit()
    evaluate_person(session, p, NOW, Settings(), now=NOW)
    return c


def test_a_stored_webhook_on_loopback_is_refused_at_send_and_disabled(session: Session, settings: Settings,
                                                                       receiver) -> None:
    channel = stored_channel(session, receiver.url("/hook"))
    report = outbox.dispatch(session, Transports(settings), settings, lambda: NOW)
    assert report.sent == 0 and report.dead == 1
    assert receiver.requests == []  # nothing reached the receiver
    session.expire_all()
    channel = session.get(Channel, channel.id)
    assert not channel.enabled and "127.0.0.1 is a private, loopback" in channel.disabled_reason
    (delivery,) = session.exec(select(Delivery)).all()
    assert delivery.status == "dead"


def test_a_name_that_turns_private_after_it_was_added_is_refused_at_send(
        session: Session, settings: Settings, receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: public when checked at add time, loopback when the webhook is sent."""
    real = netguard._ORIGINAL_GETADDRINFO
    answers = {"hooks.rebind.test": "93.184.216.34"}

    def resolver(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(netguard, "_ORIGINAL_GETADDRINFO", resolver)
    target = f"http://hooks.rebind.test:{receiver.port}/hook"
    assert netguard.check_url(target, netguard.Policy.from_settings(settings))  # public now
    answers["hooks.rebind.test"] = "127.0.0.1"
    with pytest.raises(PermanentError) as caught:
        webhook.WebhookTransport(settings).send(target, webhook.new_secret(), message())
    assert caught.value.reason.startswith("hooks.rebind.test (127.0.0.1) is a private, loopback")
    assert receiver.requests == []
    # the same name, allowed: the connection goes to the address that was checked
    allowed = settings.model_copy(update={"allow_private_targets": "127.0.0.1/32"})
    webhook.WebhookTransport(allowed).send(target, webhook.new_secret(), message())
    assert len(receiver.requests) == 1 and receiver.requests[0].headers["host"] == f"hooks.rebind.test:{receiver.port}"


def test_an_apprise_service_on_loopback_is_refused_at_send(settings: Settings, receiver) -> None:
    with pytest.raises(PermanentError) as caught:
        AppriseTransport(settings).send(f"json://127.0.0.1:{receiver.port}/notify", None, message())
    assert "127.0.0.1" in caught.value.reason and "FRESHNESS_ALLOW_PRIVATE_TARGETS" in caught.value.reason
    assert receiver.requests == []


def test_an_apprise_redirect_to_a_refused_address_is_not_followed(settings: Settings, receiver) -> None:
    """127.0.0.1 is allowed, 127.0.0.2 is not: a redirect there is stopped before it connects."""
    allowed = settings.model_copy(update={"allow_private_targets": "127.0.0.1/32"})
    receiver.answers = [Answer(307, {"location": f"http://127.0.0.2:{receiver.port}/elsewhere"})]
    with pytest.raises(PermanentError) as caught:  # Apprise's json:// follows redirects: the guard stops it
        AppriseTransport(allowed).send(f"json://127.0.0.1:{receiver.port}/notify", None, message())
    assert caught.value.reason.startswith("127.0.0.2 is a private, loopback")
    assert [r.path for r in receiver.requests] == ["/notify"]


def test_the_guard_only_applies_inside_the_block_and_this_context() -> None:
    policy = netguard.Policy()
    assert socket.getaddrinfo("127.0.0.1", 80)  # not guarded
    with netguard.guarded(policy):
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("127.0.0.1", 80)
    assert policy.refused == [("127.0.0.1", "127.0.0.1")]
    assert socket.getaddrinfo("127.0.0.1", 80)
