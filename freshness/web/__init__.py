"""The HTTP side. At this stage: /healthz and the OpenAPI docs (/docs, /openapi.json)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from freshness import __version__
from freshness.config import Settings, get_settings
from freshness.db import get_engine
from freshness.migrate import current_revision, head_revision


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="freshness",
        version=__version__,
        description="Headshot freshness and likeness monitor.",
    )

    @app.get("/healthz", tags=["ops"], summary="Liveness and database check")
    def healthz() -> JSONResponse:
        try:
            with get_engine(settings).connect() as connection:
                connection.execute(text("SELECT 1"))
            revision, head = current_revision(settings), head_revision(settings)
        except Exception as exc:  # pragma: no cover - exercised by breaking the DB
            return JSONResponse({"status": "error", "database": f"unreachable: {exc.__class__.__name__}"}, 503)
        ok = revision == head
        return JSONResponse(
            {"status": "ok" if ok else "error", "version": __version__, "database": {"revision": revision, "head": head}},
            200 if ok else 503,
        )

    return app
