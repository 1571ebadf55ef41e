"""The same CLI flow on PostgreSQL: the SQL must stay portable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from freshness.config import Settings, reset_settings_cache
from freshness.db import dispose_engines, get_engine
from tests.clitools import run, run_json

pytestmark = [pytest.mark.postgres, pytest.mark.faces]


@pytest.fixture
def pg_home(home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FRESHNESS_DATABASE_URL", postgres_url)
    reset_settings_cache()
    with get_engine(Settings()).begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    dispose_engines()
    yield home
    dispose_engines()


def test_it_runs_the_checkin_flow_on_postgresql(pg_home: Path, faces: Path) -> None:
    assert "upgraded from empty" in run("init").stdout
    person = run_json("person", "add", "Rose Leslie", "--consent", "--timezone", "Europe/London")
    run("checkin", person["id"], faces / "people/rose_leslie/img2.jpg", "--taken", "2025-01-05")
    head = run_json("headshot", "add", "Rose Leslie", faces / "people/rose_leslie/img1.jpg",
                    "--platform", "portfolio", "--published", "2025-01-01", "--not-ai")
    assert head["ai_generated"] is False and head["backfilled_checkins"] == 1
    out = run_json("checkin", person["id"], faces / "people/kit_harington/john1.jpeg",
                   faces / "edge/flower.jpg", "--taken", "2025-02-05T09:15", "--confirm-identity", code=3)
    assert [r["accepted"] for r in out["results"]] == [True, False]
    assert out["results"][0]["taken_at"] == "2025-02-05T09:15:00+00:00"
    assert out["results"][0]["distances"][0]["distance"] > 0.6  # someone else
    assert out["results"][0]["identity"]["confirmed"] is True  # accepted only on confirmation
    run("checkin", person["id"], faces / "people/kit_harington/john1.jpeg", code=3)  # duplicate

    status = run_json("status", person["id"], "--as-of", "2025-03-01")
    assert status["checkins"] == 2
    (h,) = status["headshots"]
    assert h["checkins"] == 2 and h["age_days"] == 59
    history = run_json("history", person["id"])
    distances = [r["distances"][0]["distance"] for r in history["rows"]]
    assert distances[0] < 0.6 < distances[1]
    run("person", "delete", person["id"], "--yes")
    assert run_json("person", "list") == []
