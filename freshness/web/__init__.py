"""The HTTP side. At this stage: /healthz and the OpenAPI docs (/docs, /openapi.json)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from freshness import __version__
from freshness.config import Settings, get_settings
from freshness.db import get_engine
from freshness.migrate import current_revision, head_revision


def _with_scheduler(settings: Settings):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        from freshness import scheduler

        running = await run_in_threadpool(scheduler.start, settings)
        try:
            yield
        finally:
            await run_in_threadpool(scheduler.stop, running)  # waits for a running job to finish

    return lifespan


def create_app(settings: Settings | None = None, *, scheduler: bool = False) -> FastAPI:
    """The app; with ``scheduler`` it also runs the job scheduler while it serves (started
    before the first request, stopped after the last one; see ``freshness.scheduler``)."""
    settings = settings or get_settings()
    from freshness.privacy import install_log_redaction

    install_log_redaction()  # no token in any log line (a sign-in link's path in the access log)
    app = FastAPI(
        title="freshness",
        version=__version__,
        description="Headshot freshness and likeness monitor.",
        lifespan=_with_scheduler(settings) if scheduler else None,
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

    app.state.settings = settings
    from freshness.web import errors

    errors.install(app)

    from freshness.web.calendar import calendar_router

    app.include_router(calendar_router(settings))

    from freshness.web import api, api_limits

    api.install(app)  # the JSON API under /api/v1 and the offline /docs
    # the upload limit, enforced while a request body streams in (413 before it is all read)
    app.add_middleware(api_limits.BodyLimitMiddleware, settings=settings)
    from freshness.web import pages

    pages.install(app)  # the web pages, /static, security headers on every response, HTML error pages
    return app
