"""The pages: log in, cases, search, candidates and their review, the audit log, and the
admin's users page.

Every form posts back with a CSRF token bound to the session; every face
image is embedded in the page it belongs to (a ``data:`` URL), so no URL
ever addresses biometric data and each view is exactly one audited read.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path, PurePath
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import BaseModel, Field

from retroface.errors import AuthorisationError, InvalidInputError, LockedOutError
from retroface.faces.face_choice import FaceChoice, face_choice_from
from retroface.governance.probe_sources import SOURCE_TYPES
from retroface.governance.review_policy import COMPARISON_FEATURES, FEATURE_FINDINGS
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
from retroface.services.biometrics.sealed_files import read_protected_file
from retroface.services.cases.manage import list_cases, show_case
from retroface.services.cases.report import case_report
from retroface.services.cases.review import (
    AWAITING_YOU,
    record_review,
    review_queue,
    show_candidate,
)
from retroface.services.cases.workbench import (
    QUEUE_STATUSES,
    candidate_comparison,
    case_searches,
    next_pending,
    review_work,
    search_results,
)
from retroface.services.galleries.manage import list_galleries
from retroface.services.live.deployments import (
    adjudicate_alert,
    list_live_deployments,
    live_review_queue,
    show_live_deployment,
)
from retroface.services.oversight.audit_log import (
    AuditFilter,
    audit_actions,
    export_audit_csv,
    search_audit_events,
    verify_audit,
)
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
HOME = "/ui/"
LOGIN = "/ui/login"
#: The longest page address a log-in carries back (a longer one is dropped, not cut).
MAX_NEXT = 1000

#: An uploaded file is stored as NNN-<its name made safe> (serving/uploads.py::safe_name).
_STORED_UPLOAD = re.compile(r"^\d{3}-")

#: A review standing → the words on its badge (its CSS class is ``badge-<standing>``).
STANDINGS = {
    "possible-match": "possible match",
    "no-match": "no match",
    "confirmed": "confirmed",
    "disputed": "disputed",
    "inconclusive": "inconclusive",
    "unreviewed": "unreviewed",
    AWAITING_YOU: AWAITING_YOU,
    # A supervisor's resolution of a dispute (governance/review_policy.py::RESOLVED_STATUSES).
    "possible-match-by-supervisor": "possible match (supervisor alone)",
    "rejected-by-supervisor": "rejected by supervisor",
    "inconclusive-by-supervisor": "inconclusive (supervisor)",
}


def standing_kind(standing: str) -> str:
    """The CSS class suffix of a standing: itself, ``awaiting`` or ``other``."""
    if standing == AWAITING_YOU:
        return "awaiting"
    return standing if standing in STANDINGS else "other"


def standing_badge(standing: str) -> Markup:
    """A candidate's standing or a review's outcome as a badge: its words, in a colour per
    standing (``badge-possible-match``, ``badge-no-match``, ...). The words carry the meaning;
    the colour only helps the eye."""
    words = STANDINGS.get(standing, standing)
    return Markup('<span class="badge badge-{}">{}</span>').format(
        standing_kind(standing), escape(words)
    )


def evidence_name(source: str) -> str:
    """An evidence file as its owner knows it: an upload (the services show it by its stored
    name alone) without the number it was stored under; a file a user named by its path, by
    that file's name."""
    if "/" not in source:
        return _STORED_UPLOAD.sub("", source) or source
    return source.rsplit("/", 1)[-1]


def data_url(image: bytes | None, media_type: str = "image/jpeg") -> str:
    """An image embedded in its page (no URL ever addresses biometric data)."""
    return f"data:{media_type};base64," + base64.b64encode(image or b"").decode("ascii")


#: How far below a search's bar its score bars start: scores of a gallery's nearest people
#: crowd near the bar, and a scale from 0 would draw them all the same length.
SCORE_SCALE_BELOW_BAR = 0.15


@dataclass(frozen=True)
class ScoreScale:
    """A score bar's scale: from ``low`` (below the bar) to 1, in percent of the bar's
    width (SVG attributes: no inline style)."""

    low: float

    def percent(self, score: float) -> str:
        share = (score - self.low) / (1.0 - self.low)
        return f"{100 * min(max(share, 0.0), 1.0):.1f}"


def score_scale(bar: float) -> ScoreScale:
    return ScoreScale(round(max(min(bar, 1.0) - SCORE_SCALE_BELOW_BAR, 0.0), 2))


templates.env.filters["badge"] = standing_badge
templates.env.filters["score_scale"] = score_scale
templates.env.filters["evidence_name"] = evidence_name
templates.env.filters["data_url"] = data_url


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    token = getattr(request.state, "session_token", None)
    return templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "csrf": csrf_token(token) if token else "", **context},
        status_code=status,
    )


#: Titles of error pages by status, where the error only named its class.
ERROR_TITLES = {
    400: "The request cannot be done",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "The input cannot be used",
    429: "Too many requests",
    500: "Something went wrong on the server",
}


def render_error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """An error as a page: a plain title, and the message with no path of the server's data
    directory in it (an upload is named as its uploader named it)."""
    home = _data_directory(request)
    if home is not None:
        message = without_server_paths(message, home)
        title = without_server_paths(title, home)
    if re.fullmatch(r"[A-Z][A-Za-z]*Error", title):
        title = ERROR_TITLES.get(status, "Error")
    return _page(request, "error.html", status=status, title=title, message=message)


def _data_directory(request: Request) -> Path | None:
    application = getattr(request.app.state, "retroface", None)
    return application.settings.home if isinstance(application, App) else None


_UPLOAD_FOLDERS = (("uploads",), ("tmp", "plaintext"))


def without_server_paths(text: str, home: Path) -> str:
    """``text`` with every path inside the data directory ``home`` replaced by the file's
    name: for an upload (or a plaintext copy of one being read), the name its uploader gave
    (less the number it was stored under). How the server lays out its folders is no
    business of the reader's, and an upload's folder names the case."""
    roots = sorted({str(home).rstrip("/"), str(home.resolve()).rstrip("/")}, key=len, reverse=True)
    for root in roots:
        if not root:
            continue
        pattern = re.compile(re.escape(root) + r"(?:/[^\s'\"<>:,;()]*)?")
        text = pattern.sub(partial(_shown_match, root=root), text)
    return text


def _shown_match(match: re.Match[str], root: str) -> str:
    return _shown_name(match.group(0), root)


def _shown_name(path: str, root: str) -> str:
    relative = PurePath(path).relative_to(root).parts if path != root else ()
    if not relative:
        return "the data directory"
    name = relative[-1]
    if any(relative[: len(folder)] == folder for folder in _UPLOAD_FOLDERS):
        name = _STORED_UPLOAD.sub("", name) or name
    return name


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a page of this UI to go back to after logging in: a path on this
    site under /ui/ (never a URL of another site, ``//host``, a backslash trick or a control
    character: no open redirect); otherwise None."""
    if not value or len(value) > MAX_NEXT or not value.isascii():
        return None
    if any(ord(c) < 33 or ord(c) == 127 or c == "\\" for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//") or not value.startswith(HOME):
        return None
    segments = parts.path.split("/")
    if any(s in (".", "..") or s.lower() in ("%2e", "%2e%2e", ".%2e", "%2e.") for s in segments):
        return None
    if parts.path in (LOGIN, "/ui/logout") or parts.path.startswith("/ui/static/"):
        return None
    return value


def _to_login(request: Request | None = None) -> RedirectResponse:
    """The log-in page; from a page asked for (GET), carrying it to come back to after."""
    target = LOGIN
    if request is not None and request.method == "GET":
        wanted = quote(request.url.path, safe="/%:@-._~!$&'()*+,;=")
        if request.url.query:
            wanted += "?" + request.url.query
        if wanted != HOME and safe_next(wanted):
            target += "?" + urlencode({"next": wanted})
    return RedirectResponse(target, status_code=303)


def _check_csrf(request: Request, submitted: str | None) -> None:
    if not csrf_ok(getattr(request.state, "session_token", None), submitted):
        raise AuthorisationError("the form expired or did not come from this site: reload the page")


NextPage = Annotated[str | None, Query(alias="next", max_length=8 * MAX_NEXT)]


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next_page: NextPage = None) -> HTMLResponse:
    return _login_page(request, next_page=safe_next(next_page))


def _login_page(
    request: Request, status: int = 200, error: str | None = None, next_page: str | None = None
) -> HTMLResponse:
    """The log-in form with its pre-session anti-forgery token (web/login_form.py) and the
    page to go to once logged in."""
    nonce = login_form.form_nonce(request)
    response = _page(
        request,
        "login.html",
        status=status,
        error=error,
        login_token=login_form.form_token(request, nonce),
        next_page=next_page,
    )
    login_form.set_cookie(response, request, nonce)
    return response


@router.post("/login", response_model=None)
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    login_token: Annotated[str | None, Form(max_length=200)] = None,
    next_page: Annotated[str | None, Form(alias="next", max_length=8 * MAX_NEXT)] = None,
) -> Response:
    """Log in, then go to the page asked for before (only a page of this UI), else the
    cases."""
    back = safe_next(next_page)
    if not login_form.posted_form_ok(request, login_token):
        login_form.audit_refusal(request)
        return _login_page(
            request,
            403,
            "the log-in form expired or did not come from this site: try again",
            back,
        )
    try:
        token, _ = throttled_login(
            request, base_app(request), username, password, hours=SESSION_HOURS
        )
    except LockedOutError as exc:
        return _login_page(request, 429, str(exc), back)
    except AuthorisationError as exc:
        return _login_page(request, 401, str(exc), back)
    response = RedirectResponse(back or HOME, status_code=303)
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
        return _to_login(request)
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
        return _to_login(request)
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
        searches=case_searches(application, reference),
        source_types=SOURCE_TYPES,
    )


@router.post("/cases/{reference}/search", response_model=None)
async def search_submit(reference: str, request: Request, application: Browser) -> Response:
    """The form is read only once the session is known (serving/uploads.py)."""
    if application.principal is None:
        return _to_login(request)
    async with upload_form(request, _SearchForm) as (form, files):
        _check_csrf(request, form.csrf)
        runner: JobRunner = request.app.state.jobs
        job = await start_search_job(
            application,
            runner,
            reference,
            form.gallery,
            files,
            source_type=form.source_type,
            supplied_by=form.supplied_by,
            one_person=form.one_person == "yes",
            face_choice=form.face_choice(),
        )
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)


class _SearchForm(BaseModel):
    gallery: str = Field(min_length=1, max_length=200)
    csrf: str | None = Field(default=None, max_length=200)
    #: Where the evidence came from and who supplied it (governance/probe_sources.py):
    #: checked by the search gate, which names the choices when one is missing.
    source_type: str | None = Field(default=None, max_length=64)
    supplied_by: str | None = Field(default=None, max_length=200)
    one_person: str | None = Field(default=None, max_length=8)
    #: Which face of the one image to search: its number in the listing (the page's face
    #: picker fills it in, or a person types it), or a face the detector missed, marked by
    #: hand: its box ``x,y,w,h`` and eye centres ``x1,y1,x2,y2`` (faces/face_choice.py).
    face: str | None = Field(default=None, max_length=8)
    mark: str | None = Field(default=None, max_length=100)
    eyes: str | None = Field(default=None, max_length=100)

    def face_choice(self) -> FaceChoice | None:
        """The choice made on the form, or None when nothing was chosen (a photo with one
        face, or footage)."""
        face, mark, eyes = (v.strip() if v else "" for v in (self.face, self.mark, self.eyes))
        if not (face or mark or eyes):
            return None
        if face and not face.isdigit():
            raise InvalidInputError(f"the face number must be a whole number, got {face!r}")
        return face_choice_from(
            face=int(face) if face else None, mark=mark or None, eyes=eyes or None
        )


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
        return _to_login(request)
    _check_csrf(request, csrf)
    files = case_report(application, reference)
    home = application.settings.home
    if format == "html":
        html = read_protected_file(application.cipher, home, Path(files.html)).decode("utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": report_csp(html)})
    name = Path(files.pdf).name
    return Response(
        read_protected_file(application.cipher, home, Path(files.pdf)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def report_csp(html: str) -> str:
    """The case report's own policy: a stand-alone document whose style sheet is inside it,
    allowed by its hash (never 'unsafe-inline'); face images as data: URLs; nothing else.
    Only style sheets in the document's head are hashed: the body holds the case's text."""
    head = html.split("</head>", 1)[0] if "</head>" in html else ""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode() + "'"
        for css in _STYLE_ELEMENT.findall(head)
    ]
    styles = " ".join(hashes) or "'none'"
    return (
        f"default-src 'none'; style-src {styles}; img-src data:; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )


@router.get("/jobs/{job_id}", response_model=None)
def job_page(job_id: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login(request)
    runner: JobRunner = request.app.state.jobs
    return _page(request, "job.html", job=runner.get(job_id, application.principal.username))


@router.get("/searches/{search_id}", response_model=None)
def search_results_page(search_id: str, request: Request, application: Browser) -> Response:
    """One search's faces and candidates: what its operator (and the case's team) sees."""
    if application.principal is None:
        return _to_login(request)
    return _page(
        request,
        "search_results.html",
        results=search_results(application, search_id[:64]),
        can_decide=is_allowed(application.principal.role, Action.REVIEW_DECIDE),
    )


QueueFilter = Annotated[str, Query(max_length=200)]


@router.get("/queue", response_model=None)
def queue_page(
    request: Request,
    application: Browser,
    case: QueueFilter = "",
    search: QueueFilter = "",
    status: QueueFilter = "pending",
    recorded: Annotated[RowId | None, Query()] = None,
) -> Response:
    """The candidates awaiting a decision, oldest first, with filters by case, search and
    status; after the last decision, the confirmation and an empty queue."""
    if application.principal is None:
        return _to_login(request)
    work = review_work(
        application,
        case_reference=case.strip() or None,
        search_id=search.strip() or None,
        status=status.strip() or "pending",
    )
    carry = urlencode({k: v for k, v in (("case", work.case), ("search", work.search_id)) if v})
    return _page(
        request, "queue.html", work=work, statuses=QUEUE_STATUSES, recorded=recorded, carry=carry
    )


@router.get("/queue/next", response_model=None)
def queue_next(
    request: Request,
    application: Browser,
    case: QueueFilter = "",
    search: QueueFilter = "",
    recorded: Annotated[RowId | None, Query()] = None,
) -> Response:
    """The oldest candidate still awaiting the person's decision (under the queue's filters),
    carrying the confirmation of the decision just recorded; the queue when none is left."""
    if application.principal is None:
        return _to_login(request)
    filters = {k: v.strip() for k, v in (("case", case), ("search", search)) if v.strip()}
    found = next_pending(
        application, case_reference=filters.get("case"), search_id=filters.get("search")
    )
    query = urlencode({**filters, **({"recorded": recorded} if recorded else {})})
    target = f"/ui/candidates/{found}" if found is not None else "/ui/queue"
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=303)


#: A footage marker's width, in percent of the clip.
MARKER_WIDTH = 0.8
#: Scale marks along a timeline, in percent of the clip.
SCALE_MARKS = (0, 25, 50, 75, 100)


@dataclass
class Marker:
    candidate_id: int
    #: Left edge and width, in percent of the clip (SVG attributes: no inline style).
    x: float
    width: float
    standing: str
    label: str


@dataclass
class Timeline:
    """One video file's candidates along the clip, to the scale of its real duration."""

    source: str
    duration_s: float
    #: The duration is the file's own; else (not recorded) the last candidate's time.
    duration_known: bool
    markers: list[Marker] = field(default_factory=list)

    def scale(self) -> list[tuple[float, str, str]]:
        """(percent, seconds shown, text anchor) of each scale mark."""
        anchors = {0: "start", 100: "end"}
        return [
            (p, f"{self.duration_s * p / 100:.1f} s", anchors.get(p, "middle")) for p in SCALE_MARKS
        ]


def _timelines(candidates: list[CandidateReview], durations: dict[str, float]) -> list[Timeline]:
    """Footage candidates per video file, each placed at its time on the clip's real
    duration (``durations``: by the file's SHA-256)."""
    by_file: dict[str, list[CandidateReview]] = defaultdict(list)
    for c in candidates:
        if c.timestamp_s is not None:
            by_file[c.sha256].append(c)
    timelines = []
    for sha256, found in by_file.items():
        last_seen = max(c.timestamp_s or 0.0 for c in found)
        recorded = durations.get(sha256)
        if recorded is not None and recorded > 0 and recorded >= last_seen:
            timeline = Timeline(evidence_name(found[0].source), recorded, True)
        else:  # no length recorded (or a wrong one): the scale ends at the last candidate
            timeline = Timeline(evidence_name(found[0].source), max(last_seen, 0.1), False)
        duration = timeline.duration_s
        for c in sorted(found, key=lambda c: (c.timestamp_s or 0.0, c.rank)):
            when = c.timestamp_s or 0.0
            centre = 100 * when / duration
            x = min(max(centre - MARKER_WIDTH / 2, 0.0), 100 - MARKER_WIDTH)
            timeline.markers.append(
                Marker(
                    candidate_id=c.candidate_id,
                    x=round(x, 3),
                    width=MARKER_WIDTH,
                    standing=standing_kind(c.status),
                    label=f"#{c.candidate_id} {c.subject} at {when:.1f} s "
                    f"(score {c.score:.3f}, {STANDINGS.get(c.status, c.status)})",
                )
            )
        timelines.append(timeline)
    return timelines


@router.get("/cases/{reference}/review", response_model=None)
def review_page(reference: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login(request)
    candidates = review_queue(application, case_reference=reference)
    return _page(
        request,
        "review_queue.html",
        reference=reference,
        candidates=candidates,
        timelines=_timelines(
            candidates,
            {
                c.sha256: c.duration_s
                for c in candidates
                if c.timestamp_s is not None and c.duration_s
            },
        ),
    )


@router.get("/candidates/{candidate_id}", response_model=None)
def candidate_page(
    candidate_id: RowId,
    request: Request,
    application: Browser,
    case: QueueFilter = "",
    search: QueueFilter = "",
    recorded: Annotated[RowId | None, Query()] = None,
) -> Response:
    """The comparison view (web/static/compare.js adds zoom, pan and overlay; the page works
    without it) and, for a reviewer, the decision form with the structured notes. ``case``
    and ``search``: the queue's filters, kept for "next"; ``recorded``: the candidate whose
    decision was just recorded."""
    if application.principal is None:
        return _to_login(request)
    candidate = show_candidate(application, candidate_id)
    return _page(
        request,
        "candidate.html",
        c=candidate,
        views=candidate_comparison(application, candidate_id),
        can_decide=is_allowed(application.principal.role, Action.REVIEW_DECIDE),
        features=COMPARISON_FEATURES,
        findings=FEATURE_FINDINGS,
        queue={k: v.strip() for k, v in (("case", case), ("search", search)) if v.strip()},
        recorded=recorded,
    )


#: The form's notes: one radio group per feature, named ``note-<feature>``.
NOTE_FIELD = "note-"


async def review_notes(request: Request) -> dict[str, str]:
    """The comparison notes of the review form (feature → finding); the service checks the
    words, so a forged field is refused with the list of features, not stored."""
    form = await request.form()
    notes = {
        key.removeprefix(NOTE_FIELD)[:100]: value[:100]
        for key, value in form.multi_items()
        if key.startswith(NOTE_FIELD) and isinstance(value, str) and value
    }
    if len(notes) > 2 * len(COMPARISON_FEATURES):
        raise InvalidInputError("too many comparison notes in the form")
    return notes


@router.post("/candidates/{candidate_id}/review", response_model=None)
def review_submit(
    candidate_id: RowId,
    request: Request,
    application: Browser,
    outcome: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=2000)],
    notes: Annotated[dict[str, str], Depends(review_notes)],
    case: Annotated[str, Form(max_length=200)] = "",
    search: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Record the decision with its notes, then go on to the next candidate awaiting one."""
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    record_review(application, candidate_id, outcome, reason, notes)
    filters = {k: v.strip() for k, v in (("case", case), ("search", search)) if v.strip()}
    query = urlencode({**filters, "recorded": candidate_id})
    return RedirectResponse(f"/ui/queue/next?{query}", status_code=303)


@router.get("/live/{deployment}", response_model=None)
def live_queue_page(deployment: str, request: Request, application: Browser) -> Response:
    """The officers' queue of a live deployment's alerts: crop beside the watchlist photo."""
    if application.principal is None:
        return _to_login(request)
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
        return _to_login(request)
    _check_csrf(request, csrf)
    adjudicate_alert(application, alert_id, engaged=engaged == "yes", outcome=outcome, note=note)
    return RedirectResponse(f"/ui/live/{quote(deployment, safe='')}", status_code=303)


#: Rows per page of the audit log the auditor may choose; the first is the default.
AUDIT_PAGE_SIZES = (50, 25, 100, 200)


@dataclass
class AuditSearch:
    """The audit page's search as typed: filters, page, and the same as a query string."""

    user: str = ""
    action: str = ""
    case: str = ""
    start: str = ""
    end: str = ""
    size: int = AUDIT_PAGE_SIZES[0]

    @classmethod
    def parse(
        cls, user: str, action: str, case: str, start: str, end: str, size: int | None
    ) -> AuditSearch:
        return cls(
            user=user.strip(),
            action=action.strip(),
            case=case.strip(),
            start=start.strip(),
            end=end.strip(),
            size=size if size in AUDIT_PAGE_SIZES else AUDIT_PAGE_SIZES[0],
        )

    def filter(self) -> AuditFilter:
        """The service's filter: whole UTC days from the start date to the end date."""
        first, last = _day(self.start, "the start date"), _day(self.end, "the end date")
        if first is not None and last is not None and last < first:
            raise InvalidInputError("the end date is before the start date")
        return AuditFilter(
            case_reference=self.case or None,
            action=self.action or None,
            actor=self.user or None,
            since=datetime.combine(first, time(), UTC) if first else None,
            until=datetime.combine(last + timedelta(days=1), time(), UTC) if last else None,
        )

    def fields(self) -> dict[str, str]:
        """The filters set, as the page's query parameters (no paging)."""
        values = {
            "user": self.user,
            "action": self.action,
            "case": self.case,
            "from": self.start,
            "to": self.end,
        }
        if self.size != AUDIT_PAGE_SIZES[0]:
            values["size"] = str(self.size)
        return {k: v for k, v in values.items() if v}

    def link(self, **paging: int) -> str:
        """This search's page (the newest, or one ``before``/``after`` an event id)."""
        query = urlencode({**self.fields(), **{k: str(v) for k, v in paging.items()}})
        return f"/ui/audit?{query}" if query else "/ui/audit"


AuditText = Annotated[str, Query(max_length=200)]
AuditDate = Annotated[str, Query(max_length=10)]


@router.get("/audit", response_model=None)
def audit_page(
    request: Request,
    application: Browser,
    user: AuditText = "",
    action: AuditText = "",
    case: AuditText = "",
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
    size: Annotated[int | None, Query(ge=1, le=1000)] = None,
    before: Annotated[RowId | None, Query()] = None,
    after: Annotated[RowId | None, Query()] = None,
) -> Response:
    """The auditor's search of the log: by user, action, case and dates, a page at a time
    (newest first), the matching rows as CSV, and the chain with its last checkpoint."""
    if application.principal is None:
        return _to_login(request)
    search = AuditSearch.parse(user, action, case, start, end, size)
    page = search_audit_events(
        application, search.filter(), before_id=before, after_id=after, limit=search.size
    )
    return _page(
        request,
        "audit.html",
        search=search,
        page=page,
        chain=verify_audit(application),
        actions=audit_actions(application),
        sizes=sorted(AUDIT_PAGE_SIZES),
        paged=before is not None or after is not None,
    )


@router.post("/audit/export", response_model=None)
def audit_export_submit(
    request: Request,
    application: Browser,
    user: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=200)] = "",
    case: Annotated[str, Form(max_length=200)] = "",
    start: Annotated[str, Form(alias="from", max_length=10)] = "",
    end: Annotated[str, Form(alias="to", max_length=10)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Every event the search finds, as a CSV download (the export is audited)."""
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    search = AuditSearch.parse(user, action, case, start, end, None)
    exported = export_audit_csv(application, search.filter())
    stamp = application.now().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        exported.text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-events-{stamp}.csv"',
            "X-Events": str(exported.events),
        },
    )


@router.get("/users", response_model=None)
def users_page(request: Request, application: Browser) -> Response:
    """The admin's accounts page: role, deactivation, password reset, ending sessions."""
    if application.principal is None:
        return _to_login(request)
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
        return _to_login(request)
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
        return _to_login(request)
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
        return _to_login(request)
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
        return _to_login(request)
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
        return _to_login(request)
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
