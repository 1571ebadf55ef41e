"""E-mail over SMTP (README, "Notifications").

One plain-text UTF-8 message per delivery, sent with :mod:`smtplib` to the server of
``FRESHNESS_SMTP_HOST``: ``FRESHNESS_SMTP_SECURITY=starttls`` (default, port 587),
``tls`` (implicit TLS, port 465) or ``none`` (port 25); a login when
``FRESHNESS_SMTP_USERNAME`` is set. The server's certificate is checked against the
system's trusted authorities (a private CA: ``SSL_CERT_FILE``, see README).

The message is the same bytes on every attempt of one delivery: ``Message-ID`` is
``<{idempotency key}@freshness>`` and ``Date`` is when the notification was written, so a
resend after a crash is the same message, which mail clients show once.

Errors: the server refusing the address or the message with a 5xx code is permanent (the
channel is disabled with the server's words); a 4xx code, a refused or dropped
connection, a timeout, a TLS failure, a refused login or a missing ``FRESHNESS_SMTP_HOST``
is temporary (retried with backoff): those are the operator's to fix, not the person's.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from freshness import clock
from freshness.config import Settings
from freshness.notify.base import DeliveryError, Message, PermanentError, TemporaryError

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
NOT_CONFIGURED = "e-mail is not configured: set FRESHNESS_SMTP_HOST"


def message_id(idempotency_key: str) -> str:
    return f"<{idempotency_key}@freshness>"


def check_address(target: str) -> str:
    """The bare address of an e-mail channel's target, or ``PermanentError``."""
    address = target.strip()
    name, parsed = parseaddr(address)
    local, _, domain = parsed.rpartition("@")
    if (not local or not domain or parsed != address or name
            or any(c.isspace() or ord(c) < 32 for c in address)):
        raise PermanentError(f"not an e-mail address: {target!r}")
    return address


def build_message(settings: Settings, target: str, message: Message) -> EmailMessage:
    """The e-mail for one delivery: identical bytes on every attempt."""
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["Message-ID"] = message_id(message.idempotency_key)
    mail["Date"] = format_datetime(message.created_at or clock.utcnow())
    mail["From"] = settings.smtp_from
    mail["To"] = target
    mail["Subject"] = message.subject
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    mail["X-Freshness-Kind"] = message.kind
    mail.set_content(message.text, charset="utf-8", cte="quoted-printable")
    return mail


def _words(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).replace("\n", " ").strip()


def _by_code(code: int, reason: str) -> DeliveryError:
    return PermanentError(reason) if 500 <= code < 600 else TemporaryError(reason)


class EmailTransport:
    """Sends a channel's message to its address (the channel's secret is not used)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @property
    def port(self) -> int:
        return self.settings.smtp_port or DEFAULT_PORTS[self.settings.smtp_security]

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        if s.smtp_security == "tls":
            return smtplib.SMTP_SSL(s.smtp_host, self.port, timeout=s.smtp_timeout_seconds,
                                    context=ssl.create_default_context())
        smtp = smtplib.SMTP(s.smtp_host, self.port, timeout=s.smtp_timeout_seconds)
        try:
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, target: str, secret: str | None, message: Message) -> None:
        s = self.settings
        if not s.smtp_host:
            raise TemporaryError(NOT_CONFIGURED)
        address = check_address(target)
        mail = build_message(s, address, message)
        server = f"{s.smtp_host}:{self.port}"
        try:
            with self._connect() as smtp:
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password or "")
                smtp.send_message(mail, from_addr=parseaddr(s.smtp_from)[1], to_addrs=[address])
        except smtplib.SMTPRecipientsRefused as exc:
            code, words = exc.recipients.get(address, next(iter(exc.recipients.values()), (0, b"")))
            raise _by_code(code, f"the mail server refused {address}: {code} {_words(words)}") from None
        except smtplib.SMTPDataError as exc:
            raise _by_code(exc.smtp_code, f"the mail server refused the message to {address}: "
                                          f"{exc.smtp_code} {_words(exc.smtp_error)}") from None
        except smtplib.SMTPSenderRefused as exc:  # the operator's FRESHNESS_SMTP_FROM, not the person's address
            raise TemporaryError(f"the mail server refused the sender {exc.sender} (FRESHNESS_SMTP_FROM): "
                                 f"{exc.smtp_code} {_words(exc.smtp_error)}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryError(f"the mail server refused the login of {s.smtp_username} "
                                 f"(FRESHNESS_SMTP_USERNAME/PASSWORD): {exc.smtp_code} {_words(exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:
            raise TemporaryError(f"the mail server {server} answered {exc.smtp_code} {_words(exc.smtp_error)}") from None
        except smtplib.SMTPServerDisconnected as exc:
            raise TemporaryError(f"the mail server {server} closed the connection: {exc}") from None
        except smtplib.SMTPException as exc:  # e.g. "STARTTLS extension not supported by server."
            raise TemporaryError(f"the mail server {server}: {exc}") from None
        except ssl.SSLError as exc:  # includes a certificate that does not verify
            raise TemporaryError(f"TLS with the mail server {server} failed: {getattr(exc, 'verify_message', None) or exc}"
                                 ) from None
        except TimeoutError:
            raise TemporaryError(f"the mail server {server} did not answer within {s.smtp_timeout_seconds:g} s") from None
        except OSError as exc:
            raise TemporaryError(f"could not connect to the mail server {server}: {exc.strerror or exc}") from None
