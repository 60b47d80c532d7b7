"""The face picker of the search form: the faces of the one chosen photo, listed as JSON.

The page's script (static/probe-choice.js) shows the photo the person picked (read in the
browser: it is not sent until the search is) and sends it here once to have its faces
listed, then draws their boxes to click, or lets the person mark a face the detector
missed (a box and the two eyes). The listing is the same service call as the API's
``/probe-faces`` (``serving/search_jobs.py::list_uploaded_probe_faces``): the role and the
case's authorisation are checked before a byte is stored, nothing is embedded or kept, the
upload is deleted at once, and the listing is audited. Without the script the form still
takes a face number or a mark typed in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from retroface.serving.auth import Browser
from retroface.serving.search_jobs import list_uploaded_probe_faces
from retroface.serving.uploads import upload_form
from retroface.web.pages import _check_csrf, _to_login

router = APIRouter(include_in_schema=False)


class _ListingForm(BaseModel):
    csrf: str | None = Field(default=None, max_length=200)


@router.post("/cases/{reference}/probe-faces", response_model=None)
async def probe_faces_listing(reference: str, request: Request, application: Browser) -> Response:
    """``{"faces": [{"face": n, "box": [x, y, w, h], "quality": q}, ...]}`` of one photo."""
    if application.principal is None:
        return _to_login(request)
    async with upload_form(request, _ListingForm) as (form, files):
        _check_csrf(request, form.csrf)
        listing = await list_uploaded_probe_faces(application, reference, files)
    return JSONResponse({"faces": [f.model_dump(mode="json") for f in listing.faces]})
