"""Faces handled like the biometric data they are (README, "Privacy").

* The privacy notice a person agrees to (``notice_text``), versioned: the version and the time
  of consent are stored with the person; withdrawing consent is forgetting.
* ``forget``: every row and every file of a person, then the database files scrubbed (SQLite
  overwrites deleted rows with zeros, ``secure_delete``, and the WAL is checkpointed and
  truncated), recorded in the audit log (ids and counts only, never names, e-mail addresses
  or anything biometric).
* Retention (``retention``, run by the daily maintenance job): everything of a person who has
  not been active for ``FRESHNESS_RETENTION_INACTIVE_DAYS`` is forgotten; photos left by the
  inbox import and candidates held by the web app are removed once their time is up.
* ``touch``: the activity that keeps a person's data (check-ins, sign-ins, API and page use).
* ``strip_metadata``: a stored headshot keeps its pixels, not its EXIF, GPS, XMP or comments.
* ``install_log_redaction``: tokens never reach a log line (a sign-in link's path in the web
  server's access log, say).

Nothing here reads the real clock: ``now`` is an argument.
"""

from __future__ import annotations

import logging
import re
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from freshness.models import AuditEvent, Person

if TYPE_CHECKING:
    from freshness.blobs import BlobStore
    from freshness.config import Settings

log = logging.getLogger("freshness.privacy")

# ---------------------------------------------------------------- the privacy notice

NOTICE_VERSION = "2026-12"

_NOTICE = """\
Privacy notice (version {version})

What is stored. freshness computes a face embedding (128 numbers that describe a face: \
biometric data) from each headshot you register and each selfie you check in. On this server \
it stores: those embeddings; a small face thumbnail (at most 256 px) of each image; the \
headshot files you register, without their metadata (EXIF, GPS, XMP and comments are \
removed); for each selfie the time it was taken, its quality measures and its distance to \
each headshot; {selfie_originals} your name, e-mail address, time zone, sector and \
settings; your reminders and the messages sent to you; and, for your API tokens and sign-in \
links, only a hash.

Why. Only to tell you how much your published headshot still looks like you, and to remind \
you when it no longer does, when it is due for a refresh, when a check-in is due, or when an \
AI headshot needs a disclosure. It is not used to recognise you anywhere else, and it is not \
sold or shared.

For how long. Until you delete it. {inactive} Copies in the operator's backups last until \
those backups expire.

Who can see it. You (the web app, and the API with your tokens), and whoever runs this \
server (they can read its database and files). Nothing is sent anywhere else, except the \
reminders you set up to reach you (e-mail, webhook, Apprise): they carry words and numbers, \
never images or embeddings.

Your choices. Download everything at any time (Settings > Download my data, `freshness \
export`). Delete everything at any time (Settings > Delete everything, `freshness person \
forget`): deleting is how you withdraw this consent.\
"""

#: Earlier notices, word for word, so a person's consent record shows what they agreed to.
EARLIER_NOTICES = {
    "2026-11": (
        "freshness computes face embeddings (128 numbers that describe a face) from your headshots and "
        "selfies. Face embeddings are biometric data. freshness stores, on this server only: the embeddings, "
        "a small face thumbnail of each image, the original headshot image, the time each selfie was taken "
        "and its quality measures; original selfies are not kept unless the operator enabled "
        "FRESHNESS_KEEP_SELFIE_ORIGINALS. Nothing is sent anywhere else. Deleting the person deletes all of it."
    ),
}


def notice_text(settings: Settings | None = None, version: str = NOTICE_VERSION) -> str:
    """The notice of ``version`` (the current one by default), with this server's settings in it
    (whether selfie files are kept, after how long without activity everything is deleted)."""
    if version != NOTICE_VERSION:
        return EARLIER_NOTICES.get(version, f"(the text of notice version {version!r} is not known here)")
    if settings is None:
        from freshness.config import get_settings

        settings = get_settings()
    originals = ("the selfie files themselves, as you send them, metadata (EXIF, GPS) included, because the "
                 "operator turned on FRESHNESS_KEEP_SELFIE_ORIGINALS;" if settings.keep_selfie_originals
                 else "not the selfie files themselves;")
    days = settings.retention_inactive_days
    inactive = (f"Everything about you is also deleted automatically {_span(days)} after your last activity "
                "(a check-in, a sign-in or a use of the API)." if days else
                "(The operator turned automatic deletion after a time without activity off.)")
    return _NOTICE.format(version=NOTICE_VERSION, selfie_originals=originals, inactive=inactive)


def _span(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years != 1 else ''} ({days} days)"
    return f"{days} day{'s' if days != 1 else ''}"


# ---------------------------------------------------------------- audit log and activity


def audit(session: Session, action: str, person_id: int | None, actor: str, now: datetime,
          **details: Any) -> AuditEvent:
    """Record what was done to whose data (added to the session; the caller commits). ``details``
    are ids, counts and reasons: never names, e-mail addresses, tokens or biometric data."""
    event = AuditEvent(at=now, action=action[:32], person_id=person_id, actor=actor[:32], details=details)
    session.add(event)
    return event


#: Activity is written at most this often per person (a page view every second writes nothing).
TOUCH_EVERY = timedelta(hours=1)


def touch(session: Session, person: Person | int, now: datetime) -> bool:
    """Mark the person active now (the retention clock starts again); commits. A conditional
    update: written at most once per ``TOUCH_EVERY``. True if it wrote."""
    pid = person if isinstance(person, int) else person.id
    changed = session.execute(
        update(Person)
        .where(Person.id == pid, or_(Person.last_activity_at.is_(None),  # type: ignore[union-attr,arg-type]
                                     Person.last_activity_at < now - TOUCH_EVERY))  # type: ignore[operator]
        .values(last_activity_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if changed and not isinstance(person, int):
        person.last_activity_at = now
    return bool(changed)


# ---------------------------------------------------------------- forget


@dataclass
class Forgotten:
    person_id: int
    headshots: int = 0
    checkins: int = 0
    files: int = 0
    other_files: int = 0  # inbox photos and held candidates
    scrub: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"headshots": self.headshots, "checkins": self.checkins, "files": self.files + self.other_files}


def _count(session: Session, model: Any, pid: int) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(model.person_id == pid)).one())


def person_folders(settings: Settings, person_id: int) -> list[Path]:
    """Folders that hold only this person's files: their inbox and the web app's held candidates."""
    return [settings.inbox_dir / str(person_id), settings.home / "web-candidates" / str(person_id)]


def _remove_tree(path: Path) -> int:
    if not path.exists():
        return 0
    files = sum(1 for p in path.rglob("*") if p.is_file() or p.is_symlink())
    shutil.rmtree(path, ignore_errors=True)
    return files


def forget(session: Session, person: Person, settings: Settings, blobs: BlobStore, *, actor: str,
           now: datetime, reason: str = "request", action: str = "forget") -> Forgotten:
    """Delete every row and every file of the person (a file another person's rows also use
    stays), their inbox folder and held candidates, record it in the audit log, then scrub the
    database files (``scrub_database``). Withdrawing consent is this."""
    from freshness.models import Checkin, Headshot, SignInLink
    from freshness.people import delete_person

    pid: int = person.id  # type: ignore[assignment]
    done = Forgotten(pid, headshots=_count(session, Headshot, pid), checkins=_count(session, Checkin, pid))
    # rows delete_person leaves to the foreign keys' cascade; and the audit event, in the same
    # transaction as the deletion (delete_person commits both)
    from sqlalchemy import delete

    session.execute(delete(SignInLink).where(SignInLink.person_id == pid))  # type: ignore[arg-type]
    event = audit(session, action, pid, actor, now, reason=reason, headshots=done.headshots,
                  checkins=done.checkins)
    counts = delete_person(session, person, blobs)
    done.files = counts.get("files", 0)
    for folder in person_folders(settings, pid):
        done.other_files += _remove_tree(folder)
    event.details = {**event.details, "files": done.files + done.other_files}
    session.add(event)
    session.commit()
    done.scrub = scrub_database(session)
    return done


#: How long scrubbing waits for other connections to finish reading (milliseconds).
SCRUB_WAIT_MS = 5000


def scrub_database(session: Session) -> dict[str, Any]:
    """Leave no deleted row readable in the database files. SQLite: deleted rows are overwritten
    with zeros (``PRAGMA secure_delete``, set on every connection), then the WAL is written into
    the database and truncated to nothing (``wal_checkpoint(TRUNCATE)``), waiting up to
    ``SCRUB_WAIT_MS`` for connections still reading an older snapshot; if they do not let go,
    ``complete`` is false and the next maintenance run (or forget) finishes it. PostgreSQL
    keeps dead rows until VACUUM, and in its WAL and backups (README, "Privacy"): nothing can
    be done about those from here."""
    from sqlalchemy import text

    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return {"database": bind.dialect.name, "complete": False}
    result: dict[str, Any] = {"database": "sqlite", "complete": False}
    with bind.connect() as connection:
        if str(connection.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() != "wal":
            result["complete"] = True
            return result
        waited = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(SCRUB_WAIT_MS)}")
        try:
            busy, _, _ = connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={waited}")
        connection.commit()
    result["complete"] = not busy
    return result


# ---------------------------------------------------------------- retention


@dataclass
class RetentionReport:
    purged: list[int] = field(default_factory=list)  # ids of people purged for inactivity
    inbox_files: int = 0
    held_files: int = 0
    scrubbed: bool = False

    def as_dict(self) -> dict[str, int]:
        return {"inactive_people_purged": len(self.purged), "inbox_files_removed": self.inbox_files,
                "held_candidates_removed": self.held_files}


HELD_SECONDS = 3600  # the web app holds ranked candidates this long (pages.HOLD_SECONDS)


def retention(settings: Settings, now: datetime, blobs: BlobStore | None = None) -> RetentionReport:
    """The retention schedule (README, "Retention"), run daily by the maintenance job:

    * everyone inactive (no check-in, sign-in or API use) for ``retention_inactive_days`` is
      forgotten (audit action ``purge``, reason ``inactive``);
    * photos the inbox import moved to ``done/`` or ``refused/`` go after ``inbox_keep_days``;
    * candidates held by the web app go after an hour;
    * the SQLite WAL is checkpointed and truncated (a forget that could not do it finishes here).
    """
    from freshness.blobs import BlobStore
    from freshness.db import get_engine

    blobs = blobs or BlobStore(settings.blob_dir)
    report = RetentionReport()
    days = settings.retention_inactive_days
    with Session(get_engine(settings), expire_on_commit=False) as session:
        if days:
            cutoff = now - timedelta(days=days)
            last = func.coalesce(Person.last_activity_at, Person.created_at)
            ids = list(session.exec(select(Person.id).where(last < cutoff).order_by(Person.id)).all())
            for pid in ids:
                person = session.get(Person, pid)
                if person is None:  # forgotten meanwhile
                    continue
                seen = person.last_activity_at or person.created_at
                if seen is None or seen >= cutoff:  # active meanwhile
                    continue
                forget(session, person, settings, blobs, actor="scheduler", now=now, reason="inactive",
                       action="purge")
                report.purged.append(pid)  # type: ignore[arg-type]
        report.scrubbed = bool(scrub_database(session).get("complete"))
    report.inbox_files = _remove_older(settings.inbox_dir, ("done", "refused"), now - timedelta(days=settings.inbox_keep_days))
    report.held_files = _remove_older(settings.home / "web-candidates", None, now - timedelta(seconds=HELD_SECONDS))
    if report.purged:
        log.info("retention: %s inactive people purged (ids %s)", len(report.purged),
                 ", ".join(str(i) for i in report.purged))
    return report


def _remove_older(root: Path, subfolders: tuple[str, ...] | None, cutoff: datetime) -> int:
    """Files in ``root/<person>/<subfolder>/`` (or ``root/<person>/``) last changed before ``cutoff``."""
    if not root.is_dir():
        return 0
    limit = cutoff.timestamp()
    removed = 0
    for person_dir in root.iterdir():
        if not person_dir.is_dir() or person_dir.is_symlink():
            continue
        folders = [person_dir / s for s in subfolders] if subfolders else [person_dir]
        for folder in folders:
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in folder.iterdir():
                try:
                    if (path.is_file() or path.is_symlink()) and path.lstat().st_mtime < limit:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
    return removed


# ---------------------------------------------------------------- image metadata


class MetadataError(ValueError):
    """The file's structure could not be read to remove its metadata."""


def strip_metadata(data: bytes) -> bytes:
    """The image without EXIF (GPS included), XMP, IPTC, comments, C2PA/JUMBF boxes or anything
    appended after its end. JPEG, PNG and WebP keep their pixels byte for byte (segments and
    chunks are dropped, nothing is re-encoded), their colour profile, and their EXIF orientation
    in a new EXIF block holding only that tag. HEIC becomes a JPEG (quality 95) of the upright
    image. Other formats, or a structure that cannot be followed: ``MetadataError``."""
    if data[:3] == b"\xff\xd8\xff":
        return _strip_jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _strip_png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _strip_webp(data)
    if data[4:8] == b"ftyp":
        return _reencode_heif(data)
    raise MetadataError("not a JPEG, PNG, WebP or HEIC file")


def _orientation(data: bytes) -> int:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # no readable EXIF: upright
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def _exif_orientation_only(orientation: int) -> bytes:
    """A TIFF-structured EXIF block ("MM\\0*…") with the orientation tag and nothing else."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()[6:]  # without the "Exif\0\0" prefix


#: JPEG segments kept: JFIF (APP0), the ICC profile (APP2 "ICC_PROFILE"), Adobe (APP14, the colour
#: transform); every non-APPn segment (tables, frame and scan headers) is kept.
def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xE0:
        return payload.startswith(b"JFIF\x00")
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:
        return payload.startswith(b"Adobe")
    if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # other APPn (EXIF, XMP, IPTC, MPF, JUMBF…), comments
        return False
    return True


def _strip_jpeg(data: bytes) -> bytes:
    orientation = _orientation(data)
    out = bytearray(b"\xff\xd8")
    if orientation != 1:
        block = b"Exif\x00\x00" + _exif_orientation_only(orientation)
        out += b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise MetadataError("a JPEG segment does not start with a marker")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker == 0xD9:  # EOI: anything after it (trailers, appended files) is dropped
            out += b"\xff\xd9"
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += bytes((0xFF, marker))
            continue
        if i + 2 > n:
            raise MetadataError("a JPEG segment is cut short")
        (length,) = struct.unpack(">H", data[i:i + 2])
        if length < 2 or i + length > n:
            raise MetadataError("a JPEG segment is cut short")
        payload = data[i + 2:i + length]
        segment_end = i + length
        if _keep_jpeg_segment(marker, payload):
            out += bytes((0xFF, marker)) + data[i:segment_end]
        i = segment_end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            j = i
            while True:
                j = data.find(b"\xff", j)
                if j < 0 or j + 1 >= n:
                    raise MetadataError("a JPEG scan has no end")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    j += 1 if following == 0xFF else 2
                    continue
                break
            out += data[i:j]
            i = j
    raise MetadataError("a JPEG file without an end marker")


_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD",
             b"pHYs", b"acTL", b"fcTL", b"fdAT"}


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _strip_png(data: bytes) -> bytes:
    orientation = _orientation(data)
    out = bytearray(data[:8])
    i, n = 8, len(data)
    while i + 8 <= n:
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > n:
            raise MetadataError("a PNG chunk is cut short")
        if kind in _PNG_KEEP:
            if kind == b"IDAT" and orientation != 1:  # before the image data, once
                out += _png_chunk(b"eXIf", _exif_orientation_only(orientation))
                orientation = 1
            out += data[i:end]
        i = end
        if kind == b"IEND":  # anything after it is dropped
            return bytes(out)
    raise MetadataError("a PNG file without an IEND chunk")


def _strip_webp(data: bytes) -> bytes:
    orientation = _orientation(data)
    chunks: list[tuple[bytes, bytes]] = []
    (riff_size,) = struct.unpack("<I", data[4:8])
    i, n = 12, min(len(data), 8 + riff_size)
    while i + 8 <= n:
        kind = data[i:i + 4]
        (size,) = struct.unpack("<I", data[i + 4:i + 8])
        body = data[i + 8:i + 8 + size]
        if len(body) != size:
            raise MetadataError("a WebP chunk is cut short")
        if kind in (b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP", b"ANIM", b"ANMF"):
            chunks.append((kind, body))
        i += 8 + size + (size & 1)
    if not chunks:
        raise MetadataError("a WebP file without an image")
    if chunks[0][0] == b"VP8X":
        flags = chunks[0][1][0] & ~0x0C  # EXIF and XMP flags off
        if orientation != 1:
            flags |= 0x08
            chunks.append((b"EXIF", _exif_orientation_only(orientation)))
        chunks[0] = (b"VP8X", bytes((flags,)) + chunks[0][1][1:])
    body = bytearray(b"WEBP")
    for kind, payload in chunks:
        body += kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + bytes(body)


def _reencode_heif(data: bytes) -> bytes:
    """A HEIC file's metadata sits in items its container points at by offsets: rather than
    rewriting the container, the upright image is kept as a JPEG (quality 95, its colour
    profile kept), the same bytes every time for the same file."""
    import io

    from PIL import Image, ImageOps

    from freshness.faces.decode import _register_heif

    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as im:
            icc = im.info.get("icc_profile")
            upright = ImageOps.exif_transpose(im).convert("RGB")
    except Exception as exc:
        raise MetadataError(f"the HEIC file could not be read: {exc.__class__.__name__}") from None
    out = io.BytesIO()
    upright.save(out, format="JPEG", quality=95, icc_profile=icc) if icc else upright.save(out, format="JPEG",
                                                                                             quality=95)
    return out.getvalue()


# ---------------------------------------------------------------- logs without secrets

_SECRET = re.compile(r"\b(fr_|frlink_|frcal_|whsec_)[A-Za-z0-9_\-+/=]{8,}|(?i:\b(bearer)\s+)[^\s\"',;]+")


def redact(text: str) -> str:
    """``text`` with tokens, sign-in links, calendar secrets, webhook secrets and bearer
    credentials replaced by their kind: ``frlink_[redacted]``."""
    return _SECRET.sub(lambda m: (m.group(1) or (m.group(2) + " ")) + "[redacted]", text)


_installed = False


def install_log_redaction() -> None:
    """Every log record made from now on, by any logger, has its secrets redacted (the web
    server's access log writes paths, and a sign-in link's path is its token)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: left to the handler
            return record
        if redact(message) == message:
            return record
        # redact each argument in place (formatters such as uvicorn's access log read the
        # arguments themselves), then the whole message if a secret is still there
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        try:
            still = redact(record.getMessage()) != record.getMessage()
        except Exception:
            still = True
        if still:
            record.msg, record.args = redact(message), ()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
