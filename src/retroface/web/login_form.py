"""The log-in form's own anti-forgery token: no session exists yet to bind one to.

Login CSRF: a page on another site posts the log-in form with the attacker's
own name and password, and the victim's browser is then logged in as the
attacker (their searches and uploads land in the attacker's account). The
form therefore carries a pre-session token, a signed double submit: showing
the form sets a cookie with a random, timestamped nonce (HttpOnly,
SameSite=Strict, only sent to ``/ui/login``) and puts ``HMAC(key, nonce)`` in
a hidden field; a post is accepted only with both, matching, and under two
hours old. Another site can neither read the cookie nor compute the field,
and a cookie planted from a sibling domain is useless without the key (derived
from the installation key in the data directory, so every server process of
an installation accepts the forms of the others). A refused post is audited
as ``login.refused``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from fastapi import Request, Response

from retroface.services.biometrics.uploaded_files import derived_key
from retroface.serving.auth import base_app

COOKIE = "rf_login"
COOKIE_PATH = "/ui/login"
#: How long a shown log-in form may be posted.
MAX_AGE_S = 2 * 3600


def _key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "login_form_key", None)
    if key is None:
        key = derived_key(base_app(request).settings.home, "login-form-token")
        request.app.state.login_form_key = key
    return key


def _signature(request: Request, nonce: str) -> str:
    return hmac.new(_key(request), nonce.encode("ascii"), hashlib.sha256).hexdigest()


def _fresh(nonce: str) -> bool:
    issued, _, rest = nonce.partition(".")
    if len(nonce) > 100 or not nonce.isascii() or not issued.isdigit() or not rest:
        return False
    return 0 <= time.time() - int(issued) <= MAX_AGE_S


def form_nonce(request: Request) -> str:
    """The browser's nonce while still fresh (several tabs share one), else a new one."""
    nonce = request.cookies.get(COOKIE)
    if nonce is not None and _fresh(nonce):
        return nonce
    return f"{int(time.time())}.{secrets.token_urlsafe(18)}"


def form_token(request: Request, nonce: str) -> str:
    return _signature(request, nonce)


def set_cookie(response: Response, request: Request, nonce: str) -> None:
    response.set_cookie(
        COOKIE,
        nonce,
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=COOKIE_PATH,
    )


def posted_form_ok(request: Request, submitted: str | None) -> bool:
    """Whether a log-in post carries the token of a form this installation showed."""
    nonce = request.cookies.get(COOKIE)
    if not submitted or nonce is None or not _fresh(nonce):
        return False
    return hmac.compare_digest(_signature(request, nonce), submitted)


def audit_refusal(request: Request) -> None:
    """``login.refused``: a log-in post without a valid form token (no name or password is
    recorded: the post may be anyone's)."""
    application = base_app(request)
    with application.unit_of_work() as uow:
        application.audit(
            uow,
            action="login.refused",
            object_type="login-form",
            object_id="csrf",
            reason="no valid log-in form token: a post from another site, or an expired form",
        )
        uow.commit()
