"""Export and import (README, "Export"): a person moves servers with everything, and a hostile
zip is refused cleanly, leaving nothing behind.

The round trip uses real photos and the CLI on two data directories ("two installations").
The hostile files are built from a real export of a seeded person (small generated images,
no face analysis), then taken apart and put together wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tracemalloc
import zipfile
from datetime import date, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlmodel import Session, select

from freshness.config import Settings, get_settings, reset_settings_cache
from freshness.db import dispose_engines, get_engine
from freshness.export import DOCUMENT, Document
from freshness.models import AuditEvent, Delivery
from tests.clitools import run, run_json, snapshot
from tests.conftest import FROZEN_NOW

ADA = "Ada Lovelace"
OBAMA = "people/barack_obama"
UTC = timezone.utc
REFUSED = "not a freshness export this installation can import"


def _switch(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point FRESHNESS_HOME at another data directory (another installation)."""
    dispose_engines()
    monkeypatch.setenv("FRESHNESS_HOME", str(home))
    reset_settings_cache()
    return home


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _without_ids(status: dict) -> Any:
    """A status answer without the ids that change from one installation to another."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in ("id", "headshot", "checkin_id", "headshot_id")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(status)


# ---------------------------------------------------------------- the round trip, with real photos


@pytest.mark.faces
def test_a_person_moves_servers_with_everything(home: Path, faces: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _switch(home / "old-server", monkeypatch)
    monkeypatch.setenv("FRESHNESS_KEEP_SELFIE_ORIGINALS", "true")
    reset_settings_cache()
    run("init")
    ada = run_json("person", "add", ADA, "--consent", "--email", "ada@example.org", "--sector", "finance",
                   "--timezone", "Europe/London")
    run("person", "set", ADA, "--policy", "refresh_due_months=18", "--notify-resolved")
    old = run_json("headshot", "add", ADA, faces / OBAMA / "obama-720p.jpg", "--platform", "resume",
                   "--published", "2024-02-01")
    run("headshot", "retire", old["id"])
    run("headshot", "add", ADA, faces / OBAMA / "obama.jpg", "--platform", "linkedin", "--published", "2024-06-01")
    for i, name in enumerate(("obama1.jpg", "obama2.jpg", "obama3.jpg")):
        run("checkin", ADA, faces / OBAMA / name, "--taken", f"2026-0{i + 3}-10")
    run("channel", "add", ADA, "--apprise", "ntfy://ntfy.sh/ada-headshots")
    run("reminders", ADA)  # opens reminders; their messages wait in the outbox (no mail server here)
    status_before = run_json("status", ADA, "--as-of", "2026-11-28")
    history_before = run_json("history", ADA)
    reminders_before = run_json("reminders", ADA, "--as-of", "2026-11-28")
    out = tmp_path / "ada.zip"
    exported = run_json("export", ADA, out)
    assert exported["headshots"] == 2 and exported["checkins"] == 3 and exported["missing_files"] == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    entries = _entries(out)
    doc = Document.model_validate_json(entries[DOCUMENT])  # the documented schema, strictly
    assert doc.person.name == ADA and doc.consent.version and "Who can see it." in doc.consent.text
    # the check-ins came after the résumé headshot retired: measured with the LinkedIn one only
    assert len(doc.measurements) == 3 and doc.reminders and doc.events and doc.notifications and doc.deliveries
    for name, data in entries.items():
        if name != DOCUMENT:
            assert name == f"images/{hashlib.sha256(data).hexdigest()}.{name.rsplit('.', 1)[1]}"
    assert len(entries) == 1 + 2 * 2 + 3 * 2  # the document, 2 headshot files + thumbnails, 3 selfie files + thumbnails
    run("export", ADA, out, code=2)  # never over an existing file

    # another installation, which does not keep selfie files
    _switch(home / "new-server", monkeypatch)
    monkeypatch.delenv("FRESHNESS_KEEP_SELFIE_ORIGINALS")
    reset_settings_cache()
    run("init")
    imported = run_json("import", out)
    assert imported["person"]["name"] == ADA and imported["token"].startswith("fr_")
    assert imported["headshots"] == 2 and imported["checkins"] == 3 and imported["files"] == 4 + 3  # 2 headshot files + thumbnails, 3 selfie thumbnails: no selfie files here
    assert _without_ids(run_json("status", ADA, "--as-of", "2026-11-28")) == _without_ids(status_before)
    history = run_json("history", ADA)
    assert [[d["distance"] for d in r["distances"]] for r in history["rows"]] == \
        [[d["distance"] for d in r["distances"]] for r in history_before["rows"]]
    assert [(r["kind"], r["state"], r["since"]) for r in run_json("reminders", ADA, "--as-of", "2026-11-28")] == \
        [(r["kind"], r["state"], r["since"]) for r in reminders_before]
    me = run_json("person", "list")[0]
    assert me["consent"] == ada["consent"] and me["policy_overrides"] == {"refresh_due_months": 18}
    with Session(get_engine(get_settings())) as s:  # nothing imported is sent again
        assert {d.status for d in s.exec(select(Delivery)).all()} <= {"cancelled", "sent", "dead"}
        assert [e.action for e in s.exec(select(AuditEvent)).all()] == ["import"]
    assert "0 delivered" in run("run", "dispatch").stdout

    # the same person again: a clear refusal, nothing written; under another name it is taken
    before = snapshot(home / "new-server")
    clash = run("import", out, code=2)
    assert f"a person named '{ADA}' already exists here (#1): nothing was imported" in clash.stderr
    assert "--name" in clash.stderr
    assert snapshot(home / "new-server") == before
    assert run_json("import", out, "--name", "Ada Lovelace (2)")["person"]["id"] == 2


def test_the_api_and_the_web_page_export_the_same_document(ready: Path) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app
    from tests.test_pages import signed_in

    settings = get_settings()
    pid, token = _seed(settings)
    with TestClient(create_app()) as client:
        r = client.get("/api/v1/me/export", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert r.headers["cache-control"] == "no-store" and "attachment" in r.headers["content-disposition"]
        api = zipfile.ZipFile(io.BytesIO(r.content))
        signed_in(client, token)
        page = client.get("/me/export")
        assert page.status_code == 200 and page.headers["content-type"] == "application/zip"
        web = zipfile.ZipFile(io.BytesIO(page.content))
        assert 'href="/me/export"' in client.get("/me/settings").text
    assert sorted(api.namelist()) == sorted(web.namelist())
    assert json.loads(api.read(DOCUMENT))["headshots"] == json.loads(web.read(DOCUMENT))["headshots"]
    with Session(get_engine(settings)) as s:
        assert [(e.action, e.actor) for e in s.exec(select(AuditEvent)).all()] == [("export", "api"), ("export", "web")]


# ---------------------------------------------------------------- a seeded person (no face analysis)


def _jpeg(color: tuple[int, int, int], size: tuple[int, int] = (48, 48)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def _seed(settings: Settings) -> tuple[int, str]:
    """Ada with a headshot, two check-ins, measurements, a reminder, an e-mail channel and its message."""
    import numpy as np

    from freshness.blobs import BlobStore
    from freshness.faces.embedding import embedding_to_bytes
    from freshness.models import Checkin, Headshot, Measurement
    from freshness.people import add_person
    from freshness.reminders import evaluate_person

    store = BlobStore(settings.blob_dir)
    with Session(get_engine(settings), expire_on_commit=False) as s:
        ada, token = add_person(s, ADA, consent=True, now=FROZEN_NOW - timedelta(days=400), email="ada@example.org")
        image, _ = store.put(_jpeg((200, 10, 10), (64, 80)))
        thumb, _ = store.put(_jpeg((10, 200, 10)))
        h = Headshot(person_id=ada.id, platform="linkedin", published_on=date(2024, 6, 1), ai_generated=True,
                     disclosed=False, image_digest=image, thumb_digest=thumb, quality={"sharpness": 80.0},
                     embedding=embedding_to_bytes(np.linspace(-0.2, 0.2, 128)), created_at=FROZEN_NOW,
                     active_key=f"{ada.id}:{image}")
        s.add(h)
        s.flush()
        for i in range(2):
            t, _ = store.put(_jpeg((10, 10, 100 + i)))
            c = Checkin(person_id=ada.id, taken_at=FROZEN_NOW - timedelta(days=30 * (i + 1)), taken_at_source="given",
                        received_at=FROZEN_NOW, image_digest=f"{i + 1:064x}", thumb_digest=t,
                        embedding=embedding_to_bytes(np.full(128, 0.01 * (i + 1))), quality={})
            s.add(c)
            s.flush()
            s.add(Measurement(checkin_id=c.id, headshot_id=h.id, distance=0.4 + i / 10))
        s.commit()
        assert evaluate_person(s, ada, FROZEN_NOW, settings, now=FROZEN_NOW)  # a reminder, an event, a message
        return ada.id, token  # type: ignore[return-value]


@pytest.fixture
def good(ready: Path, tmp_path: Path) -> Path:
    """A real export of the seeded person, written by `freshness export`; Ada then forgotten, so the
    same installation can take the file back (any refusal is the file's, not a name clash)."""
    _seed(get_settings())
    path = tmp_path / "good.zip"
    run("export", ADA, path)
    run("person", "forget", ADA, "--yes")
    return path


def _write(path: Path, entries: list[tuple[str, bytes]], *, compress: int = zipfile.ZIP_DEFLATED) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(path, "w", compression=compress) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def _rebuild(good: Path, tmp_path: Path, change: Callable[[dict], Any] | None = None,
             entries: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]] | None = None) -> Path:
    items = list(_entries(good).items())
    if change is not None:
        doc = json.loads(dict(items)[DOCUMENT])
        change(doc)
        items = [(n, json.dumps(doc).encode() if n == DOCUMENT else d) for n, d in items]
    if entries is not None:
        items = entries(items)
    return _write(tmp_path / "bad.zip", items)


def _refused(path: Path, ready: Path, words: str = "") -> str:
    before = snapshot(ready)
    blobs_before = sorted(p.name for p in (ready / "blobs").rglob("*")) if (ready / "blobs").exists() else []
    result = run("import", path, code=2)
    assert REFUSED in result.stderr or words in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(ready) == before  # no row, no file
    assert sorted(p.name for p in (ready / "blobs").rglob("*")) == blobs_before
    return result.stderr


def test_the_good_file_is_taken(good: Path) -> None:
    assert run_json("import", good)["headshots"] == 1


# ---------------------------------------------------------------- hostile files


def _image_names(items: list[tuple[str, bytes]]) -> list[str]:
    return [n for n, _ in items if n.startswith("images/")]


@pytest.mark.parametrize(("what", "mutate", "words"), [
    ("an extra entry", lambda items: items + [("README.txt", b"hello")], "unexpected entry 'README.txt'"),
    ("a path climbing out", lambda items: items + [("../../evil.sh", b"#!/bin/sh")], "unexpected entry '../../evil.sh'"),
    ("an absolute path", lambda items: items + [("/etc/cron.d/evil", b"x")], "unexpected entry '/etc/cron.d/evil'"),
    ("a path climbing out of images", lambda items: items + [("images/../../x.jpg", b"x")], "unexpected entry"),
    ("a backslash path", lambda items: items + [("images\\..\\x.jpg", b"x")], "unexpected entry"),
    ("a duplicate name", lambda items: items + [items[0]], "an entry name appears twice"),
    ("no document", lambda items: [i for i in items if i[0] != DOCUMENT], f"it has no {DOCUMENT}"),
    ("an image the document does not name",
     lambda items: items + [(f"images/{hashlib.sha256(b'z').hexdigest()}.jpg", b"z")],
     "is in the zip but the document does not mention it"),
    ("a missing image", lambda items: [i for i in items if i[0] != _image_names(items)[0]],
     "the zip does not have it"),
    ("a changed image", lambda items: [(n, d[:-3] + b"xyz" if n == _image_names(items)[0] else d) for n, d in items],
     "do not have the sha256 its name says"),
])
def test_it_refuses_a_zip_with_the_wrong_entries(good: Path, ready: Path, tmp_path: Path, what: str,
                                                  mutate: Callable, words: str) -> None:
    _refused(_rebuild(good, tmp_path, entries=mutate), ready, words)


def _first(doc: dict, key: str) -> dict:
    return doc[key][0]


@pytest.mark.parametrize(("what", "change", "words"), [
    ("a newer schema", lambda d: d.update(schema_version=2), "schema_version"),
    ("another format", lambda d: d.update(format="something-else"), "format"),
    ("an unknown field", lambda d: d["person"].update(favourite_colour="red"), "person.favourite_colour"),
    ("a wrong type", lambda d: d["person"].update(checkin_every_days="30"), "person.checkin_every_days"),
    ("a number out of range", lambda d: _first(d, "measurements").update(distance=1e308), "distance"),
    ("a name with a newline", lambda d: d["person"].update(name="Ada\nLovelace"), "the person's name"),
    ("an unknown time zone", lambda d: d["person"].update(timezone="Mars/Olympus"), "unknown time zone"),
    ("a short embedding", lambda d: _first(d, "headshots").update(embedding="AAAA" * 171), "embedding"),
    ("an embedding of NaNs", lambda d: _first(d, "headshots").update(
        embedding=__import__("base64").b64encode(struct.pack("<128f", *[float("nan")] * 128)).decode()),
     "values no face has"),
    ("a reference to nothing", lambda d: _first(d, "measurements").update(checkin_id=999), "which the document does not have"),
    ("two check-ins with one id", lambda d: d["checkins"].append(dict(d["checkins"][0])), "two check-ins have the id"),
    ("bad rule overrides", lambda d: d["person"].update(policy_overrides={"refresh_due_months": 99}), "rule overrides"),
    ("an image described as another", lambda d: _first(d, "headshots")["thumbnail"].update(
        file=_first(d, "headshots")["image"]["file"]), "is given the file name"),
])
def test_it_refuses_a_document_that_does_not_fit_the_schema(good: Path, ready: Path, tmp_path: Path, what: str,
                                                              change: Callable, words: str) -> None:
    _refused(_rebuild(good, tmp_path, change=change), ready, words)


def test_it_refuses_json_that_is_nested_too_deep_or_has_duplicate_keys(good: Path, ready: Path,
                                                                        tmp_path: Path) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    _refused(_rebuild(good, tmp_path, entries=lambda items: [(n, deep if n == DOCUMENT else d) for n, d in items]),
             ready, "nested too deeply")
    twice = b'{"format": "freshness-export", "format": "freshness-export"}'
    _refused(_rebuild(good, tmp_path, entries=lambda items: [(n, twice if n == DOCUMENT else d) for n, d in items]),
             ready, "appears twice in one object")
    _refused(_rebuild(good, tmp_path, entries=lambda items: [(n, b"\xff\xfe{" if n == DOCUMENT else d)
                                                             for n, d in items]), ready, "not valid JSON")


def test_it_refuses_a_zip_bomb_before_inflating_it(good: Path, ready: Path, tmp_path: Path) -> None:
    """An image entry inflating to 200 MB (from 200 KB): refused on its declared size."""
    items = list(_entries(good).items())
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(name, data)
        with zf.open(f"images/{'0' * 64}.jpg", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(200):
                fh.write(chunk)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        _refused(bomb, ready, "declares 209715200 bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024


def test_a_header_that_lies_about_the_size_is_caught_while_inflating(good: Path, ready: Path, tmp_path: Path) -> None:
    """The document's sizes in the local header and the directory say 100 bytes; it inflates to more:
    inflating stops at the declared size and the checksum refuses it."""
    data = good.read_bytes()
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo(DOCUMENT)
    lying = bytearray(data)
    struct.pack_into("<I", lying, info.header_offset + 22, 100)  # the local header's uncompressed size
    at = data.find(b"PK\x01\x02")  # and the central directory's entry of the document
    while at != -1:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + name_len] == DOCUMENT.encode():
            struct.pack_into("<I", lying, at + 24, 100)
        at = data.find(b"PK\x01\x02", at + 4)
    path = tmp_path / "lying.zip"
    path.write_bytes(bytes(lying))
    _refused(path, ready, "")


@pytest.mark.parametrize("kind", ["random bytes", "empty", "a text file", "truncated"])
def test_it_refuses_files_that_are_not_zips(good: Path, ready: Path, tmp_path: Path, kind: str) -> None:
    data = {"random bytes": os.urandom(4096), "empty": b"", "a text file": b"hello, this is not a zip\n",
            "truncated": good.read_bytes()[: good.stat().st_size // 2]}[kind]
    path = tmp_path / "not.zip"
    path.write_bytes(data)
    _refused(path, ready, "")


def test_it_refuses_a_file_over_the_limit_a_directory_and_a_fifo(good: Path, ready: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHNESS_MAX_IMPORT_BYTES", str(1024 * 1024))
    reset_settings_cache()
    big = tmp_path / "big.zip"
    big.write_bytes(good.read_bytes() + b"\0" * (1024 * 1024))
    _refused(big, ready, "FRESHNESS_MAX_IMPORT_BYTES")
    assert "not a regular file" in run("import", tmp_path, code=2).stderr
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    assert "not a regular file" in run("import", fifo, code=2).stderr  # never waits for a writer


def test_it_refuses_encrypted_entries_and_other_compressions(good: Path, ready: Path, tmp_path: Path) -> None:
    data = bytearray(good.read_bytes())
    at = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | 0x1)  # "encrypted"
    path = tmp_path / "encrypted.zip"
    path.write_bytes(bytes(data))
    _refused(path, ready, "is encrypted")
    items = list(_entries(good).items())
    path = tmp_path / "bzip2.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as zf:
        for name, blob in items:
            zf.writestr(name, blob)
    _refused(path, ready, "uses a compression this reader does not take")


def test_an_imported_channel_this_server_refuses_is_kept_disabled(good: Path, ready: Path, tmp_path: Path) -> None:
    def private_hook(doc: dict) -> None:
        doc["channels"].append({"id": 99, "kind": "webhook", "target": "http://169.254.169.254/latest", "secret": None,
                                "enabled": True, "disabled_reason": None, "disabled_at": None,
                                "created_at": FROZEN_NOW.isoformat()})

    run("import", _rebuild(good, tmp_path, change=private_hook))
    channels = run_json("channel", "list", ADA)
    hook = [c for c in channels if c["kind"] == "webhook"][0]
    assert not hook["enabled"] and "FRESHNESS_ALLOW_PRIVATE_TARGETS" in hook["disabled_reason"]
