"""Cases, their authorisations, searches (as background jobs), footage timelines and clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from retroface.faces.face_choice import FaceChoice, face_choice_from
from retroface.governance.audit_export import load_signing_key
from retroface.governance.probe_sources import MAX_SUPPLIER_CHARS
from retroface.governance.roles import Action
from retroface.media.video_reader import MAX_STATED_FPS
from retroface.services.biometrics.sealed_files import read_protected_file
from retroface.services.cases.disclosure import disclosure_pack
from retroface.services.cases.manage import (
    assign_to_case,
    authorise_case,
    close_case,
    list_cases,
    open_case,
    record_judicial_authorisation,
    show_case,
)
from retroface.services.cases.report import case_report
from retroface.services.results import (
    CaseDetail,
    ClusterReport,
    ProbeFaceListing,
    SearchReport,
    TimelineReport,
)
from retroface.services.search.enhanced_probe import ProbeEnhancement, probe_enhancement_from
from retroface.services.search.footage import find_person
from retroface.services.search.gate import MAX_CANDIDATES_LIMIT
from retroface.services.search.sightings import MAX_SIGHTINGS, search_sightings
from retroface.services.video.clusters import cluster_case, list_clusters
from retroface.serving.auth import Acting
from retroface.serving.bounds import MAX_COUNT
from retroface.serving.jobs import JobOut, JobRunner
from retroface.serving.search_jobs import (
    list_uploaded_probe_faces,
    preview_uploaded_enhancement,
    start_search_job,
)
from retroface.serving.uploads import multipart_body, upload_form

router = APIRouter(tags=["cases"])

#: The longest enhancement step list a form field may hold (MAX_STEPS steps fit easily).
ENHANCE_FIELD_CHARS = 8000


class CaseIn(BaseModel):
    """A new case; its requester is the logged-in operator (a named requester is refused)."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    lawful_basis: str
    offence: str
    seriousness: str


class AuthorisationIn(BaseModel):
    until: AwareDatetime
    valid_from: AwareDatetime | None = None
    galleries: list[str] | None = None
    max_searches: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class JudicialIn(BaseModel):
    reference: str = Field(min_length=1, max_length=200)


class FindIn(BaseModel):
    gallery: str
    subject: str
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)


def jobs_of(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


@router.post("/cases", response_model=CaseDetail, status_code=201)
def post_case(body: CaseIn, application: Acting) -> CaseDetail:
    return open_case(
        application,
        body.reference,
        purpose=body.purpose,
        lawful_basis=body.lawful_basis,
        offence=body.offence,
        seriousness=body.seriousness,
    )


@router.get("/cases", response_model=list[CaseDetail])
def get_cases(application: Acting, status: str | None = None) -> list[CaseDetail]:
    return list_cases(application, status=status)


@router.get("/cases/{reference}", response_model=CaseDetail)
def get_case(reference: str, application: Acting) -> CaseDetail:
    return show_case(application, reference)


@router.post("/cases/{reference}/authorisation", response_model=CaseDetail)
def post_authorisation(reference: str, body: AuthorisationIn, application: Acting) -> CaseDetail:
    """A supervisor (never the requester) authorises searches within a window and scope."""
    return authorise_case(
        application,
        reference,
        until=body.until,
        valid_from=body.valid_from,
        galleries=body.galleries,
        max_searches=body.max_searches,
    )


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100)


@router.post("/cases/{reference}/team", response_model=CaseDetail)
def post_team_member(reference: str, body: TeamMemberIn, application: Acting) -> CaseDetail:
    """A supervisor on the case adds a person to its team (need to know)."""
    return assign_to_case(application, reference, body.username)


@router.post("/cases/{reference}/judicial-authorisation", response_model=CaseDetail)
def post_judicial(reference: str, body: JudicialIn, application: Acting) -> CaseDetail:
    return record_judicial_authorisation(application, reference, body.reference)


@router.post("/cases/{reference}/close", response_model=CaseDetail)
def post_close(reference: str, body: CloseIn, application: Acting) -> CaseDetail:
    """Close the case: its probe templates and uploaded evidence are deleted."""
    return close_case(application, reference, body.reason)


class SearchForm(BaseModel):
    """The fields of a search upload (besides its ``files``)."""

    gallery: str = Field(min_length=1, max_length=200)
    #: Where the evidence came from (cctv, body-worn-video, social-media, public-submission,
    #: other) and who supplied it: required, recorded on every evidence item. A sketch,
    #: composite, artist-impression or substitute ("looks like") image is refused (audited).
    source_type: str = Field(min_length=1, max_length=64)
    supplied_by: str = Field(min_length=1, max_length=MAX_SUPPLIER_CHARS)
    #: The images are stills of one unknown person: searched as one fused probe.
    one_person: bool = False
    #: The frame rate of raw H.264/H.265 streams uploaded (no timestamps of their own).
    fps: float | None = Field(default=None, gt=0, le=MAX_STATED_FPS)
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    max_candidates: int | None = Field(default=None, ge=1, le=MAX_CANDIDATES_LIMIT)
    #: Search faces too poor to search reliably too, for this recorded reason (audited).
    low_quality_reason: str | None = Field(default=None, max_length=1000)
    #: Which face of the one image uploaded to search (see ``/probe-faces``): its number,
    #: or the detected face that overlaps a box most (``x,y,w,h``); or every face of the
    #: upload, for this recorded reason (audited). None of them: an image with several
    #: faces is not searched (the job fails saying so, and no search is used).
    face: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    box: str | None = Field(default=None, max_length=100)
    all_faces_reason: str | None = Field(default=None, max_length=1000)
    #: A face the detector missed, marked by hand in the one image uploaded: its box
    #: ``x,y,w,h``, its eye centres ``x1,y1,x2,y2`` (both needed), nose tip ``x,y`` and
    #: mouth corners ``x1,y1,x2,y2`` (optional), in pixels of the oriented image.
    mark: str | None = Field(default=None, max_length=100)
    eyes: str | None = Field(default=None, max_length=100)
    nose: str | None = Field(default=None, max_length=100)
    mouth: str | None = Field(default=None, max_length=100)
    #: Enhancement of the one image uploaded before its faces are found: a JSON list of
    #: ``{"op": name, parameter: value}`` steps, in order (media/enhancement.py); recorded,
    #: each step audited, candidates flagged. ``keep_enhanced``: also keep the enhanced image.
    enhance: str | None = Field(default=None, max_length=ENHANCE_FIELD_CHARS)
    keep_enhanced: bool = False

    def enhancement(self) -> ProbeEnhancement | None:
        return probe_enhancement_from(steps_json=self.enhance, keep_copy=self.keep_enhanced)

    def face_choice(self) -> FaceChoice:
        return face_choice_from(
            face=self.face,
            box=self.box,
            all_faces_reason=self.all_faces_reason,
            mark=self.mark,
            eyes=self.eyes,
            nose=self.nose,
            mouth=self.mouth,
        )


class ProbeFacesForm(BaseModel):
    """A probe-face listing takes one image (``files``) and, optionally, the enhancement
    steps a search of it will use (the faces are then those of the enhanced image)."""

    model_config = ConfigDict(extra="forbid")

    enhance: str | None = Field(default=None, max_length=ENHANCE_FIELD_CHARS)


class ProbePreviewForm(BaseModel):
    """An enhancement preview takes one image (``files``) and the steps (a JSON list)."""

    model_config = ConfigDict(extra="forbid")

    enhance: str = Field(min_length=2, max_length=ENHANCE_FIELD_CHARS)


@router.post(
    "/cases/{reference}/searches",
    response_model=JobOut,
    status_code=202,
    openapi_extra=multipart_body(SearchForm, "Photos and/or videos to search"),
)
async def post_search(reference: str, request: Request, application: Acting) -> JobOut:
    """Upload evidence and search it against a gallery; poll ``/jobs/{id}`` for the report.

    The caller's role is checked before the body is read, and every gate of the search
    before anything is stored, so a refused search leaves no file behind.
    """
    application.require(Action.SEARCH_RUN, case_reference=reference)
    async with upload_form(request, SearchForm) as (form, files):
        return await start_search_job(
            application,
            jobs_of(request),
            reference,
            form.gallery,
            files,
            threshold=form.threshold,
            max_candidates=form.max_candidates,
            low_quality_reason=form.low_quality_reason,
            face_choice=form.face_choice(),
            enhancement=form.enhancement(),
            source_type=form.source_type,
            supplied_by=form.supplied_by,
            one_person=form.one_person,
            fps=form.fps,
        )


@router.post(
    "/cases/{reference}/probe-faces",
    response_model=ProbeFaceListing,
    openapi_extra=multipart_body(ProbeFacesForm, "The one probe image whose faces to list"),
)
async def post_probe_faces(
    reference: str, request: Request, application: Acting
) -> ProbeFaceListing:
    """The faces of one probe image, numbered, with box and quality, to choose the one to
    search (``face`` or ``box`` of a search upload): nothing is searched, embedded or
    kept (the upload is deleted), no search is used; the listing is audited."""
    application.require(Action.SEARCH_RUN, case_reference=reference)
    async with upload_form(request, ProbeFacesForm) as (form, files):
        enhancement = probe_enhancement_from(steps_json=form.enhance)
        return await list_uploaded_probe_faces(application, reference, files, enhancement)


@router.post(
    "/cases/{reference}/probe-preview",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    openapi_extra=multipart_body(ProbePreviewForm, "The one probe image to enhance"),
)
async def post_probe_preview(reference: str, request: Request, application: Acting) -> Response:
    """The probe image after the enhancement steps (``enhance``: a JSON list), as PNG, to
    judge them before searching: nothing is searched or kept (the upload is deleted), no
    search is used; the preview is audited with the file's hash and the steps."""
    application.require(Action.SEARCH_RUN, case_reference=reference)
    async with upload_form(request, ProbePreviewForm) as (form, files):
        enhancement = probe_enhancement_from(steps_json=form.enhance)
        assert enhancement is not None  # the field is required
        png = await preview_uploaded_enhancement(application, reference, files, enhancement)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, request: Request, application: Acting) -> JobOut:
    """A job you started: status, progress and, when done, its result."""
    principal = application.require(Action.DEPLOYMENT_READ)
    return jobs_of(request).get(job_id, principal.username)


@router.post(
    "/cases/{reference}/report",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/html": {}}}},
)
def post_case_report(
    reference: str, application: Acting, format: Literal["pdf", "html"] = "pdf"
) -> Response:
    """Write the case report (kept in the data directory) and return it as PDF or HTML."""
    files = case_report(application, reference)
    path = Path(files.pdf if format == "pdf" else files.html)
    media = "application/pdf" if format == "pdf" else "text/html; charset=utf-8"
    body = read_protected_file(application.cipher, application.settings.home, path)
    return Response(body, media_type=media)


@router.post(
    "/cases/{reference}/disclosure-pack",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def post_disclosure_pack(reference: str, application: Acting) -> Response:
    """Write the case's disclosure pack (kept in the data directory) and return the zip: the
    report, the evidence hashes, the case's audit events signed with the server's key
    ($RETROFACE_AUDIT_KEY) and the evidence images with every other face blurred."""
    application.require(Action.REPORT_CASE, case_reference=reference)
    pack = disclosure_pack(application, reference, load_signing_key(None))
    path = Path(pack.path)
    body = read_protected_file(application.cipher, application.settings.home, path)
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )


@router.post("/cases/{reference}/find", response_model=TimelineReport)
def post_find(reference: str, body: FindIn, application: Acting) -> TimelineReport:
    """Where and when a gallery subject appears in the case's footage."""
    return find_person(application, reference, body.gallery, body.subject, threshold=body.threshold)


class SightingSearchIn(BaseModel):
    """Search only these sightings of the case's ingested footage (the others are not)."""

    model_config = ConfigDict(extra="forbid")

    gallery: str = Field(min_length=1, max_length=200)
    sightings: list[int] = Field(min_length=1, max_length=MAX_SIGHTINGS)
    #: The sightings are one unknown person: searched as one fused probe.
    one_person: bool = False
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    max_candidates: int | None = Field(default=None, ge=1, le=MAX_CANDIDATES_LIMIT)
    low_quality_reason: str | None = Field(default=None, max_length=1000)


@router.post("/cases/{reference}/sighting-searches", response_model=SearchReport)
def post_sighting_search(
    reference: str, body: SightingSearchIn, application: Acting
) -> SearchReport:
    """Search the chosen sightings of the case's footage against a gallery; candidates as
    for an upload's search (each an investigative lead for review)."""
    return search_sightings(
        application,
        reference,
        body.gallery,
        body.sightings,
        threshold=body.threshold,
        max_candidates=body.max_candidates,
        low_quality_justification=body.low_quality_reason,
        one_person=body.one_person,
    )


@router.post("/cases/{reference}/clusters", response_model=ClusterReport)
def post_clusters(reference: str, application: Acting) -> ClusterReport:
    return cluster_case(application, reference)


@router.get("/cases/{reference}/clusters", response_model=ClusterReport)
def get_clusters(reference: str, application: Acting) -> ClusterReport:
    return list_clusters(application, reference)
