"""Service-level guarantees of the check-in flow (real photos, real SQLite file)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import Session, select

from freshness import migrate
from freshness.blobs import sha256_hex
from freshness.privacy import strip_metadata
from freshness.checkins import add_checkin, add_headshot
from freshness.config import Settings
from freshness.context import Context
from freshness.db import get_engine
from freshness.errors import ImageRejected
from freshness.models import Checkin, Headshot, Person
from freshness.people import add_person, delete_person
from tests.clitools import snapshot

pytestmark = pytest.mark.faces
NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)


class Boom(Exception):
    pass


def test_it_removes_new_blobs_when_the_transaction_fails(home: Path, faces: Path, monkeypatch) -> None:
    settings = Settings()
    migrate.upgrade(settings)
    ctx = Context(settings)
    with Session(get_engine(settings), expire_on_commit=False) as session:
        person, _ = add_person(session, "Carell", consent=True, now=NOW)
        add_headshot(session, ctx, person, (faces / "people/steve_carell/carell.jpg").read_bytes(),
                     platform="linkedin", now=NOW)
        before = snapshot(home)
        real_commit = Session.commit

        def failing_commit(self):
            raise Boom("disk full")

        monkeypatch.setattr(Session, "commit", failing_commit)
        with pytest.raises(Boom):
            add_checkin(session, ctx, person, (faces / "people/amy_adams/adams.jpg").read_bytes(), now=NOW)
        with pytest.raises(Boom):
            add_headshot(session, ctx, person, (faces / "people/rose_leslie/img1.jpg").read_bytes(),
                         platform="resume", now=NOW)
        monkeypatch.setattr(Session, "commit", real_commit)
        assert snapshot(home) == before
        # and afterwards the same photo goes in normally
        add_checkin(session, ctx, person, (faces / "people/amy_adams/adams.jpg").read_bytes(), now=NOW)
        assert len(snapshot(home)["rows"]["checkin"]) == 1


def _files_of(session: Session, person: Person) -> set[str]:
    """The blobs a person's rows say are stored: headshot originals and thumbnails, check-in
    thumbnails, and the check-in originals that were kept."""
    heads = session.exec(select(Headshot).where(Headshot.person_id == person.id)).all()
    checkins = session.exec(select(Checkin).where(Checkin.person_id == person.id)).all()
    return ({h.image_digest for h in heads} | {h.thumb_digest for h in heads}
            | {c.thumb_digest for c in checkins} | {c.image_digest for c in checkins if c.original_kept})


@pytest.mark.parametrize("other_keeps_originals", [True, False])
def test_it_deletes_kept_originals_but_not_another_persons_copy_of_the_same_bytes(
    home: Path, faces: Path, other_keeps_originals: bool
) -> None:
    keep = Settings(keep_selfie_originals=True)
    migrate.upgrade(keep)
    ctx = Context(keep)
    other_ctx = Context(Settings(keep_selfie_originals=other_keeps_originals))  # same home, same blob store
    headshot = (faces / "people/barack_obama/obama.jpg").read_bytes()
    shared = (faces / "people/barack_obama/obama2.jpg").read_bytes()  # both people check these bytes in
    own = (faces / "people/barack_obama/obama3.jpg").read_bytes()  # only the deleted person has these
    with Session(get_engine(keep), expire_on_commit=False) as session:
        gone, _ = add_person(session, "Barack Obama", consent=True, now=NOW)
        stays, _ = add_person(session, "Look-alike", consent=True, now=NOW)
        add_headshot(session, ctx, gone, headshot, platform="linkedin", now=NOW)
        add_checkin(session, ctx, gone, shared, now=NOW, taken_at=NOW - timedelta(days=2))
        add_checkin(session, ctx, gone, own, now=NOW, taken_at=NOW - timedelta(days=1))
        add_headshot(session, other_ctx, stays, headshot, platform="resume", now=NOW)  # the same original
        add_checkin(session, other_ctx, stays, shared, now=NOW)
        theirs, kept = _files_of(session, gone), _files_of(session, stays)
        stored_headshot = sha256_hex(strip_metadata(headshot))  # a headshot is kept without its metadata
        assert {sha256_hex(shared), sha256_hex(own), stored_headshot} <= theirs  # originals were kept
        assert (sha256_hex(shared) in kept) is other_keeps_originals
        assert ctx.blobs.digests() == theirs | kept  # every file is some row's, and every row's file exists

        counts = delete_person(session, gone, ctx.blobs)

        assert ctx.blobs.digests() == kept  # nothing of theirs is left, unless the other person's rows use it
        for c in session.exec(select(Checkin).where(Checkin.person_id == stays.id)).all():
            assert ctx.blobs.exists(c.thumb_digest) and (ctx.blobs.exists(c.image_digest) or not c.original_kept)
        for h in session.exec(select(Headshot).where(Headshot.person_id == stays.id)).all():
            assert ctx.blobs.exists(h.image_digest) and ctx.blobs.exists(h.thumb_digest)
        assert counts == {"headshots": 1, "checkins": 2, "files": len(theirs - kept)}


def test_it_names_the_earlier_check_in_of_a_duplicate_selfie(home: Path, faces: Path) -> None:
    settings = Settings()
    migrate.upgrade(settings)
    ctx = Context(settings)
    data = (faces / "people/barack_obama/obama2.jpg").read_bytes()
    with Session(get_engine(settings), expire_on_commit=False) as session:
        person, _ = add_person(session, "Obama", consent=True, now=NOW, timezone="Pacific/Auckland")
        add_checkin(session, ctx, person, (faces / "people/barack_obama/obama3.jpg").read_bytes(), now=NOW)
        # 23:30 UTC on 20 May is 11:30 on 21 May in Auckland: the person's day is the 21st
        first = add_checkin(session, ctx, person, data, now=NOW,
                            taken_at=datetime(2025, 5, 20, 23, 30, tzinfo=timezone.utc)).checkin
        assert first.id == 2
        before = snapshot(home)
        with pytest.raises(ImageRejected) as err:
            add_checkin(session, ctx, person, data, now=NOW + timedelta(days=3))
        assert err.value.code == "duplicate" and err.value.details == {"checkin_id": 2}
        assert str(err.value) == ("this exact photo was already checked in (check-in #2, taken 2025-05-21); "
                                  "take a new selfie")
        assert snapshot(home) == before


def test_it_refuses_a_duplicate_checked_in_meanwhile_by_the_unique_constraint(
    home: Path, faces: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes checked in by another request between the pre-check and the insert: the unique
    constraint refuses the second one, with a plainer message (it cannot name the earlier check-in)."""
    import freshness.checkins as checkins

    settings = Settings()
    migrate.upgrade(settings)
    ctx = Context(settings)
    engine = get_engine(settings)
    data = (faces / "people/barack_obama/obama2.jpg").read_bytes()
    real_check_identity = checkins.check_identity
    meanwhile: list[int] = []

    def check_identity_while_another_request_commits(session, ctx, person, embedding, taken_at):
        if not meanwhile:  # once: the other request runs its whole check-in now, after our pre-check
            meanwhile.append(0)
            with Session(engine, expire_on_commit=False) as other:
                meanwhile[0] = add_checkin(other, ctx, other.get(Person, person.id), data, now=NOW).checkin.id
        return real_check_identity(session, ctx, person, embedding, taken_at)

    with Session(engine, expire_on_commit=False) as session:
        person, _ = add_person(session, "Obama", consent=True, now=NOW)
        monkeypatch.setattr(checkins, "check_identity", check_identity_while_another_request_commits)
        with pytest.raises(ImageRejected) as err:
            add_checkin(session, ctx, person, data, now=NOW)
        assert err.value.code == "duplicate"
        assert str(err.value) == "this exact photo was already checked in; take a new selfie"
        state = snapshot(home)
        assert [row[0] for row in state["rows"]["checkin"]] == meanwhile  # only the other request's row
        assert ctx.blobs.digests() == _files_of(session, person)  # and its thumbnail, still there
