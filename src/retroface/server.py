"""The HTTP server: the REST API and the web UI over one deployment (the composition root).

``create_server`` opens the deployment once (database, models loaded on first
use) and every request acts on it as its authenticated principal. The
server's own OS user never acts: an unauthenticated request is "anonymous"
in the audit log.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from retroface import __version__, web
from retroface.api import ROUTERS
from retroface.errors import RetrofaceError
from retroface.governance.identity import Principal
from retroface.governance.roles import Action
from retroface.services import App, open_app
from retroface.services.oversight.audit_checkpoints import CheckpointSchedule
from retroface.serving import problems
from retroface.serving.auth import Acting, base_app, browser_app
from retroface.serving.http_guard import RequestGuard
from retroface.serving.jobs import JobRunner
from retroface.serving.login_throttle import AddressThrottle
from retroface.serving.uploads import MAX_FILES_PER_REQUEST
from retroface.settings import Settings

API_PREFIX = "/api/v1"
ANONYMOUS = "anonymous"
#: Any other request body (JSON, a plain form) is read into memory whole: kept small.
MAX_PLAIN_BODY_BYTES = 1024 * 1024

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
#: The UI's own styles and scripts (files served from /ui/static: never inline) and data:
#: URLs for face images.
UI_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
#: The interactive docs page (off unless ``api_docs``): Swagger UI at a pinned version from
#: its CDN; its one inline script runs by a per-response nonce, not 'unsafe-inline'.
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"
DOCS_CSP = (
    "default-src 'none'; connect-src 'self'; script-src 'nonce-{nonce}' " + SWAGGER_UI + "/; "
    "style-src 'unsafe-inline' " + SWAGGER_UI + "/; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def create_server(settings: Settings | None = None, application: App | None = None) -> FastAPI:
    """The REST API and the web UI over one deployment (``application`` lets tests share models)."""
    opened = application or open_app(settings or Settings.from_env())
    base = replace(opened, settings=opened.settings.with_(actor=ANONYMOUS), principal=None)
    jobs = JobRunner()
    # Signed audit checkpoints every checkpoint_interval_s, and one at shutdown (after the
    # last job's events); None where no checkpoint key is configured (the log says so).
    checkpoints = CheckpointSchedule.for_server(opened)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if checkpoints is not None:
            checkpoints.start()
        yield
        jobs.shutdown()
        if checkpoints is not None:
            checkpoints.stop()

    api = FastAPI(
        title="retroface",
        version=__version__,
        description=(
            "Accountable retrospective facial recognition. Every candidate is an "
            "investigative lead, not an identification. Errors are RFC 9457 problem documents."
        ),
        lifespan=lifespan,
        # Served below, to logged-in users only: the schema maps every operation.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    api.state.retroface = base
    api.state.jobs = jobs
    api.state.checkpoints = checkpoints
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

    @api.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi_schema(request: Request, application: Acting) -> JSONResponse:
        """The OpenAPI schema, for logged-in users (a bearer token, API key or UI session)."""
        _logged_in(request, application)
        return JSONResponse(api.openapi())

    if base.settings.api_docs:

        @api.get(f"{API_PREFIX}/docs", include_in_schema=False)
        def docs_page(request: Request, application: Acting) -> HTMLResponse:
            _logged_in(request, application)
            nonce = secrets.token_urlsafe(16)
            page = get_swagger_ui_html(
                openapi_url=f"{API_PREFIX}/openapi.json",
                title="retroface API",
                swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
                swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
                swagger_favicon_url="data:,",
            )
            html = bytes(page.body).decode("utf-8").replace("<script>", f'<script nonce="{nonce}">')
            return HTMLResponse(
                html, headers={"Content-Security-Policy": DOCS_CSP.format(nonce=nonce)}
            )

    for kind, handler in (
        (RetrofaceError, problems.retroface_error),
        (RequestValidationError, problems.validation_error),
        (StarletteHTTPException, problems.http_error),
        (Exception, problems.unexpected_error),
    ):
        api.add_exception_handler(kind, _for_pages_or_api(handler))
    api.add_middleware(
        RequestGuard,
        max_body_bytes=base.settings.max_file_bytes * MAX_FILES_PER_REQUEST,
        max_plain_body_bytes=MAX_PLAIN_BODY_BYTES,
        headers_for=_headers_for,
        error_response=_for_pages_or_api(problems.unexpected_error),
    )
    if base.settings.forwarded_allow_ips.strip():
        # Outermost, so the guard, the routes and the log-in throttle all see the client's
        # address, and only when the TCP peer is one of the configured proxies.
        api.add_middleware(ProxyHeadersMiddleware, trusted_hosts=base.settings.forwarded_allow_ips)

    return api


def _headers_for(path: str) -> dict[str, str]:
    """The security headers of a response to ``path``, each added unless the response set
    its own (only the docs page does: its CSP names its nonce)."""
    headers = dict(SECURITY_HEADERS)
    if path.startswith(UI_PREFIX):
        headers["Content-Security-Policy"] = UI_CSP
    return headers


def _logged_in(request: Request, application: App) -> Principal:
    """Refuse (401, audited) a caller with neither credentials nor a UI session."""
    if application.principal is None:
        application = browser_app(request, base_app(request))
    return application.require(Action.DEPLOYMENT_READ)


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
