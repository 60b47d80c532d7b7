"""The pages: log in, cases, search, candidates and their review, the audit log, and the
admin's users page.

Every form posts back with a CSRF token bound to the session; every face
image is embedded in the page it belongs to (a ``data:`` URL), so no URL
ever addresses biometric data and each view is exactly one audited read.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from retroface.errors import AuthorisationError, InvalidInputError, LockedOutError
from retroface.governance.roles import Action, Role, is_allowed
from retroface.services import App
from retroface.services.access.users import (
    change_role,
    deactivate_user,
    list_users,
    logout,
    principal_for_token,
    reactivate_user,
    reset_password,
    revoke_sessions,
)
from retroface.services.biometrics.face_views import candidate_faces
from retroface.services.biometrics.sealed_files import read_protected_file
from retroface.services.cases.manage import list_cases, show_case
from retroface.services.cases.report import case_report
from retroface.services.cases.review import record_review, review_queue, show_candidate
from retroface.services.galleries.manage import list_galleries
from retroface.services.live.deployments import (
    adjudicate_alert,
    list_live_deployments,
    live_review_queue,
    show_live_deployment,
)
from retroface.services.oversight.audit_log import list_audit_events, verify_audit
from retroface.services.results import CandidateReview
from retroface.serving.auth import SESSION_COOKIE, Browser, base_app, csrf_ok, csrf_token
from retroface.serving.bounds import RowId
from retroface.serving.jobs import JobRunner
from retroface.serving.login_throttle import throttled_login
from retroface.serving.search_jobs import start_search_job
from retroface.serving.uploads import upload_form
from retroface.web import login_form

STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)
SESSION_HOURS = 8


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    token = getattr(request.state, "session_token", None)
    return templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "csrf": csrf_token(token) if token else "", **context},
        status_code=status,
    )


def render_error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return _page(request, "error.html", status=status, title=title, message=message)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/ui/login", status_code=303)


def _check_csrf(request: Request, submitted: str | None) -> None:
    if not csrf_ok(getattr(request.state, "session_token", None), submitted):
        raise AuthorisationError("the form expired or did not come from this site: reload the page")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _login_page(request)


def _login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    """The log-in form with its pre-session anti-forgery token (web/login_form.py)."""
    nonce = login_form.form_nonce(request)
    response = _page(
        request,
        "login.html",
        status=status,
        error=error,
        login_token=login_form.form_token(request, nonce),
    )
    login_form.set_cookie(response, request, nonce)
    return response


@router.post("/login", response_model=None)
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    login_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    if not login_form.posted_form_ok(request, login_token):
        login_form.audit_refusal(request)
        return _login_page(
            request, 403, "the log-in form expired or did not come from this site: try again"
        )
    try:
        token, _ = throttled_login(
            request, base_app(request), username, password, hours=SESSION_HOURS
        )
    except LockedOutError as exc:
        return _login_page(request, 429, str(exc))
    except AuthorisationError as exc:
        return _login_page(request, 401, str(exc))
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", response_model=None)
def logout_submit(
    request: Request, application: Browser, csrf: Annotated[str | None, Form()] = None
) -> Response:
    token = getattr(request.state, "session_token", None)
    if token and csrf_ok(token, csrf):
        logout(application, token)
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_model=None)
def dashboard(request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login()
    cases = (
        list_cases(application)
        if is_allowed(application.principal.role, Action.CASE_READ)
        else None
    )
    live = (
        list_live_deployments(application)
        if is_allowed(application.principal.role, Action.LIVE_READ)
        else []
    )
    return _page(request, "dashboard.html", cases=cases, live=live)


@router.get("/cases/{reference}", response_model=None)
def case_page(reference: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login()
    case = show_case(application, reference)
    can_search = is_allowed(application.principal.role, Action.SEARCH_RUN)
    galleries = list_galleries(application) if can_search else []
    can_report = is_allowed(application.principal.role, Action.REPORT_CASE)
    return _page(
        request,
        "case.html",
        case=case,
        can_search=can_search,
        can_report=can_report,
        galleries=galleries,
    )


@router.post("/cases/{reference}/search", response_model=None)
async def search_submit(reference: str, request: Request, application: Browser) -> Response:
    """The form is read only once the session is known (serving/uploads.py)."""
    if application.principal is None:
        return _to_login()
    async with upload_form(request, _SearchForm) as (form, files):
        _check_csrf(request, form.csrf)
        runner: JobRunner = request.app.state.jobs
        job = await start_search_job(application, runner, reference, form.gallery, files)
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)


class _SearchForm(BaseModel):
    gallery: str = Field(min_length=1, max_length=200)
    csrf: str | None = Field(default=None, max_length=200)


@router.post("/cases/{reference}/report", response_model=None)
def report_submit(
    reference: str,
    request: Request,
    application: Browser,
    format: Annotated[str, Form()] = "pdf",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Write the case report and send it to the browser (PDF as a download, or HTML)."""
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    files = case_report(application, reference)
    home = application.settings.home
    if format == "html":
        html = read_protected_file(application.cipher, home, Path(files.html))
        return HTMLResponse(html.decode("utf-8"))
    name = Path(files.pdf).name
    return Response(
        read_protected_file(application.cipher, home, Path(files.pdf)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/jobs/{job_id}", response_model=None)
def job_page(job_id: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login()
    runner: JobRunner = request.app.state.jobs
    return _page(request, "job.html", job=runner.get(job_id, application.principal.username))


def _timeline(candidates: list[CandidateReview]) -> dict[str, list[dict[str, Any]]]:
    """Bars (percent of the longest time seen) of footage candidates per video file."""
    by_source: dict[str, list[CandidateReview]] = defaultdict(list)
    for c in candidates:
        if c.timestamp_s is not None:
            by_source[c.source.split("/")[-1]].append(c)
    bars: dict[str, list[dict[str, Any]]] = {}
    for source, found in by_source.items():
        end = max(c.timestamp_s or 0.0 for c in found) * 1.05 or 1.0
        bars[source] = [
            {
                "left": round(100 * (c.timestamp_s or 0.0) / end, 2),
                "width": 1.0,
                "label": f"{c.subject} at {c.timestamp_s:.1f} s (score {c.score:.3f})",
            }
            for c in found
        ]
    return bars


@router.get("/cases/{reference}/review", response_model=None)
def review_page(reference: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login()
    candidates = review_queue(application, case_reference=reference)
    return _page(
        request,
        "review_queue.html",
        reference=reference,
        candidates=candidates,
        timeline=_timeline(candidates),
    )


@router.get("/candidates/{candidate_id}", response_model=None)
def candidate_page(candidate_id: RowId, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login()
    candidate = show_candidate(application, candidate_id)
    faces = candidate_faces(application, candidate_id)
    return _page(
        request,
        "candidate.html",
        c=candidate,
        probe_b64=base64.b64encode(faces.probe_png).decode("ascii"),
        reference_b64=(
            base64.b64encode(faces.reference_png).decode("ascii") if faces.reference_png else None
        ),
        can_decide=is_allowed(application.principal.role, Action.REVIEW_DECIDE),
    )


@router.post("/candidates/{candidate_id}/review", response_model=None)
def review_submit(
    candidate_id: RowId,
    request: Request,
    application: Browser,
    outcome: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=2000)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    record_review(application, candidate_id, outcome, reason)
    return RedirectResponse(f"/ui/candidates/{candidate_id}", status_code=303)


@router.get("/live/{deployment}", response_model=None)
def live_queue_page(deployment: str, request: Request, application: Browser) -> Response:
    """The officers' queue of a live deployment's alerts: crop beside the watchlist photo."""
    if application.principal is None:
        return _to_login()
    return _page(
        request,
        "live_queue.html",
        deployment=show_live_deployment(application, deployment),
        items=live_review_queue(application, deployment),
        can_decide=is_allowed(application.principal.role, Action.LIVE_ADJUDICATE),
    )


@router.post("/live/alerts/{alert_id}/adjudication", response_model=None)
def live_adjudication_submit(
    alert_id: RowId,
    request: Request,
    application: Browser,
    deployment: Annotated[str, Form(max_length=64)],
    outcome: Annotated[str, Form()],
    engaged: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    adjudicate_alert(application, alert_id, engaged=engaged == "yes", outcome=outcome, note=note)
    return RedirectResponse(f"/ui/live/{quote(deployment, safe='')}", status_code=303)


@router.get("/audit", response_model=None)
def audit_page(request: Request, application: Browser, case: str | None = None) -> Response:
    if application.principal is None:
        return _to_login()
    events = list_audit_events(application, case_reference=case or None, limit=200)
    return _page(request, "audit.html", events=events, chain=verify_audit(application), case=case)


@router.get("/users", response_model=None)
def users_page(request: Request, application: Browser) -> Response:
    """The admin's accounts page: role, deactivation, password reset, ending sessions."""
    if application.principal is None:
        return _to_login()
    return _users(request, application)


def _users(request: Request, application: App, notice: str = "") -> Response:
    """The users page after a change, unless the change ended this session or its admin role
    (an admin's own account): then the log-in page or the start page."""
    token = getattr(request.state, "session_token", None)
    principal = principal_for_token(application, token) if token else None
    if principal is None:
        response = _to_login()
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    if application.principal is not None and principal.role is not application.principal.role:
        return RedirectResponse("/ui/", status_code=303)  # an admin changed their own role
    users = list_users(application)  # refused (and audited) for anyone but an admin
    roles = [r.value for r in Role]
    return _page(request, "users.html", users=users, roles=roles, notice=notice)


@router.post("/users/{username}/deactivate", response_model=None)
def user_deactivate_submit(
    username: str,
    request: Request,
    application: Browser,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    user = deactivate_user(application, username, reason)
    return _users(request, application, f"{user.username} is deactivated; their sessions ended")


@router.post("/users/{username}/reactivate", response_model=None)
def user_reactivate_submit(
    username: str,
    request: Request,
    application: Browser,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    user = reactivate_user(application, username)
    return _users(request, application, f"{user.username} may log in again")


@router.post("/users/{username}/role", response_model=None)
def user_role_submit(
    username: str,
    request: Request,
    application: Browser,
    role: Annotated[Role, Form()],
    trained_on: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    trained = _day(trained_on, "the reviewer training date")
    user = change_role(application, username, role, training_completed_on=trained)
    return _users(request, application, f"{user.username} is now {user.role}")


@router.post("/users/{username}/credential-reset", response_model=None)
def user_password_submit(
    username: str,
    request: Request,
    application: Browser,
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    user = reset_password(application, username, password)
    return _users(request, application, f"new password set for {user.username}; sessions ended")


@router.post("/users/{username}/revoke-sessions", response_model=None)
def user_revoke_submit(
    username: str,
    request: Request,
    application: Browser,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login()
    _check_csrf(request, csrf)
    done = revoke_sessions(application, username)
    notice = f"ended {done.sessions} session(s) and {done.api_keys} API key(s) of {done.username}"
    return _users(request, application, notice)


def _day(value: str, what: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInputError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from exc
