"""Export everything of one person, and import it into another installation (README, "Export").

The export is a zip file holding:

* ``freshness.json``: one JSON document (``format: "freshness-export"``, ``schema_version: 1``)
  with the person, their consent record, headshots, check-ins, measurements, reminders,
  reminder events, channels, notifications and deliveries, ids as they were on the exporting
  server (references between them use those ids). ``Document`` below is its schema.
* ``images/<sha256>.<ext>``: each stored image once, named by the sha256 of its bytes: the
  headshot files (metadata removed), every face thumbnail, and the selfie files when the
  exporting server kept them.

``read_export`` checks a file before anything is written, and refuses it cleanly (exit 2 /
400) when it is not exactly that: a file larger than ``FRESHNESS_MAX_IMPORT_BYTES``; more than
``MAX_ENTRIES`` entries or a central directory over ``MAX_DIRECTORY_BYTES``; any entry whose
name is not ``freshness.json`` or ``images/<sha256>.<ext>`` (so no path can climb out of
anywhere: nothing is ever extracted to disk); duplicate names; encrypted entries; compression
other than stored/deflated; an entry declaring more than its limit (a zip bomb is refused
before it is inflated, and inflating stops at the declared size); a document over
``MAX_DOCUMENT_BYTES``, nested too deep, with duplicate keys, unknown fields, wrong types,
values out of range, or references to ids that are not in it; an image whose bytes do not
hash to its name, that is not the format it must be, that the document does not mention, or
that it mentions and the zip lacks.

``import_export`` then writes everything in one transaction (blobs first, removed again if
the transaction fails) under new ids; a person with the same name already here is refused.
Nothing imported is sent again: deliveries that were still waiting are cancelled. API tokens
are not exported (only their hashes are stored): the import makes a new one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlmodel import Session, select

from freshness import __version__
from freshness.errors import UsageError

FORMAT = "freshness-export"
SCHEMA_VERSION = 1
DOCUMENT = "freshness.json"
MAX_ENTRIES = 200_000
MAX_DIRECTORY_BYTES = 64 * 1024 * 1024
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_IMAGE_BYTES_FLOOR = 25 * 1024 * 1024
EMBEDDING_BYTES = 512
_IMAGE_NAME = re.compile(r"^images/([0-9a-f]{64})\.(jpg|png|webp|heic)$")
_EXT = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}


class ImportRefused(UsageError):
    """The file is not an export this installation can take; nothing was written."""

    code = "import_refused"


# ---------------------------------------------------------------- the document's schema

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Id = Annotated[int, Field(ge=1, lt=2**63)]
Text = Annotated[str, StringConstraints(max_length=100_000)]
Short = Annotated[str, StringConstraints(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Image(_Strict):
    sha256: Hex64
    file: Annotated[str, StringConstraints(pattern=_IMAGE_NAME.pattern)]
    bytes: Annotated[int, Field(ge=1, le=2**40)]


class PersonDoc(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: Optional[Annotated[str, StringConstraints(max_length=320)]]
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    sector: Optional[Annotated[str, StringConstraints(max_length=64)]]
    checkin_every_days: Annotated[int, Field(ge=1, le=365)]
    prompt_hour: Annotated[int, Field(ge=0, le=23)]
    notify_resolved: bool
    policy_overrides: dict[str, Any]
    created_at: datetime
    last_activity_at: Optional[datetime]
    next_checkin_due: Optional[datetime]


class ConsentDoc(_Strict):
    version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    at: datetime
    text: Text


class HeadshotDoc(_Strict):
    id: Id
    platform: Annotated[str, StringConstraints(max_length=32)]
    published_on: date
    ai_generated: bool
    disclosed: bool
    image: Image
    thumbnail: Image
    embedding: Annotated[str, StringConstraints(min_length=684, max_length=684)]  # base64 of 512 bytes
    quality: dict[str, Any]
    created_at: datetime
    retired_at: Optional[datetime]
    provenance: dict[str, Any]


class CheckinDoc(_Strict):
    id: Id
    taken_at: datetime
    taken_at_source: Literal["given", "exif", "received"]
    received_at: datetime
    image_sha256: Hex64
    original: Optional[Image]
    thumbnail: Image
    embedding: Annotated[str, StringConstraints(min_length=684, max_length=684)]
    quality: dict[str, Any]
    note: Optional[Text]
    identity_distance: Optional[Annotated[float, Field(ge=0, le=4)]]
    identity_confirmed: bool


class MeasurementDoc(_Strict):
    checkin_id: Id
    headshot_id: Id
    distance: Annotated[float, Field(ge=0, le=4)]


State = Literal["open", "acknowledged", "snoozed", "resolved"]


class ReminderDoc(_Strict):
    id: Id
    headshot_id: Optional[Id]
    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    state: State
    opened_at: datetime
    since: datetime
    acknowledged_at: Optional[datetime]
    snoozed_until: Optional[datetime]
    resolved_at: Optional[datetime]
    updated_at: datetime
    message: Text
    details: dict[str, Any]


class EventDoc(_Strict):
    id: Id
    reminder_id: Id
    old_state: Optional[State]
    new_state: State
    reason: Text
    created_at: datetime
    processed_at: Optional[datetime]


class ChannelDoc(_Strict):
    id: Id
    kind: Literal["email", "apprise", "webhook"]
    target: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    secret: Optional[Annotated[str, StringConstraints(max_length=128)]]
    enabled: bool
    disabled_reason: Optional[Text]
    disabled_at: Optional[datetime]
    created_at: datetime


class NotificationDoc(_Strict):
    id: Id
    kind: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    event_id: Optional[Id]
    subject: Text
    text: Text
    payload: dict[str, Any]
    created_at: datetime


class DeliveryDoc(_Strict):
    id: Id
    notification_id: Id
    channel_id: Id
    status: Literal["pending", "sending", "sent", "dead", "cancelled"]
    attempts: Annotated[int, Field(ge=0, le=1000)]
    next_attempt_at: Optional[datetime]
    last_error: Optional[Text]
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    created_at: datetime
    sent_at: Optional[datetime]


class Software(_Strict):
    name: Short
    version: Short


class Document(_Strict):
    """``freshness.json``, schema version 1 (README, "Export")."""

    format: Literal["freshness-export"]
    schema_version: Literal[1]
    exported_at: datetime
    software: Software
    person: PersonDoc
    consent: ConsentDoc
    headshots: Annotated[list[HeadshotDoc], Field(max_length=10_000)]
    checkins: Annotated[list[CheckinDoc], Field(max_length=100_000)]
    measurements: Annotated[list[MeasurementDoc], Field(max_length=2_000_000)]
    reminders: Annotated[list[ReminderDoc], Field(max_length=100_000)]
    events: Annotated[list[EventDoc], Field(max_length=500_000)]
    channels: Annotated[list[ChannelDoc], Field(max_length=1_000)]
    notifications: Annotated[list[NotificationDoc], Field(max_length=500_000)]
    deliveries: Annotated[list[DeliveryDoc], Field(max_length=1_000_000)]


# ---------------------------------------------------------------- export


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def _ext(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        return "heic"
    raise ValueError("not an image this store keeps")


def _embedding(raw: bytes) -> str:
    return base64.b64encode(bytes(raw)).decode()


def export_person(session: Session, person: Any, settings: Any, out: IO[bytes], now: datetime,
                  *, actor: str) -> dict[str, int]:
    """Write the person's export zip to ``out`` (a file opened for writing, seekable or not) and
    record it in the audit log. Returns counts. A stored file that is missing is left out of
    the zip and counted as ``missing_files`` (the document still names it)."""
    from freshness.blobs import BlobStore
    from freshness.models import (
        Channel, Checkin, Delivery, Headshot, Measurement, Notification, Reminder, ReminderEvent,
    )
    from freshness.privacy import audit, notice_text

    blobs = BlobStore(settings.blob_dir)
    pid = person.id
    images: dict[str, str] = {}  # sha256 -> file name in the zip
    missing: set[str] = set()

    def image(digest: str) -> dict[str, Any]:
        if digest not in images and digest not in missing:
            try:
                data = blobs.get(digest)
                images[digest] = f"images/{digest}.{_ext(data)}"
                sizes[digest] = len(data)
            except (FileNotFoundError, ValueError):
                missing.add(digest)
        return {"sha256": digest, "file": images.get(digest, f"images/{digest}.jpg"), "bytes": sizes.get(digest, 1)}

    sizes: dict[str, int] = {}
    heads = list(session.exec(select(Headshot).where(Headshot.person_id == pid).order_by(Headshot.id)).all())
    checkins = list(session.exec(select(Checkin).where(Checkin.person_id == pid).order_by(Checkin.id)).all())
    checkin_ids = [c.id for c in checkins]
    measurements = list(session.exec(select(Measurement).where(Measurement.checkin_id.in_(checkin_ids))  # type: ignore[attr-defined]
                                     .order_by(Measurement.id)).all()) if checkin_ids else []
    reminders = list(session.exec(select(Reminder).where(Reminder.person_id == pid).order_by(Reminder.id)).all())
    reminder_ids = [r.id for r in reminders]
    events = list(session.exec(select(ReminderEvent).where(ReminderEvent.reminder_id.in_(reminder_ids))  # type: ignore[attr-defined]
                               .order_by(ReminderEvent.id)).all()) if reminder_ids else []
    channels = list(session.exec(select(Channel).where(Channel.person_id == pid).order_by(Channel.id)).all())
    notes = list(session.exec(select(Notification).where(Notification.person_id == pid)
                              .order_by(Notification.id)).all())
    note_ids = [n.id for n in notes]
    deliveries = list(session.exec(select(Delivery).where(Delivery.notification_id.in_(note_ids))  # type: ignore[attr-defined]
                                   .order_by(Delivery.id)).all()) if note_ids else []
    document = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "exported_at": _iso(now),
        "software": {"name": "freshness", "version": __version__},
        "person": {
            "name": person.name, "email": person.email, "timezone": person.timezone, "sector": person.sector,
            "checkin_every_days": person.checkin_every_days, "prompt_hour": person.prompt_hour,
            "notify_resolved": person.notify_resolved, "policy_overrides": person.policy_overrides or {},
            "created_at": _iso(person.created_at), "last_activity_at": _iso(person.last_activity_at),
            "next_checkin_due": _iso(person.next_checkin_due),
        },
        "consent": {"version": person.consent_version, "at": _iso(person.consent_at),
                    "text": notice_text(settings, person.consent_version)},
        "headshots": [{
            "id": h.id, "platform": h.platform, "published_on": h.published_on.isoformat(),
            "ai_generated": h.ai_generated, "disclosed": h.disclosed, "image": image(h.image_digest),
            "thumbnail": image(h.thumb_digest), "embedding": _embedding(h.embedding), "quality": h.quality or {},
            "created_at": _iso(h.created_at), "retired_at": _iso(h.retired_at), "provenance": h.provenance or {},
        } for h in heads],
        "checkins": [{
            "id": c.id, "taken_at": _iso(c.taken_at), "taken_at_source": c.taken_at_source,
            "received_at": _iso(c.received_at), "image_sha256": c.image_digest,
            "original": image(c.image_digest) if c.original_kept else None, "thumbnail": image(c.thumb_digest),
            "embedding": _embedding(c.embedding), "quality": c.quality or {}, "note": c.note,
            "identity_distance": c.identity_distance, "identity_confirmed": c.identity_confirmed,
        } for c in checkins],
        "measurements": [{"checkin_id": m.checkin_id, "headshot_id": m.headshot_id, "distance": m.distance}
                         for m in measurements],
        "reminders": [{
            "id": r.id, "headshot_id": r.headshot_id, "kind": r.kind, "state": r.state,
            "opened_at": _iso(r.opened_at), "since": _iso(r.since), "acknowledged_at": _iso(r.acknowledged_at),
            "snoozed_until": _iso(r.snoozed_until), "resolved_at": _iso(r.resolved_at),
            "updated_at": _iso(r.updated_at), "message": r.message, "details": r.details or {},
        } for r in reminders],
        "events": [{"id": e.id, "reminder_id": e.reminder_id, "old_state": e.old_state, "new_state": e.new_state,
                    "reason": e.reason, "created_at": _iso(e.created_at), "processed_at": _iso(e.processed_at)}
                   for e in events],
        "channels": [{"id": c.id, "kind": c.kind, "target": c.target, "secret": c.secret, "enabled": c.enabled,
                      "disabled_reason": c.disabled_reason, "disabled_at": _iso(c.disabled_at),
                      "created_at": _iso(c.created_at)} for c in channels],
        "notifications": [{"id": n.id, "kind": n.kind, "event_id": n.event_id, "subject": n.subject,
                           "text": n.text, "payload": n.payload or {}, "created_at": _iso(n.created_at)}
                          for n in notes],
        "deliveries": [{"id": d.id, "notification_id": d.notification_id, "channel_id": d.channel_id,
                        "status": d.status, "attempts": d.attempts, "next_attempt_at": _iso(d.next_attempt_at),
                        "last_error": d.last_error, "idempotency_key": d.idempotency_key,
                        "created_at": _iso(d.created_at), "sent_at": _iso(d.sent_at)} for d in deliveries],
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(DOCUMENT, date_time=now.timetuple()[:6]),
                    json.dumps(document, ensure_ascii=False, indent=1), compress_type=zipfile.ZIP_DEFLATED)
        for digest, name in sorted(images.items(), key=lambda item: item[1]):
            info = zipfile.ZipInfo(name, date_time=now.timetuple()[:6])
            zf.writestr(info, blobs.get(digest), compress_type=zipfile.ZIP_STORED)  # images are compressed already
    counts = {"headshots": len(heads), "checkins": len(checkins), "measurements": len(measurements),
              "reminders": len(reminders), "events": len(events), "channels": len(channels),
              "notifications": len(notes), "deliveries": len(deliveries), "images": len(images),
              "missing_files": len(missing)}
    audit(session, "export", pid, actor, now, **counts)
    session.commit()
    return counts


# ---------------------------------------------------------------- reading an export, hostile or not


class Parsed:
    """A checked export: the document and the images it names (sha256 -> bytes)."""

    def __init__(self, document: Document, images: dict[str, bytes]):
        self.document, self.images = document, images


def _refuse(message: str) -> ImportRefused:
    return ImportRefused(f"not a freshness export this installation can import: {message}; nothing was imported")


def _open_regular(path: Path) -> IO[bytes]:
    """The file, if it is a regular one (not a FIFO, a device or a directory)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UsageError(f"cannot read {path}: not a regular file")
    return os.fdopen(fd, "rb")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def read_export(source: Path | IO[bytes], settings: Any) -> Parsed:
    """Check an export file completely (see the module's description) and return its document
    and images; ``ImportRefused`` (a ``UsageError``) says what is wrong."""
    limit = settings.max_import_bytes
    close = False
    if isinstance(source, (str, Path)):
        fh = _open_regular(Path(source))
        close = True
    else:
        fh = source
    try:
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        if size > limit:
            raise _refuse(f"the file is {size / 1048576:.0f} MB, more than the {limit / 1048576:.0f} MB "
                          "FRESHNESS_MAX_IMPORT_BYTES allows")
        return _read_zip(fh, settings, size)
    finally:
        if close:
            fh.close()


def _read_zip(fh: IO[bytes], settings: Any, size: int) -> Parsed:
    image_limit = max(settings.max_upload_bytes, MAX_IMAGE_BYTES_FLOOR)
    try:
        end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # the central directory's size, before it is read
    except (OSError, struct.error) as exc:  # pragma: no cover - defensive
        raise _refuse(f"it is not a zip file ({exc.__class__.__name__})") from None
    if not end:
        raise _refuse("it is not a zip file")
    entries, directory_bytes = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    if entries > MAX_ENTRIES or directory_bytes > MAX_DIRECTORY_BYTES:
        raise _refuse(f"it lists {entries} entries in a {directory_bytes}-byte directory (at most {MAX_ENTRIES})")
    fh.seek(0)
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _refuse(f"it is not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise _refuse("an entry name appears twice")
        document_info = None
        image_infos: dict[str, zipfile.ZipInfo] = {}
        declared = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise _refuse(f"the entry {info.filename[:80]!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _refuse(f"the entry {info.filename[:80]!r} uses a compression this reader does not take")
            if info.filename == DOCUMENT:
                if info.file_size > MAX_DOCUMENT_BYTES:
                    raise _refuse(f"{DOCUMENT} declares {info.file_size} bytes (at most {MAX_DOCUMENT_BYTES})")
                document_info = info
            else:
                match = _IMAGE_NAME.match(info.filename)
                if match is None:
                    raise _refuse(f"unexpected entry {info.filename[:80]!r} (only {DOCUMENT} and "
                                  "images/<sha256>.<jpg|png|webp|heic>)")
                if info.file_size > image_limit:
                    raise _refuse(f"the image {info.filename} declares {info.file_size} bytes (at most {image_limit})")
                if match.group(1) in image_infos:
                    raise _refuse(f"the image {match.group(1)} is there twice")
                image_infos[match.group(1)] = info
            declared += info.file_size
        if declared > settings.max_import_bytes * 2:
            raise _refuse(f"its entries declare {declared} bytes in all, far more than the file holds")
        if document_info is None:
            raise _refuse(f"it has no {DOCUMENT}")
        raw = _read_entry(zf, document_info, MAX_DOCUMENT_BYTES)
        document = _parse_document(raw)
        wanted = _images_named(document)
        extra = set(image_infos) - set(wanted)
        if extra:
            raise _refuse(f"the image {sorted(extra)[0]} is in the zip but the document does not mention it")
        images: dict[str, bytes] = {}
        for digest, (file, kind, size) in wanted.items():
            info = image_infos.get(digest)
            if info is None:
                raise _refuse(f"the document names the image {digest} but the zip does not have it")
            if info.filename != file:
                raise _refuse(f"the image {digest} is named {file} in the document and {info.filename} in the zip")
            data = _read_entry(zf, info, image_limit)
            if hashlib.sha256(data).hexdigest() != digest:
                raise _refuse(f"the image {info.filename}'s bytes do not have the sha256 its name says "
                              "(the file was changed or damaged)")
            if len(data) != size:
                raise _refuse(f"the image {info.filename} has {len(data)} bytes, the document says {size}")
            try:
                ext = _ext(data)
            except ValueError:
                raise _refuse(f"{info.filename} is not an image") from None
            if ext != info.filename.rsplit(".", 1)[1] or (kind == "thumbnail" and ext != "jpg"):
                raise _refuse(f"{info.filename} is not the image format it must be")
            images[digest] = data
    _check_references(document)
    return Parsed(document, images)


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, inflating at most ``limit`` + 1 bytes whatever its header says."""
    chunks, total = [], 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(1024 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise _refuse(f"the entry {info.filename} is larger than {limit} bytes")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        if isinstance(exc, ImportRefused):
            raise
        raise _refuse(f"the entry {info.filename[:80]!r} cannot be read ({exc})") from None
    except zlib.error as exc:
        raise _refuse(f"the entry {info.filename[:80]!r} is damaged ({exc})") from None
    return b"".join(chunks)


def _parse_document(raw: bytes) -> Document:
    try:
        json.loads(raw, object_pairs_hook=_no_duplicate_keys)  # duplicate keys, nesting depth
    except RecursionError:
        raise _refuse(f"{DOCUMENT} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(f"{DOCUMENT} is not valid JSON ({str(exc)[:200]})") from None
    try:
        return Document.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise _refuse(f"{DOCUMENT} does not fit schema version {SCHEMA_VERSION}: {problems}{more}") from None


def _images_named(doc: Document) -> dict[str, tuple[str, str, int]]:
    """sha256 -> (file, kind, size) of every image the document names (one kind per digest)."""
    found: dict[str, tuple[str, str, int]] = {}

    def add(img: Image | None, kind: str) -> None:
        if img is None:
            return
        seen = found.get(img.sha256)
        if seen is not None and (seen[0], seen[2]) != (img.file, img.bytes):
            raise _refuse(f"the image {img.sha256} is described twice, differently")
        if seen is None or kind == "thumbnail":
            found[img.sha256] = (img.file, kind, img.bytes)
        if _IMAGE_NAME.match(img.file).group(1) != img.sha256:  # type: ignore[union-attr]
            raise _refuse(f"the image {img.sha256} is given the file name {img.file}")

    for h in doc.headshots:
        add(h.image, "image")
        add(h.thumbnail, "thumbnail")
    for c in doc.checkins:
        add(c.original, "image")
        add(c.thumbnail, "thumbnail")
    return found


def _unique(ids: Iterable[int], what: str) -> set[int]:
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            raise _refuse(f"two {what} have the id {i}")
        seen.add(i)
    return seen


def _embedding_bytes(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise _refuse(f"{where}'s embedding is not base64") from None
    if len(raw) != EMBEDDING_BYTES:
        raise _refuse(f"{where}'s embedding has {len(raw)} bytes, not {EMBEDDING_BYTES}")
    values = struct.unpack("<128f", raw)
    if not all(math.isfinite(v) and abs(v) < 100 for v in values):
        raise _refuse(f"{where}'s embedding holds values no face has")
    return raw


def _check_references(doc: Document) -> None:
    heads = _unique((h.id for h in doc.headshots), "headshots")
    checkins = _unique((c.id for c in doc.checkins), "check-ins")
    reminders = _unique((r.id for r in doc.reminders), "reminders")
    events = _unique((e.id for e in doc.events), "events")
    channels = _unique((c.id for c in doc.channels), "channels")
    notes = _unique((n.id for n in doc.notifications), "notifications")
    _unique((d.id for d in doc.deliveries), "deliveries")
    for h in doc.headshots:
        _embedding_bytes(h.embedding, f"headshot {h.id}")
    for c in doc.checkins:
        _embedding_bytes(c.embedding, f"check-in {c.id}")
        if c.original is not None and c.original.sha256 != c.image_sha256:
            raise _refuse(f"check-in {c.id}'s original is not the image it names")
    if len({c.image_sha256 for c in doc.checkins}) != len(doc.checkins):
        raise _refuse("two check-ins are of the same photo")
    active = [h.image.sha256 for h in doc.headshots if h.retired_at is None]
    if len(set(active)) != len(active):
        raise _refuse("two active headshots are of the same image")
    pairs = set()
    for m in doc.measurements:
        if m.checkin_id not in checkins or m.headshot_id not in heads:
            raise _refuse(f"a measurement refers to check-in {m.checkin_id} or headshot {m.headshot_id}, "
                          "which the document does not have")
        if (m.checkin_id, m.headshot_id) in pairs:
            raise _refuse(f"check-in {m.checkin_id} is measured against headshot {m.headshot_id} twice")
        pairs.add((m.checkin_id, m.headshot_id))
    unresolved = set()
    for r in doc.reminders:
        if r.headshot_id is not None and r.headshot_id not in heads:
            raise _refuse(f"reminder {r.id} refers to headshot {r.headshot_id}, which the document does not have")
        if r.state != "resolved":
            key = (r.headshot_id, r.kind)
            if key in unresolved:
                raise _refuse(f"two unresolved {r.kind} reminders for the same headshot")
            unresolved.add(key)
    for e in doc.events:
        if e.reminder_id not in reminders:
            raise _refuse(f"event {e.id} refers to reminder {e.reminder_id}, which the document does not have")
    for n in doc.notifications:
        if n.event_id is not None and n.event_id not in events:
            raise _refuse(f"notification {n.id} refers to event {n.event_id}, which the document does not have")
    for d in doc.deliveries:
        if d.notification_id not in notes or d.channel_id not in channels:
            raise _refuse(f"delivery {d.id} refers to notification {d.notification_id} or channel {d.channel_id}, "
                          "which the document does not have")
    if len({d.idempotency_key for d in doc.deliveries}) != len(doc.deliveries):
        raise _refuse("two deliveries have the same idempotency key")


# ---------------------------------------------------------------- import


def import_export(session: Session, ctx: Any, parsed: Parsed, now: datetime, *, actor: str,
                  name: str | None = None) -> tuple[Any, str, dict[str, int]]:
    """Write a checked export as a new person (under ``name`` when given); one transaction.
    Returns (person, their new API token, counts)."""
    from freshness import rules
    from freshness.blobs import BlobBatch
    from freshness.channels import validate_target
    from freshness.models import (
        Channel, Checkin, Delivery, Headshot, Measurement, Notification, Person, Reminder, ReminderEvent,
    )
    from freshness.names import clean_name, name_key
    from freshness.notify.outbox import new_idempotency_key
    from freshness.people import _EMAIL, _new_api_token, validate_sector, validate_timezone
    from freshness.privacy import MetadataError, audit, strip_metadata
    from freshness.prompts import schedule
    from freshness.reminders import active_key

    doc = parsed.document
    p = doc.person
    try:
        person_name = clean_name(name if name is not None else p.name)
    except ValueError as exc:
        raise _refuse(f"the person's name: {exc}") from None
    key = name_key(person_name)
    same = session.exec(select(Person).where(Person.name_key == key)).first()
    if same is not None:
        raise UsageError(f"a person named {same.name!r} already exists here (#{same.id}): nothing was imported. "
                         "Import under another name with --name, or forget the one here first", code="name_taken")
    if p.email is not None and not _EMAIL.match(p.email):
        raise _refuse(f"not an e-mail address: {p.email!r}")
    try:
        rules.Policy().with_overrides(p.policy_overrides)
    except ValueError as exc:
        raise _refuse(f"the person's rule overrides: {exc}") from None
    person = Person(
        name=person_name, name_key=key, email=p.email, timezone=validate_timezone(p.timezone),
        sector=validate_sector(p.sector), checkin_every_days=p.checkin_every_days, prompt_hour=p.prompt_hour,
        notify_resolved=p.notify_resolved, policy_overrides=dict(p.policy_overrides),
        next_checkin_due=p.next_checkin_due, consent_version=doc.consent.version, consent_at=doc.consent.at,
        created_at=p.created_at, last_activity_at=now,  # moving servers is activity
    )
    batch = BlobBatch(ctx.blobs)
    kept_originals = ctx.settings.keep_selfie_originals
    counts = {"headshots": 0, "checkins": 0, "measurements": 0, "reminders": 0, "events": 0, "channels": 0,
              "notifications": 0, "deliveries": 0, "files": 0}
    try:
        session.add(person)
        session.flush()
        pid = person.id
        stored: dict[str, str] = {}  # exported sha256 -> sha256 stored here (metadata removed)

        def put(digest: str) -> str:
            if digest not in stored:
                try:
                    clean = strip_metadata(parsed.images[digest])
                except MetadataError as exc:
                    raise _refuse(f"the image {digest} cannot be read ({exc})") from None
                stored[digest] = batch.put(clean)
            return stored[digest]

        heads: dict[int, int] = {}
        for h in doc.headshots:
            image = put(h.image.sha256)
            row = Headshot(person_id=pid, platform=h.platform, published_on=h.published_on, ai_generated=h.ai_generated,
                           disclosed=h.disclosed, image_digest=image, thumb_digest=put(h.thumbnail.sha256),
                           embedding=_embedding_bytes(h.embedding, f"headshot {h.id}"), quality=h.quality,
                           created_at=h.created_at, retired_at=h.retired_at,
                           active_key=f"{pid}:{image}" if h.retired_at is None else None, provenance=h.provenance)
            session.add(row)
            session.flush()
            heads[h.id] = row.id  # type: ignore[assignment]
        checkins: dict[int, int] = {}
        for c in doc.checkins:
            keep = c.original is not None and kept_originals
            if keep:  # as sent (this server keeps selfie files as they are, metadata included)
                batch.put(parsed.images[c.image_sha256])
            row = Checkin(person_id=pid, taken_at=c.taken_at, taken_at_source=c.taken_at_source,
                          received_at=c.received_at, image_digest=c.image_sha256, original_kept=keep,
                          thumb_digest=put(c.thumbnail.sha256), embedding=_embedding_bytes(c.embedding, f"check-in {c.id}"),
                          quality=c.quality, note=c.note, identity_distance=c.identity_distance,
                          identity_confirmed=c.identity_confirmed)
            session.add(row)
            session.flush()
            checkins[c.id] = row.id  # type: ignore[assignment]
        for m in doc.measurements:
            session.add(Measurement(checkin_id=checkins[m.checkin_id], headshot_id=heads[m.headshot_id],
                                    distance=m.distance))
        reminders: dict[int, int] = {}
        for r in doc.reminders:
            hid = heads[r.headshot_id] if r.headshot_id is not None else None
            row = Reminder(person_id=pid, headshot_id=hid, kind=r.kind, state=r.state,
                           active_key=active_key(pid, hid, r.kind) if r.state != "resolved" else None,
                           opened_at=r.opened_at, since=r.since, acknowledged_at=r.acknowledged_at,
                           snoozed_until=r.snoozed_until, resolved_at=r.resolved_at, updated_at=r.updated_at,
                           message=r.message, details=r.details)
            session.add(row)
            session.flush()
            reminders[r.id] = row.id  # type: ignore[assignment]
        events: dict[int, int] = {}
        for e in doc.events:
            row = ReminderEvent(reminder_id=reminders[e.reminder_id], old_state=e.old_state, new_state=e.new_state,
                                reason=e.reason, created_at=e.created_at, processed_at=e.processed_at or now)
            session.add(row)
            session.flush()
            events[e.id] = row.id  # type: ignore[assignment]
        channels: dict[int, int] = {}
        for ch in doc.channels:
            enabled, reason, disabled_at = ch.enabled, ch.disabled_reason, ch.disabled_at
            try:
                target, _ = validate_target(ch.kind, ch.target, ctx.settings)
            except UsageError as exc:  # e.g. a target this server refuses: kept, disabled, with the reason
                target, enabled, reason, disabled_at = ch.target, False, f"imported: {exc.message}", now
            row = Channel(person_id=pid, kind=ch.kind, target=target, secret=ch.secret, enabled=enabled,
                          disabled_reason=reason, disabled_at=disabled_at, created_at=ch.created_at)
            session.add(row)
            session.flush()
            channels[ch.id] = row.id  # type: ignore[assignment]
        notes: dict[int, int] = {}
        for n in doc.notifications:
            row = Notification(person_id=pid, kind=n.kind, event_id=events[n.event_id] if n.event_id else None,
                               subject=n.subject, text=n.text, payload=n.payload, created_at=n.created_at)
            session.add(row)
            session.flush()
            notes[n.id] = row.id  # type: ignore[assignment]
        keys = [d.idempotency_key for d in doc.deliveries]
        taken = set(session.exec(select(Delivery.idempotency_key).where(Delivery.idempotency_key.in_(keys))).all()) \
            if keys else set()  # type: ignore[attr-defined]
        for d in doc.deliveries:
            waiting = d.status in ("pending", "sending")  # never sent again from here
            session.add(Delivery(
                notification_id=notes[d.notification_id], channel_id=channels[d.channel_id],
                status="cancelled" if waiting else d.status, attempts=d.attempts,
                next_attempt_at=None if waiting else d.next_attempt_at,
                last_error="imported from another installation: not sent from here" if waiting else d.last_error,
                idempotency_key=new_idempotency_key() if d.idempotency_key in taken else d.idempotency_key,
                created_at=d.created_at, sent_at=d.sent_at))
        session.flush()
        schedule(session, person)
        token = _new_api_token(session, pid, now, "made by freshness import")  # type: ignore[arg-type]
        counts.update(headshots=len(heads), checkins=len(checkins), measurements=len(doc.measurements),
                      reminders=len(reminders), events=len(events), channels=len(channels),
                      notifications=len(notes), deliveries=len(doc.deliveries), files=len(batch.created))
        audit(session, "import", pid, actor, now, schema_version=doc.schema_version,
              **{k: v for k, v in counts.items()})
        session.commit()
    except BaseException:
        session.rollback()
        batch.rollback()
        raise
    return person, token, counts
