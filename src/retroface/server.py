"""The HTTP server: the REST API and the web UI over one deployment (the composition root).

``create_server`` opens the deployment once (database, models loaded on first
use) and every request acts on it as its authenticated principal. The
server's own OS user never acts: an unauthenticated request is "anonymous"
in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from retroface import __version__, web
from retroface.api import ROUTERS
from retroface.errors import RetrofaceError
from retroface.services import App, open_app
from retroface.serving import problems
from retroface.serving.jobs import JobRunner
from retroface.serving.login_throttle import AddressThrottle
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
UI_PREFIX = "/ui"
#: The UI's own styles and data: URLs for face images; no scripts at all.
UI_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
#: The interactive docs page loads its script and styles from itself and inline.
DOCS_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"


def create_server(settings: Settings | None = None, application: App | None = None) -> FastAPI:
    """The REST API and the web UI over one deployment (``application`` lets tests share models)."""
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
    api.state.login_throttle = AddressThrottle(
        base.settings.login_max_failures_per_address, base.settings.login_lockout_s
    )
    for router in ROUTERS:
        api.include_router(router, prefix=API_PREFIX)
    api.include_router(web.router, prefix=UI_PREFIX)
    api.mount(f"{UI_PREFIX}/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    @api.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=303)

    for kind, handler in (
        (RetrofaceError, problems.retroface_error),
        (RequestValidationError, problems.validation_error),
        (StarletteHTTPException, problems.http_error),
        (Exception, problems.unexpected_error),
    ):
        api.add_exception_handler(kind, _for_pages_or_api(handler))
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
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path == f"{API_PREFIX}/docs":
            response.headers["Content-Security-Policy"] = DOCS_CSP
        elif request.url.path.startswith(UI_PREFIX):
            response.headers["Content-Security-Policy"] = UI_CSP
        return response

    return api


Handler = Callable[[Request, Exception], Response]


def _for_pages_or_api(handler: Handler) -> Handler:
    """Errors on UI pages become an HTML page with the same status and message; elsewhere
    the API's problem document."""

    def handle(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        if not request.url.path.startswith(UI_PREFIX):
            return response
        document = json.loads(bytes(response.body))
        return web.render_error(
            request,
            response.status_code,
            str(document.get("title", "Error")),
            str(document.get("detail") or document.get("title", "")),
        )

    return handle
