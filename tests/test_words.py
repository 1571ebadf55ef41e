"""The plain words every surface shows (pure: no database, no images)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from freshness import words
from freshness.likeness import Sample
from freshness.rules import KINDS, LIKENESS_STATES, HeadshotFacts, PersonFacts, Policy, evaluate


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.598, "0.59"),  # cut, not rounded: 0.60 would read as "diverged"
        (0.6, "0.60"),
        (0.35 + 0.12, "0.47"),  # 0.47000000000000003
        (0.6 - 0.03, "0.57"),  # 0.5699999999999999
        (0.0, "0.00"),
        (1.049, "1.04"),
    ],
)
def test_it_cuts_distances_to_two_decimals_without_crossing_a_band(value: float, shown: str) -> None:
    assert words.fmt_distance(value) == shown


def test_it_shows_a_distance_with_its_band() -> None:
    assert words.distance_text(0.5149, "weak") == "0.51, weak"
    assert words.distance_text(None, None) == "-"


@pytest.mark.parametrize(
    ("instant", "tz", "shown"),
    [
        ("2026-01-15T08:05:30.123456+00:00", "Europe/Paris", "2026-01-15 09:05 CET"),
        ("2026-07-15T08:05:59+00:00", "Europe/Paris", "2026-07-15 10:05 CEST"),
        (datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc), "Asia/Tokyo", "2026-01-16 08:30 JST"),
        ("2026-03-01T17:00:00+00:00", "America/New_York", "2026-03-01 12:00 EST"),
    ],
)
def test_it_shows_times_in_the_persons_zone_to_the_minute(instant, tz: str, shown: str) -> None:
    assert words.local_time(instant, tz) == shown


def test_it_shows_the_local_day_of_an_instant() -> None:
    assert words.local_date("2026-01-15T23:30:00+00:00", "Asia/Tokyo") == "2026-01-16"
    assert words.local_date("2026-01-15T03:30:00+00:00", "America/Los_Angeles") == "2026-01-14"
    assert words.local_date(date(2026, 1, 15), "Asia/Tokyo") == "2026-01-15"  # a date stays a date
    assert words.local_time(None, "UTC") == "never"


@pytest.mark.parametrize(
    ("state", "band", "expected"),
    [
        ("alike", "good", "Your LinkedIn headshot still looks like you (good)."),
        ("alike", "weak", "Your LinkedIn headshot still looks like you, but only just (weak)."),
        ("diverged", "diverged", "Your LinkedIn headshot no longer looks like you (diverged): refresh it."),
        ("never_alike", "diverged", "Your LinkedIn headshot has never looked like you (diverged): replace it"),
        ("unlike_so_far", "diverged", "Your LinkedIn headshot does not look like you so far (diverged): not confirmed"),
        ("alike_so_far", "strong", "Your LinkedIn headshot looks like you so far (strong), from 1 check-in."),
        ("no_checkins", None, "Your LinkedIn headshot has not been compared with a selfie yet"),
        ("drifting", "weak", "Your LinkedIn headshot is drifting away from how you look (weak): plan a refresh "
                             "before 2027-03-01."),
    ],
)
def test_it_gives_a_plain_verdict_for_every_likeness_state(state: str, band, expected: str) -> None:
    text = words.verdict("linkedin", state, band, points=1, projected_on=date(2027, 3, 1))
    assert text.startswith(expected), text


def test_it_has_words_for_every_state_and_refuses_unknown_ones() -> None:
    assert set(words.STATE_HEADLINES) == set(LIKENESS_STATES)
    for state in LIKENESS_STATES:
        assert words.verdict("resume", state, "good").startswith("Your résumé headshot ")
    with pytest.raises(ValueError, match="unknown likeness state 'shiny'"):
        words.verdict("linkedin", "shiny")
    assert words.headshot_name("myspace") == "myspace headshot"
    assert words.headshot_name("") == "published headshot"


def test_it_counts_more_check_ins_in_plain_words() -> None:
    two = words.verdict("x", "alike_so_far", "good", points=2, baseline_needed=1)
    assert two == "Your X headshot looks like you so far (good), from 2 check-ins; 1 more since it was published " \
                  "will confirm it."


def _every_kind() -> tuple[PersonFacts, list]:
    start = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    distances = [0.35, 0.36, 0.34] + [0.36 + 0.02 * i for i in range(12)]
    rising = HeadshotFacts(1, "linkedin", date(2023, 12, 1), True, False, None,
                           tuple(Sample(start + timedelta(days=30 * i), d, i + 1) for i, d in enumerate(distances)))
    unlike = HeadshotFacts(2, "website", date(2023, 12, 1), True, False, None,
                           tuple(Sample(start + timedelta(days=30 * i), 0.7, 100 + i) for i in range(3)))
    person = PersonFacts(1, "healthcare", "Pacific/Auckland", 14, start - timedelta(days=60))
    return person, [rising, unlike]


def test_it_renders_every_message_again_from_its_stored_details() -> None:
    person, heads = _every_kind()
    policy = Policy(drift_min_points=4, drift_min_span_days=60)
    kinds = set()
    for as_of in (datetime(2025, 2, 1, tzinfo=timezone.utc), datetime(2026, 1, 5, tzinfo=timezone.utc)):
        for r in evaluate(person, heads, policy, as_of):
            kinds.add(r.kind)
            # any surface (web page, e-mail) renders the very same sentence from the stored details
            assert words.reminder_message(r.kind, r.details, person.timezone) == r.message
            assert words.reminder_title(r.kind)
    assert kinds >= set(KINDS) - {"likeness_drifting"}
    with pytest.raises(ValueError, match="unknown reminder kind"):
        words.reminder_message("nope", {})
