"""Who is calling: a session token (from ``POST /auth/login``), an API key, or a browser cookie.

Tokens and keys arrive as ``Authorization: Bearer <token>``; API keys may also
use ``X-API-Key``; the web UI keeps its session token in an HttpOnly,
SameSite=Strict cookie and proves each form came from its own page with a
CSRF token derived from that session (a cross-site page can neither read the
cookie nor compute the token). Credentials go in headers only, never in URLs (which end up
in logs). A request without credentials still reaches the service, which
refuses it and audits the refusal, so an anonymous probe of the API is on
the record too. A credential that is wrong or expired is refused here (401).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from retroface.governance.identity import Principal
from retroface.services import App
from retroface.services.access.api_keys import KEY_PREFIX, principal_for_api_key
from retroface.services.access.users import principal_for_token


def base_app(request: Request) -> App:
    application: App = request.app.state.retroface
    return application


def bearer_token(
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(401, "use 'Authorization: Bearer <token>'")
        return value.strip()
    return None


def principal_of(application: App, token: str) -> Principal | None:
    if token.startswith(KEY_PREFIX):
        return principal_for_api_key(application, token)
    return principal_for_token(application, token)


def acting_app(
    request: Request,
    application: Annotated[App, Depends(base_app)],
    token: Annotated[str | None, Depends(bearer_token)],
) -> App:
    """The deployment acting as the caller (or as nobody, for the services to refuse)."""
    principal = principal_of(application, token) if token else None
    if token and principal is None:
        raise HTTPException(401, "the session or API key is unknown, expired or revoked")
    request.state.principal = principal
    return application.acting_as(principal) if principal else application.acting_as_nobody()


Acting = Annotated[App, Depends(acting_app)]


SESSION_COOKIE = "rf_session"


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"retroface-csrf:" + session_token.encode("utf-8")).hexdigest()


def csrf_ok(session_token: str | None, submitted: str | None) -> bool:
    if not session_token or not submitted:
        return False
    return hmac.compare_digest(csrf_token(session_token), submitted)


def browser_app(request: Request, application: Annotated[App, Depends(base_app)]) -> App:
    """The deployment acting as the browser's logged-in user (or nobody: pages then ask to log in)."""
    token = request.cookies.get(SESSION_COOKIE)
    principal = principal_for_token(application, token) if token else None
    request.state.principal = principal
    request.state.session_token = token if principal else None
    return application.acting_as(principal) if principal else application.acting_as_nobody()


Browser = Annotated[App, Depends(browser_app)]
