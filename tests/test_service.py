"""The service runs itself (issue 6, "done when"): a person added with an e-mail address and a
webhook, whose headshot is past its refresh date, receives exactly one refresh reminder on
each channel within a minute of `freshness serve` starting, with the default intervals.

Everything is real: the CLI sets the person up (a real photo as the headshot), `freshness
serve` runs in its own process, an SMTP server (aiosmtpd) and an HTTP server on loopback
receive what it sends. The serve process reads the real clock, so the headshot is dated
2020-01-01: whatever day this runs, it is overdue for a refresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

import pytest

from tests.clitools import run_json
from tests.test_channels import LoopbackController, Mailbox
from tests.receivers import Receiver
from tests.test_scheduler import serve

pytestmark = [pytest.mark.faces, pytest.mark.usefixtures("allow_loopback")]  # receivers on loopback


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1)[1] == expected for sig in headers["webhook-signature"].split())


def test_a_person_gets_one_refresh_reminder_on_each_channel_within_a_minute_of_serve(
        ready: Path, faces: Path) -> None:
    box = Mailbox()
    smtp = LoopbackController(box, hostname="127.0.0.1", port=0, server_hostname="mail.test")
    smtp.start()
    hook = Receiver()
    try:
        pid = run_json("person", "add", "Ada Lovelace", "--consent", "--email", "ada@example.org",
                       "--timezone", "Europe/London")["id"]
        run_json("headshot", "add", pid, faces / "people/rose_leslie/img1.jpg", "--platform", "linkedin",
                 "--published", "2020-01-01", "--disclosed")
        secret = run_json("channel", "add", pid, "--webhook", hook.url())["secret"]
        env = {"FRESHNESS_SMTP_HOST": "127.0.0.1", "FRESHNESS_SMTP_PORT": str(smtp.port),
               "FRESHNESS_SMTP_SECURITY": "none", "FRESHNESS_SMTP_FROM": "freshness <fresh@example.org>",
               "FRESHNESS_BASE_URL": "https://fresh.example.org"}
        started = time.monotonic()
        proc, _ = serve(ready, **env)  # the default intervals: sweep hourly (and now), dispatch every minute
        try:
            deadline = started + 60
            while (not box.received or not hook.requests) and time.monotonic() < deadline:
                assert proc.proc.poll() is None, proc.output()
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            assert box.received and hook.requests, f"nothing within a minute:\n{proc.output()}"
            time.sleep(3)  # and nothing more arrives
        finally:
            proc.stop()
    finally:
        smtp.stop()
        hook.close()
    assert elapsed < 60
    (mail,) = box.messages()
    assert mail["To"] == "ada@example.org" and mail["From"] == "freshness <fresh@example.org>"
    # (a long subject is folded onto the next line; unfolding leaves the space the fold began with)
    assert mail["Subject"].strip() == "Headshot overdue for a refresh (LinkedIn headshot, published 2020-01-01)"
    text = mail.get_content()
    assert text.startswith("Your LinkedIn headshot was published on 2020-01-01") and "overdue for a refresh" in text
    assert "Open freshness: https://fresh.example.org/me" in text
    (request,) = hook.requests
    headers, body = request.headers, request.body
    assert signed_by(secret, headers, body)
    (event,) = hook.of_type("reminder.opened")
    assert event["data"]["reminder"]["kind"] == "refresh_overdue"
    assert event["data"]["reminder"]["headshot"]["published_on"] == "2020-01-01"
    assert mail["Message-ID"] != f"<{headers['webhook-id']}@freshness>"  # one delivery per channel
