"""The FastAPI application: routers, problem documents, security headers, body limits.

``create_api`` opens the deployment once (database, models loaded on first
use) and every request acts on it as its authenticated principal. The
server's own OS user never acts: an unauthenticated request is "anonymous"
in the audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from retroface import __version__
from retroface.api import problems
from retroface.api.jobs import JobRunner
from retroface.api.routes_cases import router as cases_router
from retroface.api.routes_galleries import router as galleries_router
from retroface.api.routes_oversight import router as oversight_router
from retroface.api.routes_people import router as people_router
from retroface.errors import RetrofaceError
from retroface.services import App, open_app
from retroface.settings import Settings

API_PREFIX = "/api/v1"
ANONYMOUS = "anonymous"
#: Multipart overhead allowed on top of the per-file limit for a whole request.
MAX_FILES_PER_REQUEST = 50

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
#: The interactive docs page loads its script and styles from itself and inline.
DOCS_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"


def create_api(settings: Settings | None = None, application: App | None = None) -> FastAPI:
    """The REST API over one deployment (``application`` lets tests share loaded models)."""
    opened = application or open_app(settings or Settings.from_env())
    base = replace(opened, settings=opened.settings.with_(actor=ANONYMOUS), principal=None)
    jobs = JobRunner()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()

    api = FastAPI(
        title="retroface",
        version=__version__,
        description=(
            "Accountable retrospective facial recognition. Every candidate is an "
            "investigative lead, not an identification. Errors are RFC 9457 problem documents."
        ),
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    api.state.retroface = base
    api.state.jobs = jobs
    for router in (people_router, cases_router, galleries_router, oversight_router):
        api.include_router(router, prefix=API_PREFIX)
    api.add_exception_handler(RetrofaceError, problems.retroface_error)
    api.add_exception_handler(RequestValidationError, problems.validation_error)
    api.add_exception_handler(StarletteHTTPException, problems.http_error)
    api.add_exception_handler(Exception, problems.unexpected_error)
    max_request = base.settings.max_file_bytes * MAX_FILES_PER_REQUEST

    @api.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_request):
            response: Response = problems.problem(
                413, "too-large", "Request too large", f"the limit is {max_request} bytes"
            )
        else:
            response = await call_next(request)
        docs = request.url.path == f"{API_PREFIX}/docs"
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if docs:
            response.headers["Content-Security-Policy"] = DOCS_CSP
        return response

    return api
