"""Duplicate records in the browser: a supervisor scans a gallery, compares each reported
pair's faces side by side, and merges the records or marks them distinct (with a reason).

The scan and every decision are the service's (services/galleries/duplicates.py): the same
role check, the same audit events and the same undo as on the command line.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from retroface.errors import InvalidInputError
from retroface.services import App
from retroface.services.galleries.duplicates import (
    DECISIONS,
    decide_duplicate,
    find_duplicates,
    subject_faces,
)
from retroface.serving.auth import Browser
from retroface.serving.bounds import RowId
from retroface.web.pages import _check_csrf, _page, _to_login

router = APIRouter(include_in_schema=False)


@router.get("/galleries/{name}/duplicates", response_model=None)
def duplicates_page(
    name: str,
    request: Request,
    application: Browser,
    decided: Annotated[RowId | None, Query()] = None,
) -> Response:
    """Scan the gallery (audited) and show each pair above the bar with both faces."""
    if application.principal is None:
        return _to_login(request)
    return _duplicates(request, application, name, decided=decided)


def _duplicates(
    request: Request,
    application: App,
    name: str,
    *,
    decided: int | None = None,
    status: int = 200,
    error: str = "",
) -> Response:
    report = find_duplicates(application, name)
    ids = [i for p in report.pairs for i in (p.subject_a_id, p.subject_b_id)]
    faces = subject_faces(application, name, ids)
    return _page(
        request,
        "duplicates.html",
        status=status,
        report=report,
        faces=faces,
        decisions=DECISIONS,
        decided=decided,
        error=error,
    )


@router.post("/galleries/{name}/duplicates", response_model=None)
def duplicate_decision_submit(
    name: str,
    request: Request,
    application: Browser,
    subject_a: Annotated[str, Form(max_length=200)],
    subject_b: Annotated[str, Form(max_length=200)],
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    if application.principal is None:
        return _to_login(request)
    _check_csrf(request, csrf)
    try:
        done = decide_duplicate(application, name, subject_a, subject_b, decision, reason)
    except InvalidInputError as exc:  # no reason, an unknown decision: shown on the page
        return _duplicates(request, application, name, status=422, error=str(exc))
    return RedirectResponse(
        f"/ui/galleries/{quote(name, safe='')}/duplicates?decided={done.id}", status_code=303
    )
