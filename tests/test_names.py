"""People's names are compared as a person reads them; the database keeps them unique, and one
image is one active headshot, even when two requests arrive at the same moment."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session, select

from freshness import checkins
from freshness.context import get_context
from freshness.db import get_engine
from freshness.errors import ImageRejected, UsageError
from freshness.models import Headshot, Person
from freshness.names import clean_name, name_key
from freshness.people import add_person, resolve_person
from tests.clitools import run

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(("one", "other"), [
    ("Straße", "STRASSE"),
    ("Ada", "A\u200bda"),  # a zero-width space
    ("Ada Lovelace", "  ada   LOVELACE "),
    ("Jos\u00e9", "Jose\u0301"),  # NFC and NFD
    ("Ada", "\u200fAda"),  # a right-to-left mark
    ("Ｌｅｅ", "Lee"),  # full-width letters
])
def test_names_that_read_the_same_are_one_name(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


@pytest.mark.parametrize(("name", "problem"), [
    ("Ada\nLovelace", "control characters"),
    ("Ada\x1b[31m", "control characters"),
    ("Ada\tL", "control characters"),
    ("\u200b\u200b", "must not be empty"),
    ("   ", "must not be empty"),
    ("12345", "only digits"),
    ("x" * 201, "at most 200 characters, got 201"),
])
def test_a_name_that_cannot_be_a_persons_is_refused(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        clean_name(name)


def test_a_name_is_stored_clean() -> None:
    assert clean_name("  Ada \u200b Lovelace ") == "Ada Lovelace"
    assert clean_name("Jose\u0301") == "Jos\u00e9"
    assert len(clean_name("x" * 200)) == 200


def test_the_second_person_with_the_same_name_is_refused(session: Session) -> None:
    add_person(session, "Straße", consent=True, now=NOW)
    with pytest.raises(UsageError, match="a person named 'Straße' already exists"):
        add_person(session, "STRASSE", consent=True, now=NOW)
    assert resolve_person(session, "strasse").name == "Straße"
    assert resolve_person(session, "S\u200btraße").name == "Straße"


def test_the_database_refuses_a_twin_that_slipped_past_the_check(session: Session, settings) -> None:
    add_person(session, "Twin", consent=True, now=NOW)
    with Session(get_engine(settings)) as other:  # another process, whose check ran before Twin existed
        other.add(Person(name="TWIN", name_key=name_key("TWIN"), consent_version="v", consent_at=NOW,
                         created_at=NOW, policy_overrides={}))
        with pytest.raises(Exception, match="UNIQUE|unique"):
            other.commit()
    assert len(session.exec(select(Person)).all()) == 1


def test_a_cli_name_with_a_newline_is_refused(ready: Path) -> None:
    out = run("person", "add", "Ada\nLovelace", "--consent", code=2)
    assert "cannot contain control characters" in out.stderr


@pytest.mark.faces
def test_one_image_is_one_active_headshot_even_when_added_twice_at_once(session: Session, settings, faces: Path,
                                                                         monkeypatch) -> None:
    person, _ = add_person(session, "Ada", consent=True, now=NOW)
    data = (faces / "people/rose_leslie/img1.jpg").read_bytes()
    ctx = get_context(settings)
    real = checkins._analyze
    raced = []

    def analyse_while_another_request_registers_it(c, d, purpose):
        result = real(c, d, purpose)
        if not raced:  # the other request passed the same duplicate check and commits first
            raced.append(True)
            with Session(get_engine(settings), expire_on_commit=False) as other:
                checkins.add_headshot(other, ctx, other.get(Person, person.id), data, platform="linkedin",
                                      now=NOW, published_on=date(2026, 1, 1))
        return result

    monkeypatch.setattr(checkins, "_analyze", analyse_while_another_request_registers_it)
    with pytest.raises(ImageRejected) as err:
        checkins.add_headshot(session, ctx, person, data, platform="website", now=NOW, published_on=date(2026, 1, 1))
    assert err.value.code == "duplicate"
    rows = session.exec(select(Headshot)).all()
    assert [(h.platform, h.retired_at) for h in rows] == [("linkedin", None)]
    assert ctx.blobs.exists(rows[0].thumb_digest) and ctx.blobs.exists(rows[0].image_digest)
    # once retired, the same image may become a new headshot
    checkins.retire_headshot(session, rows[0].id, NOW)
    monkeypatch.setattr(checkins, "_analyze", real)
    again = checkins.add_headshot(session, ctx, person, data, platform="website", now=NOW,
                                  published_on=date(2026, 2, 1))
    assert again.headshot.active_key == f"{person.id}:{rows[0].image_digest}"


def test_people_are_listed_a_page_at_a_time_and_searched(session: Session, ready: Path) -> None:
    for name in ("Ada Lovelace", "Bob", "Straße Weg", "Ada King", "Cy_d"):
        add_person(session, name, consent=True, now=NOW)
    from freshness.people import list_people

    assert [p.name for p in list_people(session, limit=2)] == ["Ada Lovelace", "Bob"]
    assert [p.name for p in list_people(session, limit=2, after=2)] == ["Straße Weg", "Ada King"]
    assert [p.name for p in list_people(session, search="ADA")] == ["Ada Lovelace", "Ada King"]
    assert [p.name for p in list_people(session, search="strasse")] == ["Straße Weg"]
    assert [p.name for p in list_people(session, search="_")] == ["Cy_d"]  # no LIKE wildcards
    out = run("person", "list", "--limit", "2")
    assert [line.split()[0] for line in out.stdout.splitlines()[2:]] == ["1", "2"]
    assert "more: freshness person list --limit 2 --after 2" in out.stderr
    last = run("person", "list", "--limit", "2", "--after", "4")
    assert [line.split()[0] for line in last.stdout.splitlines()[2:]] == ["5"] and "more:" not in last.stderr
