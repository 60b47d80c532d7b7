"""Errors as RFC 9457 problem documents (``application/problem+json``).

Only user-caused errors (``RetrofaceError``) and request validation errors
are rendered with their message; anything else is a bug and gets a bare 500
with no detail, so no internal state (or biometric data) leaks to a client.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retroface.errors import (
    AlreadyExistsError,
    AuthorisationError,
    BusyError,
    InvalidInputError,
    MediaError,
    MediaTooLargeError,
    NoFaceFoundError,
    NotFoundError,
    RetrofaceError,
)

log = logging.getLogger("retroface.server")

PROBLEM_TYPE = "application/problem+json"

#: Most specific first: the first class an error is an instance of decides.
STATUS_BY_ERROR: list[tuple[type[RetrofaceError], int, str]] = [
    (NotFoundError, 404, "not-found"),
    (AlreadyExistsError, 409, "conflict"),
    (AuthorisationError, 403, "forbidden"),
    (MediaTooLargeError, 413, "too-large"),
    (BusyError, 429, "too-many-requests"),
    (MediaError, 422, "unusable-media"),
    (NoFaceFoundError, 422, "no-face"),
    (InvalidInputError, 422, "invalid-input"),
    (RetrofaceError, 400, "bad-request"),
]


def problem(status: int, slug: str, title: str, detail: str | None = None) -> JSONResponse:
    body: dict[str, object] = {
        "type": f"urn:retroface:problem:{slug}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE)


def retroface_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RetrofaceError)
    for kind, status, slug in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            if status == 403 and getattr(request.state, "principal", None) is None:
                return problem(401, "unauthenticated", "Authentication required", str(exc))
            response = problem(status, slug, type(exc).__name__, str(exc))
            retry_after = getattr(exc, "retry_after_s", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return response
    raise AssertionError("RetrofaceError is the last entry")  # pragma: no cover


def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return problem(422, "invalid-input", "Invalid request", "; ".join(parts))


def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {401: "unauthenticated", 404: "not-found", 405: "method-not-allowed"}.get(
        exc.status_code, "http-error"
    )
    return problem(exc.status_code, slug, str(exc.detail))


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(500, "internal-error", "Internal server error")
