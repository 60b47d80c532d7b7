"""Case work in the browser: open a case, authorise it, galleries and enrolment by upload, the
deployment's rules (read only) and the supervisor's queue of disputed candidates.

Each page is a plain form posting back with the session's CSRF token (web/pages.py), and
each form calls one service function as the logged-in person, so the role, need to know
and every audit event are exactly those of the CLI and the API. Nothing here decides who
may do what: a page a role may not use shows the service's refusal, audited.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from retroface.errors import InvalidInputError, RetrofaceError
from retroface.governance.review_policy import OUTCOMES
from retroface.governance.roles import Action
from retroface.services import App
from retroface.services.biometrics.face_views import candidate_faces
from retroface.services.biometrics.uploaded_files import (
    gallery_upload_folder,
    remove_unused_uploads,
)
from retroface.services.cases.manage import (
    authorise_case,
    lawful_bases,
    list_cases,
    offence_categories,
    open_case,
    seriousness_levels,
)
from retroface.services.cases.resolution import disputed_queue, resolve_review
from retroface.services.deployment.calibrations import list_calibrations
from retroface.services.deployment.rules import deployment_status
from retroface.services.galleries.enrol import check_enrolment_allowed, enroll
from retroface.services.galleries.manage import create_gallery, list_galleries, show_gallery
from retroface.services.galleries.provenance import parse_provenance_sheet, photo_subjects
from retroface.services.results import EnrollReport, FileError
from retroface.serving.auth import Browser
from retroface.serving.bounds import RowId
from retroface.serving.uploads import (
    check_types,
    current_cipher,
    readable_copies,
    stored_with_names,
    upload_form,
)
from retroface.web.pages import _check_csrf, _day, _page, _to_login

router = APIRouter(include_in_schema=False)

#: The largest provenance sheet an enrolment form accepts (one row per subject: plenty).
MAX_SHEET_BYTES = 1 << 20
#: The default length of an authorisation offered by the form, in days.
DEFAULT_AUTHORISATION_DAYS = 7


def _quoted(text: str) -> str:
    return quote(text, safe="")


# --- Opening a case (operator) ------------------------------------------------------------


def _case_form(request: Request, status: int = 200, error: str = "", **values: str) -> Response:
    return _page(
        request,
        "case_work/open_case.html",
        status=status,
        error=error,
        values=values,
        bases=lawful_bases(),
        offences=offence_categories(),
        levels=seriousness_levels(),
    )


@router.get("/case-work/open", response_model=None)
def open_case_page(request: Request, application: Browser) -> Response:
    """The operator's form to open a case in their own name (they become its requester)."""
    if application.principal is None:
        return _to_login(request)
    application.require(Action.CASE_OPEN)  # a role that may not open one is told so
    return _case_form(request)


@router.post("/case-work/open", response_model=None)
def open_case_submit(
    request: Request,
    application: Browser,
    reference: Annotated[str, Form(max_length=200)],
    purpose: Annotated[str, Form(max_length=4000)],
    lawful_basis: Annotated[str, Form(max_length=100)],
    offence: Annotated[str, Form(max_length=100)],
    seriousness: Annotated[str, Form(max_length=100)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    values = {
        "reference": reference,
        "purpose": purpose,
        "lawful_basis": lawful_basis,
        "offence": offence,
        "seriousness": seriousness,
    }
    try:
        case = open_case(
            application,
            reference,
            purpose=purpose,
            lawful_basis=lawful_basis,
            offence=offence,
            seriousness=seriousness,
        )
    except InvalidInputError as exc:  # a mistake in the form: shown on it, kept as typed
        return _case_form(request, 422, str(exc), **values)
    return RedirectResponse(f"/ui/cases/{_quoted(case.reference)}", status_code=303)


# --- Authorising a case (supervisor) ------------------------------------------------------


@router.get("/case-work/authorisations", response_model=None)
def authorisations_page(request: Request, application: Browser) -> Response:
    """The open cases on this supervisor's team (or awaiting any supervisor) that have no
    authorisation in force: each with the form to authorise it."""
    if application.principal is None:
        return _to_login(request)
    application.require(Action.CASE_AUTHORISE)
    waiting = [
        c
        for c in list_cases(application, status="open")
        if not any(a.active for a in c.authorisations)
        and c.requester.casefold() != application.principal.username.casefold()
    ]
    return _page(
        request,
        "case_work/authorisations.html",
        cases=waiting,
        galleries=list_galleries(application),
        default_until=(application.now() + timedelta(days=DEFAULT_AUTHORISATION_DAYS))
        .date()
        .isoformat(),
        today=application.now().date().isoformat(),
        notice=request.query_params.get("authorised", ""),
    )


@router.post("/case-work/cases/{reference}/authorise", response_model=None)
def authorise_submit(
    reference: str,
    request: Request,
    application: Browser,
    until: Annotated[str, Form(max_length=10)],
    max_searches: Annotated[str, Form(max_length=10)] = "",
    galleries: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Authorise until the end of the day chosen (UTC), for the galleries ticked (none
    ticked: any) and at most the searches given (empty: no limit)."""
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    last_day = _day(until, "the last day of the authorisation")
    if last_day is None:
        raise InvalidInputError("give the last day of the authorisation (YYYY-MM-DD)")
    try:
        most = int(max_searches) if max_searches.strip() else None
    except ValueError as exc:
        raise InvalidInputError(
            f"the most searches must be a whole number, got {max_searches!r}"
        ) from exc
    authorise_case(
        application,
        reference,
        until=datetime.combine(last_day, time(23, 59), UTC),
        galleries=galleries or None,
        max_searches=most,
    )
    notice = urlencode({"authorised": reference})
    return RedirectResponse(f"/ui/case-work/authorisations?{notice}", status_code=303)


# --- Galleries and enrolment by upload (supervisor) ---------------------------------------


@router.get("/case-work/galleries", response_model=None)
def galleries_page(request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login(request)
    return _page(
        request,
        "case_work/galleries.html",
        galleries=list_galleries(application),
        may_create=application.principal.role.value == "supervisor",
    )


@router.post("/case-work/galleries", response_model=None)
def gallery_create_submit(
    request: Request,
    application: Browser,
    name: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    gallery = create_gallery(application, name, description)
    return RedirectResponse(f"/ui/case-work/galleries/{_quoted(gallery.name)}", status_code=303)


@router.get("/case-work/galleries/{name}", response_model=None)
def gallery_page(name: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login(request)
    return _gallery(request, application, name)


def _gallery(
    request: Request,
    application: App,
    name: str,
    report: EnrollReport | None = None,
    status: int = 200,
    error: str = "",
) -> Response:
    return _page(
        request,
        "case_work/gallery.html",
        status=status,
        gallery=show_gallery(application, name),
        report=report,
        error=error,
        may_enrol=application.principal is not None
        and application.principal.role.value == "supervisor",
    )


class _EnrolForm(BaseModel):
    csrf: str | None = Field(default=None, max_length=200)
    #: Enrol a face below the reference quality floor, for this recorded reason.
    quality_override: str | None = Field(default=None, max_length=1000)


@router.post("/case-work/galleries/{name}/enrol", response_model=None)
async def enrol_submit(name: str, request: Request, application: Browser) -> Response:
    """Reference photos and their provenance sheet (CSV, one row per subject, as the CLI's
    ``--provenance``). The role is checked before the body is read; the sheet, the photos'
    subjects, each new subject's provenance and the gallery's cap before a photo is stored;
    photos the enrolment did not keep are deleted before the page is shown."""
    if application.principal is None:
        return _to_login(request)
    application.require(Action.GALLERY_ENROLL)
    async with upload_form(request, _EnrolForm) as (form, files):
        _check_csrf(request, form.csrf)
        sheet = (await request.form()).get("sheet")  # the form upload_form read, cached
        if not isinstance(sheet, UploadFile) or not sheet.filename:
            raise InvalidInputError("attach the provenance sheet (CSV, one row per subject)")
        data = await sheet.read(MAX_SHEET_BYTES + 1)
        if len(data) > MAX_SHEET_BYTES:
            raise InvalidInputError(f"{sheet.filename}: larger than {MAX_SHEET_BYTES} bytes")
        provenance = parse_provenance_sheet(data, sheet.filename)
        check_types(files, allow_video=False)
        subjects = photo_subjects([f.filename or "" for f in files], provenance)
        for subject in sorted(set(subjects)):
            await run_in_threadpool(
                check_enrolment_allowed, application, name, subject, provenance.get(subject)
            )
        home = application.settings.home
        _, paths, names = await stored_with_names(
            gallery_upload_folder(home, name),
            home,
            files,
            application.settings.max_file_bytes,
            allow_video=False,
            cipher=await run_in_threadpool(current_cipher, application),
        )

    def enrol_copies() -> EnrollReport:
        by_subject: dict[str, list[Path]] = defaultdict(list)
        for path, subject in zip(paths, subjects, strict=True):
            by_subject[subject].append(path)
        reports = []
        with readable_copies(current_cipher(application), paths, names) as copies:
            stored_to_copy = {stored: copy for copy, stored in copies.items()}
            for subject, stored in sorted(by_subject.items()):
                mine = [stored_to_copy[p] for p in stored]
                reports.append(
                    enroll(
                        application,
                        name,
                        mine,
                        subject=subject,
                        provenance=provenance.get(subject),
                        sources=copies,
                        quality_override=form.quality_override,
                    )
                )
        return _merged(name, reports)

    try:
        report = await run_in_threadpool(enrol_copies)
    except RetrofaceError as exc:
        exc.args = (names(str(exc)),)  # the uploaded names, never the server's paths
        raise
    finally:
        await run_in_threadpool(remove_unused_uploads, application, paths)
    shown = EnrollReport.model_validate(names.json(report.model_dump(mode="json")))
    return _gallery(request, application, name, report=shown)


def _merged(gallery: str, reports: list[EnrollReport]) -> EnrollReport:
    """One report for the subjects of one upload."""
    skipped: list[FileError] = [e for r in reports for e in r.skipped]
    return EnrollReport(
        gallery=gallery,
        enrolled=sum(r.enrolled for r in reports),
        already_enrolled=sum(r.already_enrolled for r in reports),
        subjects_created=sum(r.subjects_created for r in reports),
        skipped=sorted(skipped, key=lambda e: e.source),
    )


# --- The deployment's rules, read only ----------------------------------------------------


@router.get("/case-work/deployment", response_model=None)
def deployment_page(request: Request, application: Browser) -> Response:
    """What the admin set (DPIA, policy, floor, EU mode, probe retention) and the calibration
    records behind it: everyone may read it; changes stay with the admin's CLI and API."""
    if application.principal is None:
        return _to_login(request)
    return _page(
        request,
        "case_work/deployment.html",
        rules=deployment_status(application),
        calibrations=list_calibrations(application),
    )


# --- The supervisor's queue of disputed candidates ----------------------------------------


@router.get("/case-work/disputes", response_model=None)
def disputes_page(
    request: Request,
    application: Browser,
    resolved: Annotated[RowId | None, Query()] = None,
) -> Response:
    """Candidates two reviewers disagree on, oldest dispute first; each once."""
    if application.principal is None:
        return _to_login(request)
    return _page(
        request,
        "case_work/disputes.html",
        items=disputed_queue(application),
        resolved=resolved,
    )


@router.get("/case-work/disputes/{candidate_id}", response_model=None)
def dispute_page(candidate_id: RowId, request: Request, application: Browser) -> Response:
    """One disputed candidate: both faces, each reviewer's decision and reason, and the form
    to resolve it (if this supervisor may)."""
    if application.principal is None:
        return _to_login(request)
    return _dispute(request, application, candidate_id)


def _dispute(
    request: Request, application: App, candidate_id: int, status: int = 200, error: str = ""
) -> Response:
    found = [d for d in disputed_queue(application) if d.candidate.candidate_id == candidate_id]
    if not found:
        raise InvalidInputError(
            f"candidate {candidate_id} is not in your queue of disputed candidates (resolved "
            "already, not disputed, or not on your cases)"
        )
    faces = candidate_faces(application, candidate_id)
    return _page(
        request,
        "case_work/dispute.html",
        status=status,
        item=found[0],
        faces=faces,
        outcomes=OUTCOMES,
        error=error,
    )


@router.post("/case-work/disputes/{candidate_id}", response_model=None)
def resolve_submit(
    candidate_id: RowId,
    request: Request,
    application: Browser,
    outcome: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    try:
        resolve_review(application, candidate_id, outcome, reason)
    except InvalidInputError as exc:  # no reason, an unknown outcome: shown on the form
        if "already resolved" in str(exc):
            raise
        return _dispute(request, application, candidate_id, 422, str(exc))
    return RedirectResponse(f"/ui/case-work/disputes?resolved={candidate_id}", status_code=303)
