"""Service: headshots and check-ins (the data flow of DESIGN.md, decode → analyze → store).

Each call is one transaction: blobs are written first (content-addressed, atomic),
then the rows; if anything fails, the rows roll back and the blobs this call
created are removed unless a committed row refers to them (freshness.blobs), so a
refused or failed image leaves nothing behind and takes nothing from anyone else.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from freshness import identity as identity_guard
from freshness import words
from freshness.blobs import BlobBatch, references_from, sha256_hex
from freshness.context import Context
from freshness.errors import ImageRejected, NotFound, UsageError
from freshness.faces.embedding import embedding_from_bytes, embedding_to_bytes
from freshness.models import Checkin, Headshot, Measurement, Person
from freshness.provenance import read_provenance, recorded_ai
from freshness.prompts import schedule as schedule_prompt

if TYPE_CHECKING:
    import numpy as np

    from freshness.faces import FaceAnalysis
    from freshness.parallel import SelfieAnalysis, SelfiePool

PLATFORMS = ("linkedin", "resume", "portfolio", "website", "github", "x", "company", "other")
# An EXIF or given capture time may be this far ahead of the server clock (clock skew).
FUTURE_SLACK = timedelta(hours=12)
# No selfie is older than this: an earlier given time is a typing mistake, an earlier EXIF
# date a camera whose clock was never set (and the dates of the rules stay in the calendar).
EARLIEST_TAKEN = datetime(1990, 1, 1, tzinfo=timezone.utc)


@dataclass
class HeadshotResult:
    headshot: Headshot
    analysis: FaceAnalysis
    backfilled: int  # measurements computed against earlier check-ins
    warnings: list[str] = field(default_factory=list)


@dataclass
class CheckinResult:
    checkin: Checkin
    analysis: FaceAnalysis
    distances: list[tuple[Headshot, float]]
    identity: identity_guard.IdentityCheck

    @property
    def identity_note(self) -> str | None:
        """One line about the identity check when it is worth saying (not checked yet, confirmed)."""
        return _identity_note(self.identity)


def _identity_note(check: identity_guard.IdentityCheck) -> str | None:
    return words.identity_note(
        checked=check.checked, distance=check.distance, compared=len(check.compared_with), radius=check.radius,
        confirmed=check.confirmed, earlier=check.earlier, min_references=check.min_references,
        back_dated=check.back_dated,
    )


def _exif_time(value: datetime | None, tz: str) -> datetime | None:
    """An EXIF capture time in UTC (in the person's zone unless it has an offset); None when it
    has none or it leaves the calendar when converted."""
    if value is None:
        return None
    try:
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(tz))
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None


def check_identity(
    session: Session, ctx: Context, person: Person, embedding: np.ndarray, taken_at: datetime
) -> identity_guard.IdentityCheck:
    """Compare a selfie with the person's accepted selfies nearest to it in time (see freshness.identity)."""
    k = identity_guard.REFERENCES
    near = Checkin.person_id == person.id
    before = session.exec(
        select(Checkin).where(near, Checkin.taken_at <= taken_at)
        .order_by(Checkin.taken_at.desc(), Checkin.id.desc()).limit(k)  # type: ignore[attr-defined]
    ).all()
    after = session.exec(
        select(Checkin).where(near, Checkin.taken_at > taken_at)
        .order_by(Checkin.taken_at, Checkin.id).limit(k)  # type: ignore[arg-type]
    ).all()
    candidates = [
        identity_guard.Reference(checkin_id=c.id, taken_at=c.taken_at, embedding=embedding_from_bytes(c.embedding))  # type: ignore[arg-type]
        for c in [*before, *after]
    ]
    return identity_guard.check(
        embedding,
        identity_guard.nearest(candidates, taken_at, k),
        taken_at=taken_at,
        radius=ctx.settings.identity_radius,
        min_references=ctx.settings.identity_min_references,
        earlier=len(candidates),
    )


@contextmanager
def _stored(session: Session, ctx: Context) -> Iterator[BlobBatch]:
    """One transaction for blobs and rows: commit both, or leave neither behind.

    The writers' lock is held from the first file written until the transaction ended (see
    freshness.blobs). After a failure, the files this call created are removed unless a
    committed row refers to them: another request may have stored the same bytes and won."""
    batch = BlobBatch(ctx.blobs)
    try:
        with batch.held():
            try:
                yield batch
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except BaseException:
        batch.discard_unreferenced(references_from(session.get_bind()))
        raise


def validate_platform(platform: str) -> str:
    value = (platform or "").strip().lower()
    if value not in PLATFORMS:
        raise UsageError(f"unknown platform {platform!r}: accepted platforms are {', '.join(PLATFORMS)}")
    return value


def local_today(person: Person, now: datetime) -> date:
    return now.astimezone(ZoneInfo(person.timezone)).date()


# Times outside these years are typing mistakes (and the rules' date arithmetic would leave the calendar).
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)


def _in_range(when: datetime, text: str, what: str) -> datetime:
    if not EARLIEST <= when < LATEST:
        raise UsageError(f"{what} {text!r} is out of range: give a date from 1900 to 8999")
    return when


def _check_published_year(published_on: date) -> None:
    """A publication date before 1900 is a typing mistake (0001-01-01 made reminders "since 0003-01-01")."""
    if published_on.year < EARLIEST.year:
        raise UsageError(f"--published {published_on.isoformat()} is out of range: give a date from "
                         f"{EARLIEST.year} to today")


def parse_taken(text: str, person: Person) -> datetime:
    """``YYYY-MM-DD`` (noon) or ``YYYY-MM-DDTHH:MM`` in the person's time zone (or with an explicit offset)."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.fromisoformat(raw + "T12:00")
        else:
            parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(person.timezone))
        parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a date, or one at the very end of the calendar
        raise UsageError(f"cannot read the date {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return _in_range(parsed, text, "the date")


def _analyze(ctx: Context, data: bytes, purpose: str) -> tuple[Any, FaceAnalysis]:
    from freshness.faces import analyze_image, decode_image  # the image libraries load here, when needed

    decoded = decode_image(data, ctx.decode_limits)
    return decoded, analyze_image(decoded, purpose, ctx.quality_limits)  # type: ignore[arg-type]


def active_headshots(session: Session, person_id: int) -> list[Headshot]:
    return list(
        session.exec(
            select(Headshot)
            .where(Headshot.person_id == person_id, Headshot.retired_at.is_(None))  # type: ignore[union-attr]
            .order_by(Headshot.id)
        ).all()
    )


def add_headshot(
    session: Session,
    ctx: Context,
    person: Person,
    data: bytes,
    *,
    platform: str,
    now: datetime,
    published_on: date | None = None,
    ai_generated: bool | None = None,
    disclosed: bool = False,
    published_with_label: bool = False,
) -> HeadshotResult:
    """Register a published headshot. Quality problems are warnings (the headshot is what it is);
    no face or several faces refuse it. Distances to every earlier check-in are computed.

    The file's provenance (freshness.provenance) is read and stored: a file labelled as
    AI-generated is recorded so unless the person said it is not (``ai_generated=False``, with
    a warning); ``ai_generated=None`` (nothing said) otherwise means AI-generated, the default.
    ``published_with_label``: the person says the file is published with its embedded label
    (it counts as disclosure only while that label is intact). Unreadable provenance is a
    warning, never a refusal."""
    platform = validate_platform(platform)
    today = local_today(person, now)
    published_on = published_on or today
    if published_on > today:
        raise UsageError(f"--published {published_on.isoformat()} is in the future (today is {today.isoformat()})")
    _check_published_year(published_on)
    from freshness.faces.decode import check_image

    # The decoder's limits first (headers only): no image library reads bytes it refuses (taking the
    # metadata out of a PNG made Pillow decode all of it: a 1 x 50,000,000 PNG took 500 MB).
    check_image(data, ctx.decode_limits)
    kept = _without_metadata(data)  # what is stored: the file without its EXIF, GPS, XMP (README, "Privacy")
    digest = sha256_hex(kept if kept is not None else data)
    existing = session.exec(
        select(Headshot).where(
            Headshot.person_id == person.id,
            Headshot.image_digest == digest,
            Headshot.retired_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if existing is not None:
        raise ImageRejected(
            f"this image is already registered as headshot #{existing.id} ({existing.platform})",
            code="duplicate",
            details={"headshot_id": existing.id},
        )
    _, analysis = _analyze(ctx, data, "headshot")
    if kept is None:  # an image, but one whose structure cannot be followed to take its metadata out
        raise ImageRejected("this file's metadata (EXIF, GPS) cannot be removed from it: save it again as a "
                            "JPEG or PNG and register that", code="corrupt")
    warnings = list(analysis.warnings)  # failed quality measures, then a face ignored in the background
    prov = read_provenance(data)  # never raises: what cannot be read is a problem in it
    ai_generated, conflict = recorded_ai(ai_generated, prov)
    if published_with_label:
        prov["published_with_label"] = True
    for reason, applies in (("unreadable", prov["status"] == "unreadable"), (conflict, conflict is not None),
                            ("label_missing", published_with_label and not prov["label_intact"])):
        if applies:
            warnings.append(words.provenance_warning(reason, prov))  # type: ignore[arg-type]
    try:
        with _stored(session, ctx) as batch:
            headshot = _store_headshot(session, batch, person, kept, digest, analysis, platform=platform,
                                       published_on=published_on, ai_generated=ai_generated,
                                       disclosed=disclosed, now=now)
            headshot.provenance = prov
            checkins = _backfill(session, person, headshot, analysis)
    except IntegrityError:  # the same image, registered at the same moment by another request
        raise ImageRejected("this image is already registered as an active headshot", code="duplicate") from None
    return HeadshotResult(headshot=headshot, analysis=analysis, backfilled=len(checkins), warnings=warnings)


def _without_metadata(data: bytes) -> bytes | None:
    """``privacy.strip_metadata``, or None when the file's structure cannot be followed."""
    from freshness.privacy import MetadataError, strip_metadata

    try:
        return strip_metadata(data)
    except MetadataError:
        return None


def _store_headshot(session: Session, batch: BlobBatch, person: Person, data: bytes, digest: str,
                    analysis: FaceAnalysis, *, platform: str, published_on: date, ai_generated: bool,
                    disclosed: bool, now: datetime) -> Headshot:
    batch.put(data)  # the published file is kept (without its metadata: see _without_metadata)
    thumb = batch.put(analysis.thumbnail_jpeg)
    headshot = Headshot(
        person_id=person.id,
        platform=platform,
        published_on=published_on,
        ai_generated=ai_generated,
        disclosed=disclosed,
        image_digest=digest,
        thumb_digest=thumb,
        embedding=embedding_to_bytes(analysis.embedding),
        quality=analysis.quality_dict(),
        created_at=now,
        active_key=f"{person.id}:{digest}",
    )
    session.add(headshot)
    session.flush()
    person.last_activity_at = now
    session.add(person)
    return headshot


def _backfill(session: Session, person: Person, headshot: Headshot, analysis: FaceAnalysis) -> list[Checkin]:
    """Measure a new headshot against every earlier check-in of the person."""
    checkins = list(session.exec(select(Checkin).where(Checkin.person_id == person.id)).all())
    for checkin in checkins:
        session.add(
            Measurement(
                checkin_id=checkin.id,
                headshot_id=headshot.id,
                distance=_distance(analysis.embedding, embedding_from_bytes(checkin.embedding)),
            )
        )
    return checkins


def retire_headshot(session: Session, headshot_id: int, now: datetime) -> Headshot:
    headshot = session.get(Headshot, headshot_id)
    if headshot is None:
        raise NotFound(f"no headshot with id {headshot_id}")
    if headshot.retired_at is not None:
        raise UsageError(f"headshot #{headshot_id} was already retired on {headshot.retired_at.date().isoformat()}")
    headshot.retired_at = now
    headshot.active_key = None  # the same image may be registered again as a new headshot
    session.add(headshot)
    session.commit()
    return headshot


def update_headshot(
    session: Session,
    headshot_id: int,
    *,
    now: datetime,
    platform: str | None = None,
    published_on: date | None = None,
    ai_generated: bool | None = None,
    disclosed: bool | None = None,
    published_with_label: bool | None = None,
) -> tuple[Headshot, list[str]]:
    """Change what is known about a headshot (where and when it is published, whether it is
    AI-generated, whether it is labelled as such). Everything is validated before anything is
    saved. Returns the headshot and the names of the fields that changed."""
    headshot = session.get(Headshot, headshot_id)
    if headshot is None:
        raise NotFound(f"no headshot with id {headshot_id}")
    person = session.get(Person, headshot.person_id)
    changes: dict[str, Any] = {}
    if platform is not None:
        changes["platform"] = validate_platform(platform)
    if published_on is not None:
        today = local_today(person, now)  # type: ignore[arg-type]
        if published_on > today:
            raise UsageError(f"--published {published_on.isoformat()} is in the future (today is {today.isoformat()})")
        _check_published_year(published_on)
        changes["published_on"] = published_on
    if ai_generated is not None:
        changes["ai_generated"] = ai_generated
    if disclosed is not None:
        changes["disclosed"] = disclosed
    if published_with_label is not None:  # kept with what the file says (Headshot.provenance)
        changes["published_with_label"] = published_with_label
    if not changes:
        raise UsageError("nothing to change: give at least one of --platform, --published, --ai/--not-ai, "
                         "--disclosed/--not-disclosed, --published-with-label/--not-published-with-label")
    prov = dict(headshot.provenance or {})
    current = {name: (prov.get(name) is True if name == "published_with_label" else getattr(headshot, name))
               for name in changes}
    changed = [name for name, value in changes.items() if current[name] != value]
    for name, value in changes.items():
        if name == "published_with_label":
            prov[name] = value
            headshot.provenance = prov  # a new dict, so that the JSON column is written
        else:
            setattr(headshot, name, value)
    session.add(headshot)
    session.commit()
    return headshot, changed


def list_headshots(session: Session, person: Person) -> list[Headshot]:
    return list(session.exec(select(Headshot).where(Headshot.person_id == person.id).order_by(Headshot.id)).all())


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np  # loaded with the face pipeline; listing commands never need it

    return round(float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64))), 6)


def check_taken(taken_at: datetime | None, now: datetime) -> None:
    """A given capture time must be neither in the future nor before the earliest selfie."""
    if taken_at is not None and taken_at > now + FUTURE_SLACK:
        raise UsageError(f"--taken {taken_at.isoformat()} is in the future")
    if taken_at is not None and taken_at < EARLIEST_TAKEN:
        raise UsageError(f"--taken {taken_at.isoformat()} is before {EARLIEST_TAKEN.year}: give the day the selfie was taken")


def add_checkin(
    session: Session,
    ctx: Context,
    person: Person,
    data: bytes,
    *,
    now: datetime,
    taken_at: datetime | None = None,
    confirm_identity: bool = False,
    analysed: Callable[[], SelfieAnalysis] | None = None,
) -> CheckinResult:
    """Accept one selfie or raise ImageRejected (nothing stored).

    taken_at is the given time, else EXIF DateTimeOriginal (in the person's time
    zone unless the file records an offset), else ``now``. A selfie outside the
    identity radius of the person's own selfies nearest in time is refused as
    ``not_you`` unless ``confirm_identity`` (then it is stored as confirmed).
    ``analysed``: the analysis of ``data`` made elsewhere (a worker process,
    freshness.parallel), asked for where this call would analyse the image itself.
    """
    digest = sha256_hex(data)
    duplicate = session.exec(
        select(Checkin).where(Checkin.person_id == person.id, Checkin.image_digest == digest)
    ).first()
    if duplicate is not None:
        raise ImageRejected(
            f"this exact photo was already checked in (check-in #{duplicate.id}, taken "
            f"{words.local_date(duplicate.taken_at, person.timezone)}); take a new selfie",
            code="duplicate",
            details={"checkin_id": duplicate.id},
        )
    check_taken(taken_at, now)
    if analysed is None:
        from freshness.parallel import analyse_selfie

        found = analyse_selfie(data, ctx.decode_limits, ctx.quality_limits).result()
    else:
        found = analysed().result()
    analysis = found.analysis
    assert analysis is not None
    analysis.enforce()

    note = analysis.note
    exif_time = _exif_time(found.taken_at, person.timezone)
    if taken_at is not None:
        source = "given"
    elif exif_time is not None:
        if exif_time > now + FUTURE_SLACK:
            taken_at, source = now, "received"
            note = "; ".join(filter(None, [note, "the photo's EXIF date is in the future (camera clock?); used the time received"]))
        elif exif_time < EARLIEST_TAKEN:
            taken_at, source = now, "received"
            note = "; ".join(filter(None, [note, f"the photo's EXIF date is before {EARLIEST_TAKEN.year} (camera clock?); "
                                                 "used the time received"]))
        else:
            taken_at, source = exif_time, "exif"
    else:
        taken_at, source = now, "received"
        if found.taken_at_problem:
            note = "; ".join(filter(None, [note, f"{found.taken_at_problem}; used the time received"]))

    guard = check_identity(session, ctx, person, analysis.embedding, taken_at)
    if guard.outside:
        if not confirm_identity:
            raise ImageRejected(
                words.identity_refusal(guard.distance, len(guard.compared_with), guard.radius,  # type: ignore[arg-type]
                                       back_dated=guard.back_dated),
                code="not_you",
                details={"distance": guard.distance, "radius": guard.radius,
                         "compared_with": list(guard.compared_with)},
            )
        guard = replace(guard, confirmed=True)

    headshots = active_headshots(session, person.id)  # type: ignore[arg-type]
    try:
        with _stored(session, ctx) as batch:
            thumb = batch.put(analysis.thumbnail_jpeg)
            keep = ctx.settings.keep_selfie_originals
            if keep:
                batch.put(data)
            checkin = Checkin(
                person_id=person.id,
                taken_at=taken_at,
                taken_at_source=source,
                received_at=now,
                image_digest=digest,
                original_kept=keep,
                thumb_digest=thumb,
                embedding=embedding_to_bytes(analysis.embedding),
                quality=analysis.quality_dict(),
                note=note,
                identity_distance=guard.distance,
                identity_confirmed=guard.confirmed,
            )
            session.add(checkin)
            session.flush()
            distances = []
            for headshot in headshots:
                d = _distance(analysis.embedding, embedding_from_bytes(headshot.embedding))
                session.add(Measurement(checkin_id=checkin.id, headshot_id=headshot.id, distance=d))
                distances.append((headshot, d))
            person.last_activity_at = now
            due = taken_at + timedelta(days=person.checkin_every_days)
            if person.next_checkin_due is None or due > person.next_checkin_due:
                person.next_checkin_due = due
            session.flush()
            schedule_prompt(session, person)  # the next prompt: one cadence after the latest check-in
            session.add(person)
    except IntegrityError:  # the same bytes, checked in concurrently
        raise ImageRejected("this exact photo was already checked in; take a new selfie", code="duplicate") from None
    return CheckinResult(checkin=checkin, analysis=analysis, distances=distances, identity=guard)


def checkins_of(session: Session, person: Person, until: datetime | None = None) -> list[Checkin]:
    query = select(Checkin).where(Checkin.person_id == person.id)
    if until is not None:
        query = query.where(Checkin.taken_at <= until)
    return list(session.exec(query.order_by(Checkin.taken_at, Checkin.id)).all())


def measurements_of(session: Session, person: Person) -> list[Measurement]:
    return list(
        session.exec(
            select(Measurement).join(Checkin, Measurement.checkin_id == Checkin.id).where(Checkin.person_id == person.id)  # type: ignore[arg-type]
        ).all()
    )


def get_headshot(session: Session, person: Person, headshot_id: int) -> Headshot:
    headshot = session.get(Headshot, headshot_id)
    if headshot is None or headshot.person_id != person.id:
        raise NotFound(f"{person.name} has no headshot with id {headshot_id}")
    return headshot


@dataclass
class Candidate:
    name: str
    analysis: FaceAnalysis | None = None
    error: ImageRejected | None = None
    distances: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return float(statistics.median(self.distances)) if self.distances else None


MIN_RANK_SELFIES = 3
MAX_RANK_SELFIES = 1000


def rank_candidates(
    session: Session, ctx: Context, person: Person, candidates: list[tuple[str, bytes]], *, recent: int = 5
) -> tuple[list[Checkin], list[Candidate]]:
    """Rank candidate headshots (not stored) by their median distance to the person's
    ``recent`` most recent accepted selfies, best first; refused candidates last."""
    if not MIN_RANK_SELFIES <= recent <= MAX_RANK_SELFIES:
        raise UsageError(f"--selfies must be from {MIN_RANK_SELFIES} to {MAX_RANK_SELFIES}, not {recent}")
    selfies = list(
        session.exec(
            select(Checkin)
            .where(Checkin.person_id == person.id)
            .order_by(Checkin.taken_at.desc(), Checkin.id.desc())  # type: ignore[attr-defined]
            .limit(recent)
        ).all()
    )
    if len(selfies) < MIN_RANK_SELFIES:
        raise UsageError(
            f"ranking needs at least {MIN_RANK_SELFIES} accepted check-in selfies to compare with; "
            f"{person.name} has {len(selfies)}. Check in with a few real selfies first (`freshness checkin`)."
        )
    embeddings = [embedding_from_bytes(c.embedding) for c in selfies]
    out: list[Candidate] = []
    for name, data in candidates:
        cand = Candidate(name=name)
        try:
            _, cand.analysis = _analyze(ctx, data, "headshot")
        except ImageRejected as exc:
            cand.error = exc
        else:
            cand.distances = [_distance(cand.analysis.embedding, e) for e in embeddings]
        out.append(cand)
    out.sort(key=lambda c: (c.median is None, c.median if c.median is not None else 0.0))
    return selfies, out


def current_headshot_medians(
    session: Session, person: Person, selfies: list[Checkin]
) -> list[tuple[Headshot, float]]:
    """Each active headshot's median distance to the given selfies (for comparison in a ranking)."""
    embeddings = [embedding_from_bytes(c.embedding) for c in selfies]
    return [
        (h, float(statistics.median([_distance(embedding_from_bytes(h.embedding), e) for e in embeddings])))
        for h in active_headshots(session, person.id)  # type: ignore[arg-type]
    ]


# ---------------------------------------------------------------- what the CLI and the API answer


def parse_as_of(value: str | None, tz: str, now: datetime, option: str = "--as-of") -> datetime:
    """An evaluation time: a date (the end of that day in the time zone ``tz``; today means
    now) or a full ISO time (in ``tz`` unless it has an offset); None or empty: now."""
    from datetime import time as day_time

    if not value:
        return now
    raw = value.strip()
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            end = datetime.combine(d, day_time(23, 59, 59), ZoneInfo(tz)).astimezone(timezone.utc)
            return now if d == now.astimezone(ZoneInfo(tz)).date() else _in_range(end, value, option)
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(tz))
        parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a date, or one at the very end of the calendar
        raise UsageError(f"{option} {value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return _in_range(parsed, value, option)


def checkin_entry(result: CheckinResult, bands: Any) -> dict[str, Any]:
    """An accepted selfie as ``freshness checkin --json`` and the API show it (without ``file``)."""
    from freshness.likeness import band

    c = result.checkin
    return {
        "accepted": True,
        "checkin_id": c.id,
        "taken_at": c.taken_at.isoformat(),
        "taken_at_source": c.taken_at_source,
        "distances": [{"headshot_id": h.id, "platform": h.platform, "distance": d, "band": band(d, bands)}
                      for h, d in result.distances],
        "quality": c.quality,
        "note": c.note,
        "identity": {**result.identity.as_dict(), "note": result.identity_note},
    }


def verdicts_after_checkin(session: Session, person: Person, results: list[dict[str, Any]],
                           now: datetime) -> list[dict[str, Any]]:
    """Each active headshot's verdict once these selfies count (as of now, or the latest of them)."""
    from freshness.reports import status as build_status

    taken = [datetime.fromisoformat(r["taken_at"]) for r in results if r["accepted"]]
    data = build_status(session, person, max([now, *taken]))
    return [{"headshot_id": h["id"], "platform": h["platform"], "state": h["state"], "level": h["level"],
             "band": h["band"], "verdict": h["verdict"]} for h in data["headshots"]]


def check_in(
    session: Session,
    ctx: Context,
    person: Person,
    images: list[tuple[str, Callable[[], bytes]]],
    *,
    clock: Callable[[], datetime],
    taken_at: datetime | None = None,
    confirm_identity: bool = False,
    workers: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    pool: SelfiePool | None = None,
) -> dict[str, Any]:
    """Check in one or more selfies, each on its own (one refused leaves the others
    accepted), and answer as ``freshness checkin --json``: ``{person, accepted, refused,
    verdicts, results}``. ``images`` are (name, read) pairs: an ImageRejected raised by
    ``read`` (a file too large) refuses that image; other errors propagate.

    With ``workers`` > 1 (None: one per CPU) and more than one image, the images are analysed
    in that many worker processes (freshness.parallel) a few images ahead of the one being stored; the
    duplicate check, the identity guard and the writes stay here, image after image in the
    given order, so the answer is the one ``workers=1`` gives. ``pool``: a pool the caller
    started (and closes) to analyse in instead. ``progress(done, total)`` is called after each
    image."""
    from freshness.reminders import policy_for

    bands = policy_for(person, ctx.settings).bands
    check_taken(taken_at, clock())  # a wrong --taken stops before any image is analysed
    results: list[dict[str, Any]] = []
    with _analysed_in_order(ctx, images, workers, pool) as selfies:
        for name, read, analysed in selfies:
            entry: dict[str, Any] = {"file": name}
            try:
                res = add_checkin(session, ctx, person, read(), now=clock(), taken_at=taken_at,
                                  confirm_identity=confirm_identity, analysed=analysed)
            except ImageRejected as exc:
                entry.update(accepted=False, error=exc.as_dict())
            else:
                entry.update(checkin_entry(res, bands))
            results.append(entry)
            if progress is not None:
                progress(len(results), len(images))
    verdicts = verdicts_after_checkin(session, person, results, clock())
    refused = sum(1 for r in results if not r["accepted"])
    return {"person": {"id": person.id, "name": person.name}, "accepted": len(results) - refused,
            "refused": refused, "verdicts": verdicts, "results": results}


Selfies = Iterator[tuple[str, Callable[[], bytes], "Callable[[], SelfieAnalysis] | None"]]


@contextmanager
def _analysed_in_order(ctx: Context, images: list[tuple[str, Callable[[], bytes]]],
                       workers: int | None, started: SelfiePool | None = None) -> Iterator[Selfies]:
    """``(name, read, analysed)`` per image, in order. One worker: ``analysed`` is None (the
    check-in analyses the image itself, after its duplicate check). More: each image is read
    here and analysed in the pool a few images ahead; ``read`` gives the bytes read (or raises
    what reading raised, when its turn comes), ``analysed`` waits for the worker's answer."""
    from freshness.parallel import worker_count

    workers = started.workers if started is not None else worker_count(workers, len(images))
    if workers == 1 or len(images) < 2:
        yield iter([(name, read, None) for name, read in images])
        return
    from contextlib import nullcontext

    from freshness.parallel import SelfiePool, ahead

    def start(image: tuple[str, Callable[[], bytes]]) -> tuple[Callable[[], bytes], Any]:
        try:
            data = image[1]()
        except Exception as exc:  # raised again in its turn, as reading it then would
            def fail(exc: Exception = exc) -> bytes:
                raise exc
            return fail, None
        return (lambda: data), pool.submit(data).result

    with nullcontext(started) if started is not None else SelfiePool(workers, ctx.decode_limits,
                                                                     ctx.quality_limits) as pool:
        yield ((name, read, analysed) for (name, _), (read, analysed) in ahead(images, start, 4 * workers))


def rank_report(
    session: Session,
    ctx: Context,
    person: Person,
    candidates: list[tuple[str, bytes]],
    *,
    now: datetime,
    recent: int = 5,
) -> dict[str, Any]:
    """Rank candidate headshots (nothing stored) and answer as ``freshness headshot rank --json``:
    ``{person, selfies, selfies_warning, threshold, current, candidates}``."""
    from freshness.likeness import band
    from freshness.reminders import policy_for

    policy = policy_for(person, ctx.settings)
    used, ranked = rank_candidates(session, ctx, person, candidates, recent=recent)
    current = current_headshot_medians(session, person, used)
    items: list[dict[str, Any]] = []
    for position, c in enumerate(ranked, start=1):
        if c.error is not None:
            items.append({"rank": None, "file": c.name, "error": c.error.as_dict()})
            continue
        median = round(c.median, 4)  # type: ignore[arg-type]
        warn = words.rank_warning(median, policy.abs_threshold) if median >= policy.abs_threshold else None
        items.append({
            "rank": position,
            "file": c.name,
            "median_distance": median,
            "distances": [round(d, 4) for d in c.distances],
            "band": band(median, policy.bands),
            "warning": warn,
            "quality": c.analysis.quality_dict() if c.analysis else None,
        })
    newest = used[0].taken_at
    stale = words.stale_selfies_warning(newest, person.timezone) if now - newest > timedelta(days=365) else None
    compare = [{"headshot_id": h.id, "platform": h.platform, "median_distance": round(d, 4),
                "band": band(d, policy.bands)} for h, d in current]
    return {"person": {"id": person.id, "name": person.name},
            "selfies": [{"checkin_id": c.id, "taken_at": c.taken_at.isoformat()} for c in used],
            "selfies_warning": stale, "threshold": policy.abs_threshold, "current": compare,
            "candidates": items}
