"""Errors as JSON ``{code, message, details?}`` with the same codes as the CLI's JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from freshness.errors import FreshnessError

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid_request", 429: "too_many_requests"}


def error_body(code: str, message: str, details: dict | list | None = None) -> dict:
    return {"code": code, "message": message, **({"details": details} if details else {})}


def install(app: FastAPI) -> None:
    @app.exception_handler(FreshnessError)
    async def freshness_error(request: Request, exc: FreshnessError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(exc.as_dict(), exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems) or "the request is not valid"
        return JSONResponse(error_body("invalid_request", message, {"problems": problems}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), exc.status_code, headers=getattr(exc, "headers", None))
