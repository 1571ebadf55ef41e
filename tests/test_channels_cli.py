"""Channels and the delivery log through the CLI: add, list, test, enable, remove, notifications.

Test messages go through the real transports to a real HTTP server on loopback (a thread
running the standard library's ``http.server``); the clock is frozen (``clock`` fixture),
so the webhook's signature timestamp is ``FROZEN_NOW`` too.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.clitools import run, run_json, snapshot
from tests.conftest import FROZEN_NOW
from tests.receivers import Receiver, receiver_fixture

pytestmark = pytest.mark.usefixtures("allow_loopback")  # the receivers listen on loopback

ADA = "Ada Lovelace"


receiver = receiver_fixture(default=204)


@pytest.fixture
def ada(ready: Path) -> Path:
    run("person", "add", ADA, "--consent", "--timezone", "Europe/Berlin")
    return ready


def _session():
    from freshness.config import get_settings
    from freshness.db import get_engine

    return Session(get_engine(get_settings()), expire_on_commit=False)


def _deliveries() -> list:
    from freshness.models import Delivery

    with _session() as s:
        return list(s.exec(select(Delivery).order_by(Delivery.id)).all())


def _cells(row: str) -> list[str]:
    """The cells of a printed table row (columns are at least two spaces apart)."""
    return re.split(r"\s{2,}", row.strip())


def _webhook(url: str) -> dict[str, Any]:
    return run_json("channel", "add", ADA, "--webhook", url)


# ---------------------------------------------------------------- add and list


def test_it_adds_channels_and_lists_them_with_credentials_masked(ada: Path) -> None:
    out = run("channel", "add", ADA, "--email", "ada@example.org").stdout
    assert out.splitlines()[0] == "added email channel #1 for Ada Lovelace: ada@example.org"
    apprise = run_json("channel", "add", ADA, "--apprise", "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654")
    assert apprise["target"] == "tgram://****/****" and apprise["secret"] is None
    hook = run("channel", "add", ADA, "--webhook", "https://user:pw@hooks.example.org/freshness?token=s3cret").stdout
    lines = hook.splitlines()
    assert lines[0] == "added webhook channel #3 for Ada Lovelace: https://user:****@hooks.example.org/freshness?token=****"
    assert lines[1].startswith("signing secret (shown once, store it now): whsec_")
    assert "webhook-signature" in lines[2] and 'README.md, "Webhooks"' in lines[2]
    assert lines[3] == "send a test message: freshness channel test 3"
    secret = lines[1].split(": ", 1)[1]

    listed = run_json("channel", "list", ADA)
    assert [(c["id"], c["kind"], c["target"], c["enabled"]) for c in listed] == [
        (1, "email", "ada@example.org", True),
        (2, "apprise", "tgram://****/****", True),
        (3, "webhook", "https://user:****@hooks.example.org/freshness?token=****", True),
    ]
    assert set(listed[0]) == {"id", "person_id", "kind", "target", "enabled", "disabled_reason", "disabled_at",
                              "created_at"}
    assert listed[0]["created_at"] == FROZEN_NOW.isoformat()
    table = run("channel", "list", ADA).stdout
    for hidden in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "987654", "s3cret", ":pw@", secret):
        assert hidden not in table
    assert "3   webhook  https://user:****@hooks.example.org/freshness?token=****  enabled  2026-11-28" in table


@pytest.mark.parametrize(("url", "shown"), [
    ("ntfy://ntfy.sh/ada-private-topic", "ntfy://ntfy.sh/****"),
    ("json://user:pass@hooks.example.org:8080/path", "json://****@hooks.example.org:8080/****"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://****/****"),
    ("mailto://ada:app-password@gmail.com", "mailto://****@gmail.com"),
])
def test_it_masks_every_credential_of_an_apprise_url(url: str, shown: str) -> None:
    from freshness.channels import mask_target

    assert mask_target("apprise", url) == shown


def test_it_warns_about_plain_http_webhooks_to_other_machines(ada: Path) -> None:
    added = _webhook("http://hooks.example.org/x")
    assert added["warnings"] == [
        "this webhook URL is plain http://: the signature proves the messages are from freshness, but anyone on "
        "the way can read them; use https:// unless the receiver is on this machine"]
    assert _webhook("http://127.0.0.1:9/x")["warnings"] == []


@pytest.mark.parametrize(("args", "message"), [
    ([], "error: give exactly one of --email ADDRESS, --apprise URL or --webhook URL\n"),
    (["--email", "ada@example.org", "--webhook", "https://h.example.org/"],
     "error: give exactly one of --email ADDRESS, --apprise URL or --webhook URL (got --email and --webhook)\n"),
    (["--email", "ada.example.org"], "error: not an e-mail address: 'ada.example.org' (expected name@example.org)\n"),
    (["--email", "ada@example"], "error: not an e-mail address: 'ada@example' (expected name@example.org)\n"),
    (["--webhook", "ftp://hooks.example.org/x"],
     "error: a webhook URL must start with https:// (or http://), got 'ftp://hooks.example.org/x'\n"),
    (["--webhook", "hooks.example.org/x"],
     "error: a webhook URL must start with https:// (or http://), got 'hooks.example.org/x'\n"),
    (["--webhook", "https:///x"], "error: a webhook URL needs a host name: 'https:///x' (expected https://host/path)\n"),
    (["--webhook", "https://h.example.org:99999/x"],
     "error: not a URL: 'https://h.example.org:99999/x' (expected https://host/path)\n"),
    (["--webhook", "https://h.example.org/a b"], "error: a webhook URL cannot contain spaces: 'https://h.example.org/a b'\n"),
    (["--webhook", "https://h.example.org/x#frag"],
     "error: a webhook URL cannot have a #fragment (it is never sent to the server): 'https://h.example.org/x#frag'\n"),
    (["--apprise", "ntfy.sh/topic"], "error: not an Apprise URL: 'ntfy.sh/topic' (expected a service URL such as "
                                     "ntfy://ntfy.sh/my-topic or tgram://bot-token/chat-id)\n"),
    (["--apprise", "nosuchservice://x/y"], "error: Apprise URL refused: not an Apprise URL we can use: "
                                           "nosuchservice://… (see https://github.com/caronc/apprise/wiki for the "
                                           "URL of each service)\n"),
    (["--email", "e@example.org", "--json"], None),  # the duplicate below
])
def test_it_refuses_bad_channels_and_writes_nothing(ada: Path, args: list[str], message: str | None) -> None:
    run("channel", "add", ADA, "--email", "e@example.org")
    before = snapshot(ada)
    result = run("channel", "add", ADA, *args, code=2)
    assert result.stderr == (message or "error: Ada Lovelace already has this email channel (#1)\n")
    assert result.stdout == ""
    assert snapshot(ada) == before


def test_it_refuses_an_unknown_person_or_channel_and_writes_nothing(ada: Path) -> None:
    before = snapshot(ada)
    assert run("channel", "add", "Grace", "--email", "g@example.org", code=2).stderr == \
        "error: no person named 'Grace' (see `freshness person list`)\n"
    for command in ("test", "remove", "enable"):
        assert run("channel", command, "7", code=2).stderr == \
            "error: no channel with id 7 (see `freshness channel list PERSON`)\n"
    assert snapshot(ada) == before


# ---------------------------------------------------------------- test messages


def test_it_sends_a_signed_test_message_to_a_real_webhook(ada: Path, receiver: Receiver) -> None:
    from freshness.notify import webhook

    secret = _webhook(receiver.url("/freshness"))["secret"]
    out = run("channel", "test", "1").stdout
    assert out == "test message delivered to webhook channel #1 (http://127.0.0.1:%d/freshness) at " \
                  "2026-11-28 16:30 CET\n" % receiver.port
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/freshness"
    assert webhook.verify(secret, request.headers, request.body, now=FROZEN_NOW)
    assert not webhook.verify(secret, request.headers, request.body + b" ", now=FROZEN_NOW)
    body = json.loads(request.body)
    assert body["type"] == "channel.test" and body["kind"] == "test"
    assert body["subject"] == "freshness: test message"
    assert body["text"].startswith("This is a test of your webhook channel #1.")
    assert body["data"]["channel"] == {"id": 1, "kind": "webhook"}
    assert body["data"]["person"] == {"id": 1, "name": ADA}
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, None)
    assert request.headers["webhook-id"] == delivery.idempotency_key

    result = run_json("channel", "test", "1")
    assert result["sent"] is True and result["channel_disabled"] is False
    assert result["delivery"]["status"] == "sent" and result["delivery"]["sent_at"] == FROZEN_NOW.isoformat()
    assert set(result) == {"sent", "channel", "delivery", "channel_disabled"}
    assert set(result["delivery"]) == {"id", "status", "attempts", "next_attempt_at", "last_error", "sent_at",
                                       "idempotency_key", "created_at"}
    assert len(receiver.requests) == 2


def test_it_sends_a_test_message_through_an_apprise_url(ada: Path, receiver: Receiver) -> None:
    port = receiver.port
    added = run_json("channel", "add", ADA, "--apprise", f"json://127.0.0.1:{port}/apprise")
    assert added["target"] == f"json://127.0.0.1:{port}/****"
    run("channel", "test", str(added["id"]))
    [request] = receiver.requests
    assert request.path == "/apprise"
    assert json.loads(request.body)["title"] == "freshness: test message"


def test_a_permanent_error_disables_the_channel_and_says_so(ada: Path, receiver: Receiver) -> None:
    _webhook(receiver.url())
    receiver.answers = [410]
    result = run("channel", "test", "1", code=1)
    assert result.stdout == ""
    assert result.stderr == (
        "error: the test message to channel #1 was not delivered: the webhook answered 410 Gone. This error is "
        "permanent, so channel #1 is now disabled: fix it, then run `freshness channel enable 1` and test it again.\n")
    [channel] = run_json("channel", "list", ADA)
    assert (channel["enabled"], channel["disabled_reason"]) == (False, "the webhook answered 410 Gone")
    assert channel["disabled_at"] == FROZEN_NOW.isoformat()
    assert "disabled since 2026-11-28: the webhook answered 410 Gone" in run("channel", "list", ADA).stdout

    # a disabled channel is not tested: it says what to do, and writes nothing
    before = snapshot(ada)
    assert run("channel", "test", "1", code=2).stderr == (
        "error: channel #1 is disabled (since 2026-11-28, the webhook answered 410 Gone); fix the cause, then run "
        "`freshness channel enable 1` and test it again\n")
    assert snapshot(ada) == before
    assert len(receiver.requests) == 1

    out = run("channel", "enable", "1").stdout
    assert out.splitlines()[0] == ("enabled webhook channel #1 (%s); it had been disabled since 2026-11-28: the "
                                   "webhook answered 410 Gone" % receiver.url())
    assert run("channel", "enable", "1").stdout == f"webhook channel #1 ({receiver.url()}) is already enabled\n"
    assert run_json("channel", "test", "1")["sent"] is True
    assert len(receiver.requests) == 2


def test_a_temporary_error_fails_the_test_but_keeps_the_channel_and_is_not_retried(
        ada: Path, receiver: Receiver, clock) -> None:
    from freshness import jobs

    _webhook(receiver.url())
    receiver.answers = [503]
    result = run_json("channel", "test", "1", code=1)
    assert result["sent"] is False and result["channel_disabled"] is False
    assert result["channel"]["enabled"] is True
    assert result["delivery"]["status"] == "dead"
    assert result["delivery"]["last_error"] == "attempt 1: the webhook answered 503 Service Unavailable"
    err = run("channel", "test", "1").stdout  # the server answers 204 now
    assert err.startswith("test message delivered")
    clock.set(FROZEN_NOW + timedelta(days=1))
    report = jobs.dispatch(clock=lambda: clock.now)  # the failed test is not sent again later
    assert report.attempted == 0
    assert len(receiver.requests) == 2


def test_an_unreachable_webhook_fails_the_test_with_the_reason(ada: Path, receiver: Receiver) -> None:
    url = receiver.url()
    receiver.close()
    _webhook(url)
    result = run("channel", "test", "1", code=1)
    assert result.stderr.startswith("error: the test message to channel #1 was not delivered: could not reach "
                                    "the webhook: ")
    assert result.stderr.endswith("The error may be temporary: the channel stays enabled and reminders to it are "
                                  "retried with backoff; test it again later.\n")


# ---------------------------------------------------------------- remove, and the delivery log


def _refresh_due_reminder(home: Path) -> None:
    """Ada's LinkedIn headshot, published 2025-03-01, is due for a refresh: recording it writes a
    notification with one pending delivery per enabled channel."""
    from freshness.models import Person
    from tests import dbseed

    with _session() as s:
        dbseed.headshot(s, s.get(Person, 1), date(2025, 3, 1))
    run("reminders", ADA)


def test_removing_a_channel_cancels_its_pending_deliveries(ada: Path, receiver: Receiver, clock) -> None:
    from freshness import jobs

    _webhook(receiver.url("/kept"))
    _webhook(receiver.url("/removed"))
    _refresh_due_reminder(ada)
    assert [(d.channel_id, d.status) for d in _deliveries()] == [(1, "pending"), (2, "pending")]

    out = run("channel", "remove", "2").stdout
    assert out == f"removed webhook channel #2 of Ada Lovelace ({receiver.url('/removed')}); 1 pending message cancelled\n"
    assert [(d.channel_id, d.status) for d in _deliveries()] == [(1, "pending")]
    assert [c["id"] for c in run_json("channel", "list", ADA)] == [1]

    report = jobs.dispatch(clock=lambda: clock.now)
    assert (report.sent, report.attempted) == (1, 1)
    assert [r.path for r in receiver.requests] == ["/kept"]
    assert json.loads(receiver.requests[0].body)["type"] == "reminder.opened"
    assert run("channel", "remove", "1").stdout.endswith("; 0 pending messages cancelled\n")


def test_the_log_shows_each_delivery_with_its_state_attempts_and_error(ada: Path, receiver: Receiver, clock) -> None:
    from freshness import jobs

    _webhook(receiver.url("/ok"))
    _webhook(receiver.url("/flaky"))
    _refresh_due_reminder(ada)                        # notification #1: pending on both
    receiver.answers = [204, 500]                     # /ok takes it, /flaky fails once
    jobs.dispatch(clock=lambda: clock.now)
    receiver.answers = [404]
    run("channel", "test", "2", code=1)               # notification #2: dead, channel 2 disabled

    log = run_json("notifications", ADA)
    assert [(n["id"], n["kind"]) for n in log] == [(2, "test"), (1, "reminder")]
    assert set(log[0]) == {"id", "person", "kind", "subject", "text", "event_id", "created_at", "deliveries"}
    assert log[1]["subject"] == "Headshot due for a refresh (LinkedIn headshot, published 2025-03-01)"
    assert log[1]["event_id"] is not None
    ok, flaky = log[1]["deliveries"]
    assert (ok["channel"]["id"], ok["status"], ok["attempts"], ok["last_error"]) == (1, "sent", 1, None)
    assert (flaky["channel"], flaky["status"], flaky["attempts"]) == (
        {"id": 2, "kind": "webhook", "target": receiver.url("/flaky")}, "cancelled", 1)
    # the retry was cancelled when the 404 of the test disabled the channel
    assert flaky["last_error"] == "channel disabled: the webhook answered 404 Not Found"
    assert log[0]["deliveries"][0]["last_error"] == "attempt 1: the webhook answered 404 Not Found"

    table = run("notifications", ADA).stdout.splitlines()
    assert table[0].split() == ["when", "notification", "subject", "channel", "state", "attempts", "next", "attempt",
                                "last", "error"]
    assert table[2].startswith("2026-11-28 16:30 CET  #2 test  ")  # FROZEN_NOW in Ada's time zone
    assert _cells(table[2])[-1] == "attempt 1: the webhook answered 404 Not Found"
    assert _cells(table[3])[3:6] == ["#1 webhook", "sent", "1"]
    assert _cells(table[4])[3:] == ["#2 webhook", "cancelled", "1", "channel disabled: the webhook answered 404 Not Found"]
    assert len(table) == 5

    # a pending retry shows when the next attempt is due
    run("channel", "enable", "2")
    clock.set(FROZEN_NOW + timedelta(hours=1))
    receiver.answers = [204]
    run("channel", "test", "1")                       # notification #3: sent
    with _session() as s:
        from freshness.notify import outbox

        outbox.enqueue(s, 1, "prompt", "Time for your check-in selfie", "text", {"type": "checkin.prompt"},
                       clock.now, channel_ids=[2])
        s.commit()
    receiver.answers = [502]
    jobs.dispatch(clock=lambda: clock.now)
    [prompt] = run_json("notifications", ADA, "--limit", "1")
    [d] = prompt["deliveries"]
    assert (d["status"], d["attempts"]) == ("pending", 1)
    assert d["next_attempt_at"] == (clock.now + timedelta(seconds=60)).isoformat()
    assert d["last_error"] == "attempt 1: the webhook answered 502 Bad Gateway"
    result = run("notifications", ADA, "--limit", "1")
    assert _cells(result.stdout.splitlines()[2])[3:] == [
        "#2 webhook", "pending", "1", "2026-11-28 17:31 CET", "attempt 1: the webhook answered 502 Bad Gateway"]
    assert result.stderr == 'older notifications: freshness notifications "Ada Lovelace" --limit 1 --before 4\n'
    page = run_json("notifications", ADA, "--limit", "2", "--before", "4")
    assert [n["id"] for n in page] == [3, 2]


def test_the_log_of_everyone_names_the_person_and_a_message_without_channel(ada: Path) -> None:
    run("person", "add", "Grace Hopper", "--consent")
    with _session() as s:
        from freshness.notify import outbox

        outbox.enqueue(s, 2, "prompt", "Time for your check-in selfie", "text", {}, FROZEN_NOW)
        s.commit()
    out = run("notifications").stdout.splitlines()
    assert out[0].split()[:3] == ["when", "person", "notification"]
    assert _cells(out[2]) == ["2026-11-28 15:30 UTC", "Grace Hopper", "#1 prompt", "Time for your check-in selfie",
                              "-", "no channel"]
    assert run("notifications", ADA).stdout == "no notifications for Ada Lovelace\n"
    assert run("notifications", "--limit", "0", code=2).stderr == "error: --limit must be from 1 to 1000, got 0\n"


# ---------------------------------------------------------------- person set --notify-resolved


def test_person_set_switches_notices_of_resolved_reminders(ada: Path) -> None:
    assert run_json("person", "set", ADA, "--notify-resolved")["notify_resolved"] is True
    out = run("person", "set", ADA, "--no-notify-resolved").stdout
    assert out.splitlines()[-1] == "messages when a reminder resolves: off"
    assert run_json("person", "set", ADA)["notify_resolved"] is False
    before = snapshot(ada)
    run("person", "set", ADA, "--notify-resolved", "--prompt-hour", "24", code=2)  # all or nothing
    assert snapshot(ada) == before
