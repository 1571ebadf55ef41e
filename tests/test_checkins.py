"""Service-level guarantees of the check-in flow (real photos, real SQLite file)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session

from freshness import migrate
from freshness.checkins import add_checkin, add_headshot
from freshness.config import Settings
from freshness.context import Context
from freshness.db import get_engine
from freshness.people import add_person
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
