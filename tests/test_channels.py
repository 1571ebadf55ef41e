"""The three real transports against real servers on loopback: an SMTP server (aiosmtpd,
plain, STARTTLS and implicit TLS with a private CA), an HTTP server receiving signed
webhooks and Apprise's json:// and form:// posts. Deliveries go through the outbox with the
real ``Transports``; time is passed in (the dispatch clock and the product's frozen clock),
never slept through.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import ssl
import subprocess
import textwrap
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import Session, select

from freshness.config import Settings
from freshness.models import Channel, Delivery, Notification, Person
from freshness.notify import outbox, webhook
from freshness.notify.apprise_channel import AppriseTransport, validate
from freshness.notify.base import Message, PermanentError, TemporaryError
from freshness.notify.email import NOT_CONFIGURED, EmailTransport
from freshness.notify.transports import Transports
from freshness.reminders import evaluate_person
from tests import dbseed
from tests.conftest import IN_CI, REPO
from tests.receivers import Answer, Request, receiver_fixture

pytestmark = pytest.mark.usefixtures("allow_loopback")  # the receivers listen on loopback

UTC = timezone.utc
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
FROM = "freshness <reminders@fresh.example.org>"


# ------------------------------------------------------------------ the product's side


@pytest.fixture
def settings_overrides() -> dict:
    return {"base_url": "https://fresh.example.org/", "smtp_from": FROM, "http_timeout_seconds": 5}


class Clocks:
    """The dispatch clock and the product's clock (webhook timestamps), moved together."""

    def __init__(self, frozen: Any, now: datetime = NOW):
        self.frozen = frozen
        self.at(now)

    def at(self, when: datetime) -> None:
        self.now = when
        self.frozen.set(when)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clocks(clock) -> Clocks:
    return Clocks(clock)


def refresh_due(session: Session, kind: str, target: str, secret: str | None = None) -> tuple[Person, Channel]:
    """A person whose LinkedIn headshot passed its refresh date, with one channel; the
    reminder is evaluated, so its notification waits in the outbox."""
    p = dbseed.person(session)
    dbseed.headshot(session, p, date(2024, 3, 1), disclosed=True)
    dbseed.checkin(session, p, datetime(2025, 5, 1, tzinfo=UTC), {})
    c = Channel(person_id=p.id, kind=kind, target=target, secret=secret, created_at=NOW)
    session.add(c)
    session.commit()
    (t,) = evaluate_person(session, p, NOW, Settings(base_url="https://fresh.example.org/"), now=NOW)
    assert (t.kind, t.new_state) == ("refresh_due", "open")
    return p, c


def the_delivery(session: Session) -> Delivery:
    session.expire_all()
    (d,) = session.exec(select(Delivery)).all()
    return d


def the_notification(session: Session) -> Notification:
    (n,) = session.exec(select(Notification)).all()
    return n


def message(subject: str = "Time for your check-in selfie", text: str = "Take one today.", key: str = "frd_0001",
            kind: str = "prompt") -> Message:
    return Message(idempotency_key=key, kind=kind, subject=subject, text=text,
                   payload={"type": "checkin.prompt", "person": {"id": 1, "name": "Pat"}}, created_at=NOW)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ a real SMTP server


class Mailbox:
    """aiosmtpd handler: keeps what it accepts; refuses the addresses in ``refuse`` at RCPT
    and answers DATA with ``data_answer`` when set."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refuse: dict[str, str] = {}
        self.data_answer: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_answer:
            return self.data_answer
        self.received.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                              "raw": envelope.original_content,
                              "tls": server.transport.get_extra_info("ssl_object") is not None,
                              "authenticated": session.authenticated})
        return "250 Message accepted"

    def messages(self) -> list[Any]:
        # as a mail client reads them: line ends made local (the stdlib parser would keep CRLF in the text)
        return [message_from_bytes(m["raw"].replace(b"\r\n", b"\n"), policy=default_policy) for m in self.received]


class LoopbackController(Controller):
    """aiosmtpd's controller on an ephemeral loopback port (the port is read once bound)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server():
    """Starts an SMTP server on 127.0.0.1: ``smtp_server(**aiosmtpd options) -> (mailbox, port)``."""
    started: list[Controller] = []

    def start(**options: Any) -> tuple[Mailbox, int]:
        box = Mailbox()
        controller = LoopbackController(box, hostname="127.0.0.1", port=0, server_hostname="mail.test", **options)
        controller.start()
        started.append(controller)
        return box, controller.port

    yield start
    for controller in started:
        controller.stop()


def mail_settings(settings: Settings, port: int, security: str = "none", **kw: Any) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": security,
                                       "smtp_timeout_seconds": 5, **kw})


def test_a_reminder_email_arrives_with_its_headers_and_text(session, settings, smtp_server, clocks) -> None:
    box, port = smtp_server()
    refresh_due(session, "email", "pat@example.org")
    s = mail_settings(settings, port)
    report = outbox.dispatch(session, Transports(s), s, clocks)
    assert (report.sent, report.errors) == (1, [])
    d, note = the_delivery(session), the_notification(session)
    assert (d.status, d.attempts) == ("sent", 1)
    (envelope,) = box.received
    assert envelope["mail_from"] == "reminders@fresh.example.org" and envelope["rcpt_tos"] == ["pat@example.org"]
    (mail,) = box.messages()
    assert mail["Message-ID"] == f"<{d.idempotency_key}@freshness>"
    assert mail["Subject"] == "Headshot due for a refresh (LinkedIn headshot, published 2024-03-01)" == note.subject
    assert mail["From"] == FROM and mail["To"] == "pat@example.org"
    assert parsedate_to_datetime(mail["Date"]) == NOW  # when the notification was written
    assert mail["X-Freshness-Kind"] == "reminder" and mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
    body = mail.get_content()
    assert body.startswith("Your LinkedIn headshot was published on 2024-03-01, 15 months ago: it is due")
    assert "Open freshness: https://fresh.example.org/me" in body and body == note.text.rstrip("\n") + "\n"


def test_an_email_is_utf8_and_a_resend_is_the_same_message(settings, smtp_server) -> None:
    box, port = smtp_server()
    transport = EmailTransport(mail_settings(settings, port))
    words = message(subject="Zoë’s headshot — time to refresh it ✓", text="Café crème: prenez un selfie.\nÀ bientôt")
    transport.send("zoe@example.org", None, words)
    transport.send("zoe@example.org", None, words)  # a resend after a crash between sending and recording
    first, second = box.received
    assert first["raw"] == second["raw"]  # the same bytes: one message seen twice, not two messages
    mail = box.messages()[0]
    assert mail["Subject"] == "Zoë’s headshot — time to refresh it ✓" and mail["Message-ID"] == "<frd_0001@freshness>"
    assert mail.get_content() == "Café crème: prenez un selfie.\nÀ bientôt\n"
    assert all(b < 128 for b in first["raw"])  # encoded for any mail server (RFC 2047 subject, quoted-printable)


def test_a_refused_address_disables_the_email_channel_with_the_servers_words(session, settings, smtp_server,
                                                                                clocks) -> None:
    box, port = smtp_server()
    box.refuse["ada@example.org"] = "550 no such user"
    _, channel = refresh_due(session, "email", "ada@example.org")
    s = mail_settings(settings, port)
    report = outbox.dispatch(session, Transports(s), s, clocks)
    assert (report.sent, report.dead) == (0, 1)
    d = the_delivery(session)
    assert (d.status, d.last_error) == ("dead", "attempt 1: the mail server refused ada@example.org: 550 no such user")
    channel = session.get(Channel, channel.id)
    assert (channel.enabled, channel.disabled_reason, channel.disabled_at) == (
        False, "the mail server refused ada@example.org: 550 no such user", NOW)
    assert box.received == []


def test_a_busy_mailbox_and_a_dead_server_are_retried_later(session, settings, smtp_server, clocks) -> None:
    box, port = smtp_server()
    box.refuse["pat@example.org"] = "450 mailbox busy, try later"
    refresh_due(session, "email", "pat@example.org")
    s = mail_settings(settings, port)
    assert outbox.dispatch(session, Transports(s), s, clocks).retried == 1
    d = the_delivery(session)
    assert (d.status, d.next_attempt_at) == ("pending", NOW + timedelta(seconds=60))
    assert d.last_error == "attempt 1: the mail server refused pat@example.org: 450 mailbox busy, try later"
    # the server is down at the next attempt: connection refused, retried again
    dead = free_port()
    down = mail_settings(settings, dead)
    clocks.at(NOW + timedelta(seconds=60))
    assert outbox.dispatch(session, Transports(down), down, clocks).retried == 1
    d = the_delivery(session)
    assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 2, NOW + timedelta(seconds=180))
    assert d.last_error.startswith(f"attempt 2: could not connect to the mail server 127.0.0.1:{dead}: ")
    assert "refused" in d.last_error.lower()
    # back up and accepting: the third attempt delivers it, the channel was never disabled
    del box.refuse["pat@example.org"]
    clocks.at(NOW + timedelta(seconds=180))
    assert outbox.dispatch(session, Transports(s), s, clocks).sent == 1
    assert the_delivery(session).status == "sent" and len(box.received) == 1
    assert session.exec(select(Channel)).one().enabled


@pytest.mark.parametrize(("answer", "error"), [
    ("554 5.7.1 message rejected as spam", PermanentError),
    ("451 4.3.0 local error, try again", TemporaryError),
])
def test_the_servers_answer_to_the_message_decides_permanent_or_temporary(settings, smtp_server, answer,
                                                                          error) -> None:
    box, port = smtp_server()
    box.data_answer = answer
    with pytest.raises(error) as caught:
        EmailTransport(mail_settings(settings, port)).send("pat@example.org", None, message())
    assert type(caught.value) is error
    assert caught.value.reason == f"the mail server refused the message to pat@example.org: {answer}"


def test_email_without_a_mail_server_is_not_configured_and_retried(settings) -> None:
    with pytest.raises(TemporaryError) as caught:
        EmailTransport(settings).send("pat@example.org", None, message())
    assert caught.value.reason == NOT_CONFIGURED == "e-mail is not configured: set FRESHNESS_SMTP_HOST"


@pytest.mark.parametrize("target", ["Pat <pat@example.org>", "pat@example.org\r\nBcc: eve@example.org",
                                    "pat.example.org", "pat@"])
def test_a_target_that_is_not_one_address_is_permanent(settings, smtp_server, target) -> None:
    box, port = smtp_server()
    with pytest.raises(PermanentError) as caught:
        EmailTransport(mail_settings(settings, port)).send(target, None, message())
    assert caught.value.reason == f"not an e-mail address: {target!r}" and box.received == []


# ------------------------------------------------------------------ TLS with a private CA


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A private CA and a server certificate it signed, for 127.0.0.1 (made with the openssl CLI)."""
    if shutil.which("openssl") is None:
        missing = "the openssl command is not installed (needed to make the TLS tests' certificates)"
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Test Private CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "server.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
                                  "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "3650", "-extfile", "server.ext", cwd=d)
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


def server_tls(pki: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["cert"], pki["key"])
    return context


def logins(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"freshness", b"s3cret")
    return AuthResult(success=ok, handled=False)  # refused: aiosmtpd answers 535


def test_starttls_with_a_private_ca_and_a_login(settings, smtp_server, pki, monkeypatch) -> None:
    box, port = smtp_server(tls_context=server_tls(pki), require_starttls=True, authenticator=logins,
                            auth_require_tls=True)
    s = mail_settings(settings, port, "starttls", smtp_username="freshness", smtp_password="s3cret")
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))  # README: trusting a private CA
    EmailTransport(s).send("pat@example.org", None, message())
    (envelope,) = box.received
    assert envelope["tls"] and envelope["authenticated"] and envelope["rcpt_tos"] == ["pat@example.org"]
    # a wrong password is the operator's to fix: retried, never the person's channel disabled
    wrong = s.model_copy(update={"smtp_password": "guess"})
    with pytest.raises(TemporaryError) as caught:
        EmailTransport(wrong).send("pat@example.org", None, message())
    assert caught.value.reason.startswith("the mail server refused the login of freshness "
                                          "(FRESHNESS_SMTP_USERNAME/PASSWORD): 535")
    # without trusting the CA the certificate does not verify: nothing is sent in the clear
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(TemporaryError) as caught:
        EmailTransport(s).send("pat@example.org", None, message())
    assert caught.value.reason.startswith(f"TLS with the mail server 127.0.0.1:{port} failed: ")
    assert "certificate" in caught.value.reason and len(box.received) == 1


def test_implicit_tls(settings, smtp_server, pki, monkeypatch) -> None:
    box, port = smtp_server(ssl_context=server_tls(pki))
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
    EmailTransport(mail_settings(settings, port, "tls")).send("pat@example.org", None, message())
    (envelope,) = box.received
    assert envelope["tls"] and box.messages()[0]["Subject"] == "Time for your check-in selfie"


# ------------------------------------------------------------------ a real HTTP server


receiver = receiver_fixture()


def readme_receiver_check():
    """The receiver's signature check exactly as README.md shows it (run, not imported)."""
    text = (REPO / "README.md").read_text()
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "def verify_freshness_webhook" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["verify_freshness_webhook"]


def test_the_readme_and_the_module_show_receivers_the_same_check() -> None:
    text = (REPO / "README.md").read_text()
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "def verify_freshness_webhook" in b]
    assert textwrap.indent(code.strip(), "    ") in webhook.__doc__


def test_a_webhook_arrives_signed_as_the_readme_tells_receivers_to_check(session, settings, receiver, clocks) -> None:
    secret = webhook.new_secret()
    refresh_due(session, "webhook", receiver.url("/hooks/freshness"), secret)
    report = outbox.dispatch(session, Transports(settings), settings, clocks)
    assert (report.sent, report.errors) == (1, [])
    d, note = the_delivery(session), the_notification(session)
    (request,) = receiver.requests
    headers, body = request.headers, request.body
    assert request.path == "/hooks/freshness" and headers["content-type"] == "application/json"
    assert headers["webhook-id"] == d.idempotency_key and headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", headers["webhook-signature"])
    assert json.loads(body) == {
        "type": "reminder.opened", "id": d.idempotency_key, "timestamp": "2025-06-01T12:00:00Z", "kind": "reminder",
        "subject": note.subject, "text": note.text, "data": note.payload,
    }
    check = readme_receiver_check()
    now = NOW.timestamp()
    assert check(secret, headers, body, now=now)
    assert not check(secret, headers, body.replace(b"LinkedIn", b"LinkedIm"), now=now)  # a changed body
    assert not check(webhook.new_secret(), headers, body, now=now)  # another secret
    assert not check(secret, headers, body, now=now + 301)  # replayed after 5 minutes
    # the module's helper (used by `freshness channel test`) agrees on all four
    assert webhook.verify(secret, headers, body, now=NOW)
    assert not webhook.verify(secret, headers, body.replace(b"LinkedIn", b"LinkedIm"), now=NOW)
    assert not webhook.verify(webhook.new_secret(), headers, body, now=NOW)
    assert not webhook.verify(secret, headers, body, now=NOW + timedelta(seconds=301))


def test_a_webhook_failing_twice_gets_one_accepted_delivery(session, settings, receiver, clocks) -> None:
    secret = webhook.new_secret()
    receiver.answers = [500, 500]
    refresh_due(session, "webhook", receiver.url("/hook"), secret)
    for wait in (0, 60, 180):  # the backoff: 60 s, then twice that
        clocks.at(NOW + timedelta(seconds=wait))
        outbox.dispatch(session, Transports(settings), settings, clocks)
    clocks.at(NOW + timedelta(days=1))
    assert outbox.dispatch(session, Transports(settings), settings, clocks).attempted == 0
    d = the_delivery(session)
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, None)
    assert len(receiver.requests) == 3 and receiver.accepted == 1
    assert {r.headers["webhook-id"] for r in receiver.requests} == {d.idempotency_key}
    assert len({r.body for r in receiver.requests}) == 1  # the same body every time
    check = readme_receiver_check()
    for request, wait in zip(receiver.requests, (0, 60, 180)):  # each attempt signed at its own time
        assert request.headers["webhook-timestamp"] == str(int(NOW.timestamp()) + wait)
        assert check(secret, request.headers, request.body, now=NOW.timestamp() + wait)


def test_a_webhook_answering_410_disables_the_channel(session, settings, receiver, clocks) -> None:
    receiver.answers = [410]
    _, channel = refresh_due(session, "webhook", receiver.url("/gone"), webhook.new_secret())
    report = outbox.dispatch(session, Transports(settings), settings, clocks)
    assert (report.sent, report.dead) == (0, 1)
    d = the_delivery(session)
    assert (d.status, d.last_error) == ("dead", "attempt 1: the webhook answered 410 Gone")
    channel = session.get(Channel, channel.id)
    assert (channel.enabled, channel.disabled_reason, channel.disabled_at) == (False, "the webhook answered 410 Gone", NOW)
    clocks.at(NOW + timedelta(days=1))
    assert outbox.dispatch(session, Transports(settings), settings, clocks).attempted == 0
    assert len(receiver.requests) == 1


def test_each_webhook_answer_is_delivered_retried_or_permanent(settings, receiver) -> None:
    expected: dict[int, type[Exception] | None] = {
        200: None, 202: None, 204: None, 400: PermanentError, 401: PermanentError, 404: PermanentError,
        408: TemporaryError, 409: TemporaryError, 410: PermanentError, 422: PermanentError, 425: TemporaryError,
        429: TemporaryError, 500: TemporaryError, 502: TemporaryError, 503: TemporaryError,
    }
    transport = webhook.WebhookTransport(settings)
    for status, error in expected.items():
        receiver.answers = [status]
        if error is None:
            transport.send(receiver.url(""), webhook.new_secret(), message())
            continue
        with pytest.raises(error) as caught:
            transport.send(receiver.url(""), webhook.new_secret(), message())
        assert type(caught.value) is error, status
        assert caught.value.reason.startswith(f"the webhook answered {status} "), caught.value.reason
    assert len(receiver.requests) == len(expected)


def test_a_redirect_is_not_followed(settings, receiver) -> None:
    receiver.answers = [Answer(308, {"location": receiver.url("/moved")})]
    with pytest.raises(PermanentError) as caught:
        webhook.WebhookTransport(settings).send(receiver.url("/old"), webhook.new_secret(), message())
    assert caught.value.reason == (f"the webhook answered 308 Permanent Redirect; redirects are not followed: "
                                   f"use {receiver.url('/moved')}")
    assert [r.path for r in receiver.requests] == ["/old"]


def test_a_webhook_that_is_down_or_silent_is_retried(settings) -> None:
    quick = settings.model_copy(update={"http_timeout_seconds": 0.3})
    transport = webhook.WebhookTransport(quick)
    with pytest.raises(TemporaryError) as caught:
        transport.send(f"http://127.0.0.1:{free_port()}/hook", webhook.new_secret(), message())
    assert caught.value.reason.startswith("could not reach the webhook: ")
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(TemporaryError) as caught:
            transport.send(f"http://127.0.0.1:{silent.getsockname()[1]}/hook", webhook.new_secret(), message())
    assert caught.value.reason == "the webhook did not answer within 0.3 s"


@pytest.mark.parametrize(("target", "secret", "reason"), [
    ("ftp://example.org/hook", "whsec_dGVzdA==", "not a webhook URL (http:// or https://): ftp://example.org/hook"),
    ("http://127.0.0.1:9/hook", None, "the webhook channel has no signing secret: remove it and add it again"),
    ("http://127.0.0.1:9/hook", "whsec_not base64!",
     "the webhook channel's secret is unusable (not a whsec_ secret (base64 after the prefix)): "
     "remove it and add it again"),
])
def test_a_webhook_channel_that_cannot_work_is_permanent(settings, target, secret, reason) -> None:
    with pytest.raises(PermanentError) as caught:
        webhook.WebhookTransport(settings).send(target, secret, message())
    assert caught.value.reason == reason


def test_new_webhook_secrets_are_32_random_bytes() -> None:
    a, b = webhook.new_secret(), webhook.new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"), validate=True)) == 32 == len(webhook.secret_key(b))


def test_the_signature_matches_the_standard_webhooks_reference_example() -> None:
    # The example of the Standard Webhooks reference libraries' tests (secret, id, timestamp, body → signature).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert webhook.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# ------------------------------------------------------------------ Apprise


def posted(request: Request) -> dict[str, str]:
    if request.headers["content-type"].startswith("application/json"):
        return json.loads(request.body)
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


@pytest.mark.parametrize("scheme", ["json", "form"])
def test_an_apprise_url_delivers_the_subject_and_the_text(session, settings, receiver, clocks, scheme) -> None:
    target = f"{scheme}://127.0.0.1:{receiver.port}/notify"
    assert validate(target, settings) is None
    refresh_due(session, "apprise", target)
    report = outbox.dispatch(session, Transports(settings), settings, clocks)
    assert (report.sent, report.errors) == (1, [])
    note = the_notification(session)
    (request,) = receiver.requests
    fields = posted(request)
    assert request.path == "/notify"
    assert (fields["title"], fields["message"]) == (note.subject, note.text)
    assert the_delivery(session).status == "sent"


def test_an_apprise_service_that_fails_is_retried_and_a_url_apprise_cannot_use_disables(session, settings, receiver,
                                                                                          clocks) -> None:
    receiver.answers = [503]
    with pytest.raises(TemporaryError) as caught:
        AppriseTransport(settings).send(f"json://127.0.0.1:{receiver.port}/", None, message())
    assert caught.value.reason.startswith("the Apprise service (json://…) did not take the message: ")
    assert "503" in caught.value.reason
    bad = "nope://token@somewhere"
    assert validate(bad, settings) == ("not an Apprise URL we can use: nope://… "
                                       "(see https://github.com/caronc/apprise/wiki for the URL of each service)")
    assert validate("json://a.example/x json://b.example/y", settings) == "one Apprise URL per channel, not 2: json://…"
    _, channel = refresh_due(session, "apprise", bad)
    outbox.dispatch(session, Transports(settings), settings, clocks)
    channel = session.get(Channel, channel.id)
    assert not channel.enabled and channel.disabled_reason == validate(bad, settings)
    assert "token" not in channel.disabled_reason  # the URL's secrets are not repeated
