"""The enhancement panel: a probe image before and after the enhancement steps, in the browser.

An analyst tries steps on a dark or tiny still and looks at the result before searching:
the page posts one image and the steps (one per line, the CLI's ``--enhance`` form), and
shows the upload as it came and the enhanced image, both embedded in the page (no URL ever
addresses the evidence), with the steps as they will be recorded (the JSON list a search
takes: the API's ``enhance`` field, the CLI's ``--enhance-file``). The preview is the same
service call as the API's (``serving/search_jobs.py::preview_uploaded_enhancement``): role
and case authorisation checked before a byte is stored, the upload deleted at once, the
preview audited. Nothing here searches.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from retroface.errors import InvalidInputError
from retroface.media.enhancement import OPERATIONS, steps_to_json
from retroface.services.search.enhanced_probe import probe_enhancement_from
from retroface.serving.auth import Browser
from retroface.serving.search_jobs import preview_uploaded_enhancement
from retroface.serving.uploads import upload_form
from retroface.web.pages import _check_csrf, _page, _to_login, data_url

router = APIRouter(include_in_schema=False)

#: Upload types a browser shows as they are (the "before" image is the bytes sent).
_SHOWN_AS_SENT = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class _PreviewForm(BaseModel):
    steps: str = Field(min_length=1, max_length=4000)
    csrf: str | None = Field(default=None, max_length=200)


def _operations() -> list[tuple[str, str, str]]:
    """(name, parameters with defaults, what it does) for the page's list."""
    return [
        (
            op.name,
            ",".join(p.name if p.default is None else f"{p.name}={p.default}" for p in op.params),
            op.summary,
        )
        for op in OPERATIONS.values()
    ]


@router.get("/cases/{reference}/enhance", response_model=None)
def enhance_page(reference: str, request: Request, application: Browser) -> Response:
    if application.principal is None:
        return _to_login(request)
    return _page(request, "enhance.html", reference=reference, operations=_operations())


@router.post("/cases/{reference}/enhance", response_model=None)
async def enhance_submit(reference: str, request: Request, application: Browser) -> Response:
    """Preview the steps on the uploaded image (the form is read once the session is known)."""
    if application.principal is None:
        return _to_login(request)
    async with upload_form(request, _PreviewForm) as (form, files):
        _check_csrf(request, form.csrf)
        lines = [line.strip() for line in form.steps.splitlines() if line.strip()]
        enhancement = probe_enhancement_from(lines)
        if enhancement is None:
            raise InvalidInputError("write at least one enhancement step")
        if len(files) != 1:
            raise InvalidInputError(f"upload exactly one image to preview, got {len(files)}")
        sent, kind = await files[0].read(), files[0].content_type or ""
        await files[0].seek(0)
        after = await preview_uploaded_enhancement(application, reference, files, enhancement)
    recorded = steps_to_json(enhancement.steps)
    return _page(
        request,
        "enhance.html",
        reference=reference,
        operations=_operations(),
        steps="\n".join(lines),
        recorded=[s.text() for s in enhancement.steps],
        recorded_json=json.dumps(recorded),
        before=data_url(sent, kind) if kind in _SHOWN_AS_SENT else None,
        after=data_url(after, "image/png"),
    )
