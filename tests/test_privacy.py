"""Privacy (README, "Privacy"): the notice and the consent record, forgetting a person down to
the raw bytes of every file, the retention schedule, activity, logs without secrets, stored
images without metadata.

The forget test reads every byte of every file under the data directory (database, WAL,
shared memory, blobs, inbox, held candidates, the secret key) and looks for the forgotten
person's name, e-mail addresses, tokens and their hashes, webhook secret and URL, embedding
bytes, thumbnails and kept originals; the same scan, run before forgetting, must find them
(so the scan can fail).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from freshness import privacy
from freshness.config import Settings, get_settings, reset_settings_cache
from freshness.db import dispose_engines, get_engine
from freshness.models import AuditEvent, Checkin, Headshot, Person
from tests.clitools import run, run_json, snapshot
from tests.conftest import FROZEN_NOW, REPO
from tests.receivers import receiver_fixture

ADA, GRACE = "Ada Lovelace", "Grace Hopper"
EMAIL, OLD_EMAIL = "ada.private.7731@example.org", "ada.earlier.5520@example.org"
OBAMA = "people/barack_obama"
UTC = timezone.utc

receiver = receiver_fixture(default=204)


# ---------------------------------------------------------------- the notice and the consent record


def test_person_add_without_consent_shows_the_whole_notice_and_writes_nothing(ready: Path) -> None:
    before = snapshot(ready)
    result = run("person", "add", ADA, code=2)
    for part in ("biometric data", "What is stored.", "Why.", "For how long.", "Who can see it.", "Your choices.",
                 "3 years (1095 days) after your last activity", "--consent"):
        assert part in result.stderr, part
    assert snapshot(ready) == before


def test_consent_is_recorded_with_the_notices_version_and_time(ready: Path) -> None:
    ada = run_json("person", "add", ADA, "--consent")
    assert ada["consent"] == {"version": privacy.NOTICE_VERSION, "at": FROZEN_NOW.isoformat()}


def test_the_notice_says_what_this_server_does(home: Path) -> None:
    default = privacy.notice_text(Settings())
    assert "not the selfie files themselves" in default and "3 years (1095 days)" in default
    keeping = privacy.notice_text(Settings(keep_selfie_originals=True, retention_inactive_days=400))
    assert "metadata (EXIF, GPS) included" in keeping and "400 days after your last activity" in keeping
    assert "turned automatic deletion after a time without activity off" in privacy.notice_text(
        Settings(retention_inactive_days=0))
    assert privacy.notice_text(Settings(), "2026-11") == privacy.EARLIER_NOTICES["2026-11"]


def test_the_readme_shows_the_notice_word_for_word(home: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Privacy notice\n", 1)[1].split("\n## ", 1)[0]
    shown = " ".join(line.removeprefix("> ").strip() for line in section.splitlines() if line.startswith(">"))
    notice = " ".join(privacy.notice_text(Settings()).split())
    assert " ".join(shown.split()) == notice.replace("\\", "")


def test_the_privacy_page_and_the_settings_page_show_the_notice(ready: Path) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app

    run("person", "add", ADA, "--consent")
    with TestClient(create_app()) as client:
        page = client.get("/privacy")
        assert page.status_code == 200 and "Who can see it." in page.text and "For how long." in page.text
        assert 'href="/privacy"' in client.get("/signin").text


# ---------------------------------------------------------------- forget, down to the bytes


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _found(files: dict[str, bytes], needle: bytes) -> list[str]:
    return [name for name, data in files.items() if needle in data]


def _world(home: Path, faces: Path, receiver, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Ada with everything (headshot, three check-ins with their files kept, reminders, a webhook that
    received messages, three tokens, a sign-in link, an inbox photo, a held candidate, an e-mail
    address changed once) and Grace, who checked in one of the same photos."""
    monkeypatch.setenv("FRESHNESS_KEEP_SELFIE_ORIGINALS", "true")
    monkeypatch.setenv("FRESHNESS_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
    reset_settings_cache()
    run("init")
    ada = run_json("person", "add", ADA, "--consent", "--email", OLD_EMAIL)
    grace = run_json("person", "add", GRACE, "--consent")
    run("person", "set", ADA, "--email", EMAIL)  # the old address is left in a freed cell
    run("headshot", "add", ADA, faces / OBAMA / "obama.jpg", "--platform", "linkedin", "--published", "2025-01-01")
    for i, name in enumerate(("obama1.jpg", "obama2.jpg", "obama3.jpg")):
        run("checkin", ADA, faces / OBAMA / name, "--taken", f"2026-0{i + 1}-10")
    run("headshot", "add", GRACE, faces / "people/grace_hopper/hopper.jpg", "--platform", "website",
        "--published", "2026-01-01")
    run("checkin", GRACE, faces / OBAMA / "obama2.jpg", "--taken", "2026-02-10")  # the same bytes as Ada's
    hook = run_json("channel", "add", ADA, "--webhook", receiver.url("/ada-hook-7731"))
    run("reminders", ADA)  # refresh due: a reminder, a notification, a delivery
    run("run", "dispatch")
    assert receiver.accepted >= 1
    phone = run_json("token", "create", ADA, "--label", "phone")["token"]
    link = run_json("person", "link", ADA)["url"].rsplit("/", 1)[1]
    inbox = home / "inbox" / str(ada["id"]) / "done"
    inbox.mkdir(parents=True)
    (inbox / "IMG_0001.jpg").write_bytes((faces / OBAMA / "obama-480p.jpg").read_bytes())
    held = home / "web-candidates" / str(ada["id"])
    held.mkdir(parents=True)
    (held / "candidate.img").write_bytes((faces / OBAMA / "obama-720p.jpg").read_bytes())
    with get_engine(get_settings()).connect() as c:  # as on a server running for a while: in the main file too
        assert c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0] == 0
    run("person", "set", ADA, "--checkin-every", "20")  # and in the WAL
    return {"ada": ada, "grace": grace, "tokens": [ada["token"], phone], "link": link, "hook": hook}


def _needles(world: dict, faces: Path) -> dict[str, bytes]:
    settings = get_settings()
    from freshness.blobs import BlobStore

    blobs = BlobStore(settings.blob_dir)
    needles: dict[str, bytes] = {
        "name": ADA.encode(), "name key": b"ada lovelace", "e-mail": EMAIL.encode(), "old e-mail": OLD_EMAIL.encode(),
        "webhook URL": b"/ada-hook-7731", "webhook secret": world["hook"]["secret"].encode(),
        "sign-in link": world["link"].encode(), "sign-in link hash": hashlib.sha256(world["link"].encode()).hexdigest().encode(),
        "inbox photo": (faces / OBAMA / "obama-480p.jpg").read_bytes(),
        "held candidate": (faces / OBAMA / "obama-720p.jpg").read_bytes(),
    }
    for i, token in enumerate(world["tokens"]):
        needles[f"token {i}"] = token.encode()
        needles[f"token {i} hash"] = hashlib.sha256(token.encode()).hexdigest().encode()
    with Session(get_engine(settings)) as s:
        theirs = [*s.exec(select(Headshot).where(Headshot.person_id == world["grace"]["id"])).all(),
                  *s.exec(select(Checkin).where(Checkin.person_id == world["grace"]["id"])).all()]
        shared = {r.embedding for r in theirs} | {r.thumb_digest for r in theirs} | {r.image_digest for r in theirs}
        rows = [*s.exec(select(Headshot).where(Headshot.person_id == world["ada"]["id"])).all(),
                *s.exec(select(Checkin).where(Checkin.person_id == world["ada"]["id"])).all()]
        assert len(rows) == 4
        for r in rows:
            kind = type(r).__name__.lower()
            if r.embedding not in shared:
                needles[f"{kind} {r.id} embedding"] = r.embedding
            if r.thumb_digest not in shared:
                needles[f"{kind} {r.id} thumbnail"] = blobs.get(r.thumb_digest)
            if r.image_digest not in shared and blobs.exists(r.image_digest):
                needles[f"{kind} {r.id} image"] = blobs.get(r.image_digest)
    assert sum(k.endswith("embedding") for k in needles) == 3  # the headshot and two unshared check-ins
    assert sum(k.endswith("image") for k in needles) == 3  # the headshot's file and two kept selfie files
    return needles


def _forget_with(how: str, world: dict) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app

    if how == "cli":
        out = run("person", "forget", ADA, "--yes")
        assert "deleted Ada Lovelace (#1): 1 headshot(s), 3 check-in(s)" in out.stdout and not out.stderr
        return
    with TestClient(create_app()) as client:
        if how == "api":
            r = client.request("DELETE", "/api/v1/me", json={"confirm": ADA},
                               headers={"Authorization": f"Bearer {world['tokens'][1]}"})
            assert r.status_code == 200 and r.json()["headshots"] == 1 and r.json()["checkins"] == 3, r.text
        else:
            from tests.test_pages import _csrf, signed_in

            signed_in(client, world["tokens"][0])
            page = client.get("/me/settings")
            r = client.post("/me/delete", data={"csrf": _csrf(page.text), "confirm_name": ADA})
            assert r.status_code == 200 and "Everything is deleted" in r.text


@pytest.mark.faces
@pytest.mark.parametrize("how", ["cli", "api", "web"])
def test_forgetting_leaves_no_byte_of_the_person_in_the_data_directory(
        home: Path, faces: Path, receiver, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    world = _world(home, faces, receiver, monkeypatch)
    needles = _needles(world, faces)
    before = _all_files(home)
    never = {k for k in needles if k.startswith("token ") and not k.endswith("hash") or k == "sign-in link"}
    assert not any(_found(before, needles[k]) for k in never)  # tokens are never stored, only their hashes
    never.add("old e-mail")  # overwritten with zeros when it was changed (and the WAL truncated since)
    assert not _found(before, needles["old e-mail"])
    missing = {what: _found(before, needle) for what, needle in needles.items() if what not in never}
    assert all(missing.values()), {k: v for k, v in missing.items() if not v}  # the scan finds each one first
    assert {"freshness.db", "freshness.db-wal"} <= set(missing["name"])

    _forget_with(how, world)

    after = _all_files(home)
    left = {what: _found(after, needle) for what, needle in needles.items()}
    assert not any(left.values()), {k: v for k, v in left.items() if v}
    assert os.path.getsize(home / "freshness.db-wal") == 0  # checkpointed and truncated
    # Grace is whole: her rows, her files, and the file she shares with the forgotten person
    grace = run_json("status", GRACE)
    assert grace["checkins"] == 1
    with Session(get_engine(get_settings())) as s:
        for r in s.exec(select(Checkin).where(Checkin.person_id == world["grace"]["id"])).all():
            assert (home / "blobs" / r.thumb_digest[:2] / r.thumb_digest[2:4] / r.thumb_digest).is_file()
            assert (home / "blobs" / r.image_digest[:2] / r.image_digest[2:4] / r.image_digest).is_file()
        (event,) = s.exec(select(AuditEvent)).all()
        assert (event.action, event.person_id, event.actor) == ("forget", world["ada"]["id"], how)
        assert event.details == {"reason": "request", "headshots": 1, "checkins": 3, "files": event.details["files"]}
        assert event.details["files"] >= 8  # 4 thumbnails + 3 files kept + inbox photo + held candidate, less shared
        assert s.get(Person, world["ada"]["id"]) is None
    assert not (home / "inbox" / str(world["ada"]["id"])).exists()
    assert not (home / "web-candidates" / str(world["ada"]["id"])).exists()


@pytest.mark.faces
def test_the_scan_catches_a_forget_without_secure_delete(home: Path, faces: Path, receiver,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same world and the same scan, on connections with secure_delete off: bytes are left."""
    from freshness import db

    original = db._sqlite_pragmas

    def insecure(dbapi_connection, record) -> None:
        original(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA secure_delete=OFF")

    monkeypatch.setattr(db, "_sqlite_pragmas", insecure)
    dispose_engines()
    world = _world(home, faces, receiver, monkeypatch)
    needles = _needles(world, faces)
    _forget_with("cli", world)
    after = _all_files(home)
    assert _found(after, needles["e-mail"]) == ["freshness.db"]


def test_without_secure_delete_the_scan_would_find_the_name(tmp_path: Path) -> None:
    """The control: SQLite leaves a deleted row's bytes in the file unless secure_delete is on."""
    import sqlite3

    for secure in (0, 1):
        path = tmp_path / f"control-{secure}.db"
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA secure_delete={secure}")
        db.execute("CREATE TABLE t (name TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [(f"Ada Lovelace {i}",) for i in range(50)])
        db.commit()
        db.execute("DELETE FROM t WHERE name LIKE 'Ada Lovelace 1%'")
        db.commit()
        db.close()
        assert (b"Ada Lovelace 12" in path.read_bytes()) is (secure == 0)


def test_the_database_connections_overwrite_deleted_rows(settings: Settings) -> None:
    with get_engine(settings).connect() as c:
        assert c.execute(text("PRAGMA secure_delete")).scalar() == 1
    # turned on by freshness itself, not only by a SQLite built with SQLITE_SECURE_DELETE (as here)
    from freshness.db import _sqlite_pragmas

    executed: list[str] = []

    class Cursor:
        def execute(self, sql: str) -> None:
            executed.append(sql)

        def close(self) -> None:
            pass

    class Connection:
        def cursor(self) -> Cursor:
            return Cursor()

    _sqlite_pragmas(Connection(), None)
    assert "PRAGMA secure_delete=ON" in executed


def test_forget_checkpoints_once_a_reader_lets_go(settings: Settings, session: Session,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader holding an old snapshot keeps the WAL: forget waits a little, then says it could not."""
    from freshness.people import add_person

    monkeypatch.setattr(privacy, "SCRUB_WAIT_MS", 200)
    ada, _ = add_person(session, ADA, consent=True, now=FROZEN_NOW)
    reader = get_engine(settings).connect()
    reader.exec_driver_sql("BEGIN")
    reader.exec_driver_sql("SELECT count(*) FROM person").fetchall()  # a read transaction on the old snapshot
    done = privacy.forget(session, ada, settings, privacy_blobs(settings), actor="cli", now=FROZEN_NOW)
    assert done.scrub == {"database": "sqlite", "complete": False}
    reader.exec_driver_sql("ROLLBACK")
    reader.close()
    assert privacy.scrub_database(session)["complete"] is True
    assert os.path.getsize(settings.home / "freshness.db-wal") == 0


def privacy_blobs(settings: Settings):
    from freshness.blobs import BlobStore

    return BlobStore(settings.blob_dir)


# ---------------------------------------------------------------- retention


def _activity(session: Session, pid: int) -> datetime | None:
    session.expire_all()
    return session.get(Person, pid).last_activity_at


def test_check_ins_sign_ins_api_use_and_page_views_are_activity(ready: Path, clock, faces: Path) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app
    from tests.test_pages import _csrf, signed_in

    ada = run_json("person", "add", ADA, "--consent")
    settings = get_settings()
    with Session(get_engine(settings)) as s:
        assert _activity(s, ada["id"]) == FROZEN_NOW  # joining

        def later(days: float) -> datetime:
            clock.set(FROZEN_NOW + timedelta(days=days))
            return clock.now

        when = later(10)
        run("checkin", ADA, faces / OBAMA / "obama1.jpg")
        assert _activity(s, ada["id"]) == when
        with TestClient(create_app()) as client:
            when = later(20)
            assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {ada['token']}"}).status_code == 200
            assert _activity(s, ada["id"]) == when
            when = later(20.01)  # within the hour: not written again
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {ada['token']}"})
            assert _activity(s, ada["id"]) == FROZEN_NOW + timedelta(days=20)
            when = later(30)
            signed_in(client, ada["token"])
            assert _activity(s, ada["id"]) == when
            when = later(40)
            assert client.get("/me/settings").status_code == 200  # a page, with the session cookie
            assert _activity(s, ada["id"]) == when
        with TestClient(create_app()) as client:
            when = later(50)
            link = run_json("person", "link", ADA)["url"].split("/signin/", 1)[1]
            page = client.get(f"/signin/{link}")
            r = client.post(f"/signin/{link}", data={"csrf": _csrf(page.text)}, follow_redirects=False)
            assert r.status_code == 303
            assert _activity(s, ada["id"]) == when


def test_maintenance_purges_people_inactive_for_three_years_and_records_it(ready: Path, clock) -> None:
    from freshness import jobs

    ada = run_json("person", "add", ADA, "--consent", "--email", EMAIL)
    grace = run_json("person", "add", GRACE, "--consent")
    inbox = ready / "inbox" / str(ada["id"])
    inbox.mkdir(parents=True)
    (inbox / "selfie.jpg").write_bytes(b"waiting to be imported")
    settings = get_settings()
    with Session(get_engine(settings)) as s:  # Grace was active a year later
        privacy.touch(s, grace["id"], FROZEN_NOW + timedelta(days=365))
    clock.set(FROZEN_NOW + timedelta(days=1095))  # exactly three years: not yet
    assert jobs.maintenance(settings, clock.now)["inactive_people_purged"] == 0
    clock.set(FROZEN_NOW + timedelta(days=1095, seconds=1))
    report = jobs.maintenance(settings, clock.now)
    assert report["inactive_people_purged"] == 1
    with Session(get_engine(settings)) as s:
        assert [p.name for p in s.exec(select(Person)).all()] == [GRACE]
        (event,) = s.exec(select(AuditEvent)).all()
        assert (event.action, event.person_id, event.actor, event.details["reason"]) == \
            ("purge", ada["id"], "scheduler", "inactive")
        assert EMAIL not in json.dumps(event.details) and ADA not in json.dumps(event.details)
    assert not inbox.exists()
    assert "purged" not in run("run", "maintenance").stdout  # nobody else is due
    clock.set(FROZEN_NOW + timedelta(days=365 + 1096))
    out = run("run", "maintenance").stdout
    assert "1 inactive people purged" in out and run_json("person", "list") == []


def test_retention_can_be_turned_off(ready: Path, clock, monkeypatch: pytest.MonkeyPatch) -> None:
    from freshness import jobs

    monkeypatch.setenv("FRESHNESS_RETENTION_INACTIVE_DAYS", "0")
    reset_settings_cache()
    run("person", "add", ADA, "--consent")
    clock.set(FROZEN_NOW + timedelta(days=5000))
    assert jobs.maintenance(get_settings(), clock.now)["inactive_people_purged"] == 0
    assert len(run_json("person", "list")) == 1


def test_inbox_photos_and_held_candidates_are_removed_when_their_time_is_up(ready: Path) -> None:
    settings = get_settings()
    old, recent = FROZEN_NOW - timedelta(days=8), FROZEN_NOW - timedelta(days=6)
    files = {}
    for name, when in (("done/old.jpg", old), ("done/old.jpg.txt", old), ("refused/new.jpg", recent),
                       ("waiting.jpg", old)):
        path = ready / "inbox" / "1" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (when.timestamp(), when.timestamp()))
        files[name] = path
    held_old = ready / "web-candidates" / "1" / "a.img"
    held_old.parent.mkdir(parents=True)
    held_old.write_bytes(b"x")
    os.utime(held_old, ((FROZEN_NOW - timedelta(hours=2)).timestamp(),) * 2)
    held_new = held_old.with_name("b.img")
    held_new.write_bytes(b"y")
    os.utime(held_new, ((FROZEN_NOW - timedelta(minutes=10)).timestamp(),) * 2)
    report = privacy.retention(settings, FROZEN_NOW)
    assert (report.inbox_files, report.held_files) == (2, 1)
    assert not files["done/old.jpg"].exists() and files["refused/new.jpg"].exists()
    assert files["waiting.jpg"].exists()  # not imported yet: the import's, not retention's
    assert not held_old.exists() and held_new.exists()


# ---------------------------------------------------------------- logs


def test_logs_of_sign_ins_check_ins_and_deliveries_hold_no_token_and_no_face(
        ready: Path, faces: Path, receiver, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app
    from tests.test_pages import _csrf, signed_in

    monkeypatch.setenv("FRESHNESS_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
    reset_settings_cache()
    caplog.set_level(logging.DEBUG)
    ada = run_json("person", "add", ADA, "--consent")
    run("headshot", "add", ADA, faces / OBAMA / "obama.jpg", "--platform", "linkedin", "--published", "2024-01-01")
    hook = run_json("channel", "add", ADA, "--webhook", receiver.url("/hook"))
    with TestClient(create_app()) as client:
        signed_in(client, ada["token"])
        r = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {ada['token']}"},
                        files=[("images", ("obama1.jpg", (faces / OBAMA / "obama1.jpg").read_bytes(), "image/jpeg"))])
        assert r.json()["accepted"] == 1
        client.get("/api/v1/me", headers={"Authorization": "Bearer fr_not-a-real-token-at-all-0000000000"})
        link = run_json("person", "link", ADA)["url"].split("/signin/", 1)[1]
        page = client.get(f"/signin/{link}")
        client.post(f"/signin/{link}", data={"csrf": _csrf(page.text)})
    run("reminders", ADA)
    assert "1 delivered" in run("run", "dispatch").stdout
    # what the web server's access log would write for the link's page, through its own formatter
    from uvicorn.logging import AccessFormatter

    privacy.install_log_redaction()
    access = logging.getLogger("uvicorn.access")
    # (uvicorn's logging config, once applied by a server started in this process, stops the
    # access logger propagating to the root, where the test's capture listens, and sets its level)
    monkeypatch.setattr(access, "propagate", True)
    monkeypatch.setattr(access, "disabled", False)
    caplog.set_level(logging.INFO, logger="uvicorn.access")  # (a quiet server sets it to warnings only)
    access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.9:5123", "POST", f"/signin/{link}", "1.1", 303)
    record = [r for r in caplog.records if r.name == "uvicorn.access"][-1]
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert line == '203.0.113.9:5123 - "POST /signin/frlink_[redacted] HTTP/1.1" 303 See Other'

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # something was logged
    with Session(get_engine(get_settings())) as s:
        embeddings = [r.embedding for r in s.exec(select(Checkin)).all()] + \
                     [r.embedding for r in s.exec(select(Headshot)).all()]
    secrets = [ada["token"], hashlib.sha256(ada["token"].encode()).hexdigest(), link, hook["secret"],
               "fr_not-a-real-token-at-all"]
    for e in embeddings:
        import base64

        secrets += [e.hex()[:32], base64.b64encode(e).decode()[:24], repr(e)[:40]]
        from freshness.faces.embedding import embedding_values

        secrets += [f"{v:.6f}" for v in embedding_values(e)[:3]] + [repr(embedding_values(e)[0])]
    for secret in secrets:
        assert secret not in logged, secret


def test_redaction_leaves_other_words_alone() -> None:
    assert privacy.redact("GET /calendar/frcal_AbCdEf0123456789 200") == "GET /calendar/frcal_[redacted] 200"
    assert privacy.redact("Authorization: Bearer fr_x1y2z3w4v5u6") == "Authorization: Bearer [redacted]"
    assert privacy.redact("whsec_QUJDREVGR0hJSktMTU5PUA==") == "whsec_[redacted]"
    assert privacy.redact("from_the_start fr_ short") == "from_the_start fr_ short"


# ---------------------------------------------------------------- stored images keep no metadata


def _jpeg_with_gps(source: Path, orientation: int = 1) -> bytes:
    from PIL import Image

    im = Image.open(source)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=92, comment=b"shot at home")
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>48,51N</exif:GPSLatitude></x:xmpmeta>"
    data = out.getvalue()
    segment = b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp
    return data[:2] + segment + data[2:] + b"appended bytes"


def _no_metadata(data: bytes, orientation: int = 1) -> None:
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    exif = im.getexif()
    assert dict(exif) == ({0x0112: orientation} if orientation != 1 else {}), dict(exif)
    assert 0x8825 not in exif and "xmp" not in im.info and "comment" not in im.info
    assert b"GPS" not in data and b"PhoneMaker" not in data and b"appended" not in data and b"at home" not in data


@pytest.mark.faces
def test_a_registered_headshot_is_stored_and_served_without_exif_gps_or_xmp(ready: Path, faces: Path,
                                                                            tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app

    photo = tmp_path / "with-gps.jpg"
    photo.write_bytes(_jpeg_with_gps(faces / OBAMA / "obama.jpg"))
    ada = run_json("person", "add", ADA, "--consent")
    head = run_json("headshot", "add", ADA, photo, "--platform", "linkedin")
    with Session(get_engine(get_settings())) as s:
        h = s.get(Headshot, head["id"])
        stored = (ready / "blobs" / h.image_digest[:2] / h.image_digest[2:4] / h.image_digest).read_bytes()
        thumb = (ready / "blobs" / h.thumb_digest[:2] / h.thumb_digest[2:4] / h.thumb_digest).read_bytes()
    _no_metadata(stored)
    _no_metadata(thumb)
    assert h.image_digest == hashlib.sha256(stored).hexdigest()
    with TestClient(create_app()) as client:
        served = client.get(f"/api/v1/headshots/{head['id']}/thumbnail",
                            headers={"Authorization": f"Bearer {ada['token']}"}).content
    _no_metadata(served)
    # the same file again is the same stored image: a duplicate
    again = run("headshot", "add", ADA, photo, "--platform", "resume", code=3)
    assert "already registered as headshot" in again.stderr


@pytest.mark.faces
@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_stripping_keeps_the_pixels_and_the_orientation(faces: Path, orientation: int) -> None:
    from PIL import Image, ImageChops, ImageOps

    original = _jpeg_with_gps(faces / OBAMA / "obama.jpg", orientation)
    stripped = privacy.strip_metadata(original)
    _no_metadata(stripped, orientation)
    a = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))
    b = ImageOps.exif_transpose(Image.open(io.BytesIO(stripped)))
    assert a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None
    assert privacy.strip_metadata(stripped) == stripped  # nothing more to take out


def test_png_and_webp_lose_their_text_and_exif_chunks(tmp_path: Path) -> None:
    from PIL import Image, PngImagePlugin

    im = Image.new("RGB", (40, 30), (200, 120, 50))
    exif = Image.Exif()
    exif[0x0112] = 3
    exif.get_ifd(0x8825).update({1: "N", 2: (1.0, 2.0, 3.0)})
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "shot at home")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=info, exif=exif)
    png = privacy.strip_metadata(out.getvalue() + b"trailing appended bytes")
    _no_metadata(png, 3)
    assert Image.open(io.BytesIO(png)).tobytes() == im.tobytes()
    out = io.BytesIO()
    im.save(out, "WEBP", exif=exif, xmp=b"<x:xmpmeta>GPS</x:xmpmeta>", lossless=True)
    webp = privacy.strip_metadata(out.getvalue())
    _no_metadata(webp, 3)
    assert Image.open(io.BytesIO(webp)).convert("RGB").tobytes() == im.tobytes()


def test_a_heic_is_kept_as_an_upright_jpeg_without_metadata() -> None:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    im = Image.new("RGB", (64, 48), (30, 140, 90))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (1.0, 2.0, 3.0)})
    out = io.BytesIO()
    im.save(out, "HEIF", exif=exif.tobytes(), quality=90)
    kept = privacy.strip_metadata(out.getvalue())
    assert kept[:3] == b"\xff\xd8\xff"
    _no_metadata(kept)
    assert privacy.strip_metadata(out.getvalue()) == kept  # the same bytes every time (duplicates are found)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0\x00", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_a_file_whose_structure_cannot_be_followed_is_refused(data: bytes) -> None:
    with pytest.raises(privacy.MetadataError):
        privacy.strip_metadata(data)


# ---------------------------------------------------------------- forget on PostgreSQL: every row


def _pg_rows(url: str) -> dict[str, list[str]]:
    """Every row of every table, as JSON text (bytea as \\x hex), read with plain SQL."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            tables = c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
            return {t: list(c.execute(text(f'SELECT row_to_json(t)::text FROM "{t}" t')).scalars().all())
                    for t in tables}
    finally:
        engine.dispose()


def _pg_found(rows: dict[str, list[str]], needle: str) -> list[str]:
    return sorted({table for table, texts in rows.items() for row in texts if needle in row})


@pytest.mark.postgres
@pytest.mark.faces
def test_forgetting_on_postgresql_leaves_no_row_of_the_person(home: Path, faces: Path, receiver, postgres_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The row-level part of the forget test on PostgreSQL (where deleted rows stay in the heap and
    its WAL until VACUUM, which no scan of raw bytes can judge): no row in any table names Ada —
    her name, e-mail addresses, token and sign-in hashes, webhook, embeddings, file digests — while
    the same scan finds each before; Grace, who checked in one of the same photos, is whole."""
    from tests.pgtools import fresh_database

    with fresh_database(postgres_url, "forget") as url:
        monkeypatch.setenv("FRESHNESS_DATABASE_URL", url)
        monkeypatch.setenv("FRESHNESS_KEEP_SELFIE_ORIGINALS", "true")
        monkeypatch.setenv("FRESHNESS_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
        reset_settings_cache()
        dispose_engines()
        run("init")
        ada = run_json("person", "add", ADA, "--consent", "--email", OLD_EMAIL)
        grace = run_json("person", "add", GRACE, "--consent")
        run("person", "set", ADA, "--email", EMAIL)
        run("headshot", "add", ADA, faces / OBAMA / "obama.jpg", "--platform", "linkedin", "--published", "2025-01-01")
        for i, name in enumerate(("obama1.jpg", "obama2.jpg", "obama3.jpg")):
            run("checkin", ADA, faces / OBAMA / name, "--taken", f"2026-0{i + 1}-10")
        run("checkin", GRACE, faces / OBAMA / "obama2.jpg", "--taken", "2026-02-10")  # the same bytes as Ada's
        hook = run_json("channel", "add", ADA, "--webhook", receiver.url("/ada-hook-7731"))
        run("reminders", ADA)
        run("run", "dispatch")
        assert receiver.accepted >= 1
        link = run_json("person", "link", ADA)["url"].rsplit("/", 1)[1]
        needles = {"name": ADA, "name key": "ada lovelace", "e-mail": EMAIL, "webhook URL": "/ada-hook-7731",
                   "webhook secret": hook["secret"], "token hash": hashlib.sha256(ada["token"].encode()).hexdigest(),
                   "sign-in link hash": hashlib.sha256(link.encode()).hexdigest()}
        with Session(get_engine(get_settings())) as s:
            theirs = s.exec(select(Checkin).where(Checkin.person_id == grace["id"])).all()
            shared = {c.embedding for c in theirs} | {c.thumb_digest for c in theirs} | {c.image_digest for c in theirs}
            for r in [*s.exec(select(Headshot).where(Headshot.person_id == ada["id"])).all(),
                      *s.exec(select(Checkin).where(Checkin.person_id == ada["id"])).all()]:
                kind = type(r).__name__.lower()
                if r.embedding not in shared:
                    needles[f"{kind} {r.id} embedding"] = r.embedding.hex()
                for column in ("thumb_digest", "image_digest"):
                    if getattr(r, column) not in shared:
                        needles[f"{kind} {r.id} {column}"] = getattr(r, column)
        assert sum(k.endswith("embedding") for k in needles) == 3
        before = _pg_rows(url)
        assert all(_pg_found(before, n) for n in needles.values()), \
            [k for k, n in needles.items() if not _pg_found(before, n)]  # the scan finds each one first
        assert {"person", "headshot", "checkin", "measurement", "reminder", "channel"} <= \
            {t for t, texts in before.items() if texts}

        out = run("person", "forget", ADA, "--yes")
        assert "deleted Ada Lovelace (#1): 1 headshot(s), 3 check-in(s)" in out.stdout

        after = _pg_rows(url)
        left = {what: _pg_found(after, needle) for what, needle in needles.items()}
        assert not any(left.values()), {k: v for k, v in left.items() if v}
        with Session(get_engine(get_settings())) as s:
            assert s.get(Person, ada["id"]) is None
            (event,) = s.exec(select(AuditEvent)).all()
            assert (event.action, event.person_id, event.details["checkins"]) == ("forget", ada["id"], 3)
            (mine,) = s.exec(select(Checkin).where(Checkin.person_id == grace["id"])).all()
            for digest in (mine.thumb_digest, mine.image_digest):  # the file shared with Ada stays
                assert (home / "blobs" / digest[:2] / digest[2:4] / digest).is_file()
        for what, digest in needles.items():
            if what.endswith("_digest"):
                assert not (home / "blobs" / digest[:2] / digest[2:4] / digest).exists(), what
        assert run_json("status", GRACE)["checkins"] == 1
        dispose_engines()
