"""Property-based fuzzing of the JSON API with schemathesis, against the app's own OpenAPI schema.

Every operation under /api/v1 gets generated requests, valid and invalid, sent in-process
(ASGI) as a seeded person with a real API token (the admin routes with the admin token):
no answer may be a server error, and every answer must match the schema (status code,
content type, body, headers); invalid requests must be refused with a 4xx.

The seeded person has a real headshot (with its thumbnail), three real check-ins, recorded
reminders, an e-mail channel and a delivery log, so reads have something to show.
Generated image uploads are random bytes, refused by the decoder at once, so the
analysis routes stay in (they cost no face analysis). Left out: ``DELETE /api/v1/me``,
whose one successful outcome deletes the seeded person (every later case would only see
401). Channel tests go to a fake transport: a generated webhook or Apprise URL is never
contacted. Generated ids that revoke the seeded token are undone before the next case.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from freshness.config import Settings, reset_settings_cache
from freshness.db import dispose_engines

pytestmark = pytest.mark.faces

ADMIN = "admin-token-for-the-fuzzer-0123456789"
OBAMA = "people/barack_obama"
# 29 operations x at most this many generated cases each: about 30 s on 2 cores
EXAMPLES = int(os.environ.get("FRESHNESS_FUZZ_EXAMPLES", "50"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]


class Seeded:
    def __init__(self, app, token: str, token_id: int, settings: Settings) -> None:
        self.app, self.token, self.token_id, self.settings = app, token, token_id, settings


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, faces: Path) -> Iterator[Seeded]:
    """One app on one data directory for the whole module, with a person who has some of everything."""
    from fastapi.testclient import TestClient

    from freshness import migrate
    from freshness.notify import transports
    from freshness.notify.fake import FakeTransport
    from freshness.web import create_app

    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("fuzz-home")
    mp.setenv("FRESHNESS_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("FRESHNESS_") and name not in ("FRESHNESS_HOME", "FRESHNESS_TEST_FACES"):
            mp.delenv(name)
    fake = FakeTransport()
    mp.setattr(transports.Transports, "__call__", lambda self, kind: fake)  # nothing leaves this machine
    reset_settings_cache()
    dispose_engines()
    settings = Settings(admin_token=ADMIN)
    migrate.upgrade(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        person = client.post("/api/v1/persons", json={"name": "Fuzz Person", "consent": True,
                                                      "sector": "finance", "email": "fuzz@example.org"},
                             headers=admin).json()
        h = {"Authorization": f"Bearer {person['token']}"}
        with open(faces / OBAMA / "obama.jpg", "rb") as fh:
            r = client.post("/api/v1/headshots", files={"image": ("obama.jpg", fh, "image/jpeg")},
                            data={"platform": "linkedin", "published": "2024-06-01"}, headers=h)
        assert r.status_code == 201, r.text
        for i, name in enumerate(("obama1.jpg", "obama2.jpg", "obama3.jpg")):
            with open(faces / OBAMA / name, "rb") as fh:
                r = client.post("/api/v1/checkins", files=[("images", (name, fh, "image/jpeg"))],
                                data={"taken_at": f"2026-0{i + 1}-15"}, headers=h)
            assert r.json()["accepted"] == 1, r.text
        assert client.get("/api/v1/reminders", headers=h).json()
        client.post("/api/v1/channels/1/test", headers=h)
        token_id = client.get("/api/v1/tokens", headers=h).json()[0]["id"]
    LATE.app = app
    yield Seeded(app, person["token"], token_id, settings)
    LATE.app = None
    mp.undo()
    dispose_engines()
    reset_settings_cache()


class LateApp:
    """The ASGI app schemathesis calls: the seeded app, once the module's fixture has made it.
    (The schema is read at import, from an app on an unused data directory: building an app
    touches no file, and the schema does not depend on the data. schemathesis's fixture-based
    loader does not run under this pytest.)"""

    app = None

    async def __call__(self, scope, receive, send) -> None:
        assert self.app is not None, "the seeded fixture has not run"
        await self.app(scope, receive, send)


def _schema_only_app():
    from freshness.web import create_app

    return create_app(Settings(home=Path("/nonexistent/freshness-fuzz-schema"), admin_token=ADMIN))


LATE = LateApp()
LATE.app = _schema_only_app()
schema = (schemathesis.openapi.from_asgi("/openapi.json", LATE)
          .include(path_regex="^/api/v1/")
          .exclude(method="DELETE", path="/api/v1/me"))
LATE.app = None


def _keep_the_token(seeded: Seeded) -> None:
    """A generated DELETE /tokens/{id} may have revoked the seeded token: give it back."""
    from sqlalchemy import update
    from sqlmodel import Session

    from freshness.db import get_engine
    from freshness.models import ApiToken

    with Session(get_engine(seeded.settings)) as s:
        s.execute(update(ApiToken).where(ApiToken.id == seeded.token_id).values(revoked_at=None))
        s.commit()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_request_within_its_schema(case, seeded: Seeded) -> None:
    _keep_the_token(seeded)
    if case.headers and "Authorization" in case.headers:  # generated: make it a real one
        token = ADMIN if case.path.startswith("/api/v1/persons") else seeded.token
        case.headers["Authorization"] = f"Bearer {token}"
    # (a case generated without it tests that the route refuses it: 401)
    checks = CHECKS
    if (case.method, case.path) in PER_IMAGE_ANSWERS:
        # a "file" part holding the digits of a generated integer is a file all the same; these routes
        # answer 200 with each image refused by the decoder, which is not accepting bad data
        checks = [c for c in CHECKS if c is not negative_data_rejection]
    response = case.call_and_validate(checks=checks)
    ANSWERS.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)


ANSWERS: dict[str, set[int]] = {}
PER_IMAGE_ANSWERS = {("POST", "/api/v1/checkins"), ("POST", "/api/v1/headshots/rank")}


def test_the_fuzzing_reached_the_routes_as_the_seeded_person() -> None:
    """Generated requests got past the token check on every route (not only 401s), and every
    read, and every write that the schema's examples make valid, answered 2xx at least once.
    (Random bytes are never a face, and random ids rarely the seeded ones: those routes are
    covered with real photos and ids by tests/test_api.py.)"""
    if not ANSWERS:
        pytest.skip("run with the fuzzing test above")
    operations = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())}
    answers = {op: sorted(ANSWERS.get(op, ())) for op in sorted(operations)}
    assert {op for op, codes in answers.items() if not set(codes) - {401}} == set(), answers
    succeeding = {op for op in operations if op.startswith("GET ")} | {
        "POST /api/v1/channels", "PATCH /api/v1/me", "POST /api/v1/tokens", "POST /api/v1/persons",
        "POST /api/v1/me/calendar", "DELETE /api/v1/me/calendar"}
    assert {op for op in succeeding if not any(200 <= c < 300 for c in answers[op])} == set(), answers
