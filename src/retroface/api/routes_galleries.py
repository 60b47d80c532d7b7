"""Galleries (watchlists), their subjects and enrolment by upload."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from retroface.errors import RetrofaceError
from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services.biometrics.uploaded_files import (
    gallery_upload_folder,
    remove_unused_uploads,
)
from retroface.services.galleries.duplicates import (
    DEFAULT_TARGET_FPIR,
    DuplicateDecisionOut,
    DuplicateReport,
    decide_duplicate,
    find_duplicates,
    undo_duplicate_decision,
)
from retroface.services.galleries.enrol import check_enrolment_allowed, enroll
from retroface.services.galleries.erase import erase_subject
from retroface.services.galleries.manage import (
    create_gallery,
    gallery_manifest,
    list_galleries,
    remove_subject,
    restore_subject,
    set_gallery_cap,
    show_gallery,
)
from retroface.services.results import (
    EnrollReport,
    ErasureReport,
    GalleryDetail,
    GalleryManifest,
    GallerySummary,
)
from retroface.serving.auth import Acting
from retroface.serving.bounds import MAX_COUNT
from retroface.serving.uploads import (
    check_types,
    current_cipher,
    multipart_body,
    readable_copies,
    stored_with_names,
    upload_form,
)

router = APIRouter(tags=["galleries"])


class GalleryIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    max_subjects: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class CapIn(BaseModel):
    max_subjects: int = Field(ge=1, le=MAX_COUNT)


class ErasureIn(BaseModel):
    request_reference: str = Field(min_length=1, max_length=200)


class SubjectStatus(BaseModel):
    gallery: str
    subject: str
    status: str


@router.get("/galleries", response_model=list[GallerySummary])
def get_galleries(application: Acting) -> list[GallerySummary]:
    return list_galleries(application)


@router.post("/galleries", response_model=GallerySummary, status_code=201)
def post_gallery(body: GalleryIn, application: Acting) -> GallerySummary:
    return create_gallery(application, body.name, body.description, max_subjects=body.max_subjects)


@router.get("/galleries/{name}", response_model=GalleryDetail)
def get_gallery(name: str, application: Acting) -> GalleryDetail:
    return show_gallery(application, name)


@router.put("/galleries/{name}/cap", response_model=GallerySummary)
def put_cap(name: str, body: CapIn, application: Acting) -> GallerySummary:
    return set_gallery_cap(application, name, body.max_subjects)


@router.get("/galleries/{name}/manifest", response_model=GalleryManifest)
def get_manifest(
    name: str,
    application: Acting,
    version: Annotated[int | None, Query(ge=0, le=MAX_COUNT)] = None,
) -> GalleryManifest:
    """Subject ids listed in a version (so a person can later ask whether they were listed)."""
    return gallery_manifest(application, name, version)


class SubjectForm(BaseModel):
    """The fields of a reference photo upload (besides its ``files``): who, and the
    provenance the watchlist rules need."""

    subject: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=100)
    source_system: str = Field(min_length=1, max_length=200)
    record_id: str = Field(min_length=1, max_length=200)
    holding_basis: str = Field(min_length=1, max_length=100)
    taken_on: date | None = None
    date_of_birth: date | None = None
    under_18_reason: str | None = Field(default=None, max_length=2000)
    #: Enrol a face below the reference quality floor, for this recorded reason.
    quality_override: str | None = Field(default=None, max_length=1000)


@router.post(
    "/galleries/{name}/subjects",
    response_model=EnrollReport,
    status_code=201,
    openapi_extra=multipart_body(SubjectForm, "Reference photos of the subject"),
)
async def post_subject(name: str, request: Request, application: Acting) -> EnrollReport:
    """Enroll reference photos of one subject, with the provenance the watchlist rules need.

    The role is checked before the body is read; the gallery, the subject's provenance and
    the gallery's cap before anything is stored; photos the enrolment did not keep (refused,
    unreadable, no single face) are deleted before the answer."""
    application.require(Action.GALLERY_ENROLL)
    async with upload_form(request, SubjectForm) as (form, files):
        provenance = SubjectProvenance(
            category=form.category,
            source_system=form.source_system,
            record_id=form.record_id,
            holding_basis=form.holding_basis,
            taken_on=form.taken_on,
            date_of_birth=form.date_of_birth,
            under_18_reason=form.under_18_reason,
        )
        check_types(files, allow_video=False)
        await run_in_threadpool(
            check_enrolment_allowed, application, name, form.subject, provenance
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
        with readable_copies(current_cipher(application), paths, names) as copies:
            return enroll(
                application,
                name,
                list(copies),
                subject=form.subject,
                provenance=provenance,
                sources=copies,
                quality_override=form.quality_override,
            )

    try:
        report = await run_in_threadpool(enrol_copies)
    except RetrofaceError as exc:
        exc.args = (names(str(exc)),)  # the uploaded names, never the server's paths
        raise
    finally:
        await run_in_threadpool(remove_unused_uploads, application, paths)
    return EnrollReport.model_validate(names.json(report.model_dump(mode="json")))


@router.delete("/galleries/{name}/subjects/{subject}", response_model=SubjectStatus)
def delete_subject(name: str, subject: str, application: Acting) -> SubjectStatus:
    """Take a subject off the watchlist (recoverable until retention makes it final)."""
    status = remove_subject(application, name, subject)
    return SubjectStatus(gallery=name, subject=subject, status=status)


@router.post("/galleries/{name}/subjects/{subject}/restore", response_model=SubjectStatus)
def post_restore(name: str, subject: str, application: Acting) -> SubjectStatus:
    restore_subject(application, name, subject)
    return SubjectStatus(gallery=name, subject=subject, status="restored")


@router.post("/galleries/{name}/subjects/{subject}/erasure", response_model=ErasureReport)
def post_erasure(name: str, subject: str, body: ErasureIn, application: Acting) -> ErasureReport:
    """Erase a subject everywhere on request (final; recorded)."""
    return erase_subject(application, name, subject, body.request_reference)


class DuplicateDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_a: str = Field(min_length=1, max_length=200, description="The record that continues.")
    subject_b: str = Field(min_length=1, max_length=200)
    decision: str = Field(description="merge (b into a) or distinct")
    reason: str = Field(min_length=1, max_length=2000)


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


@router.get("/galleries/{name}/duplicates", response_model=DuplicateReport)
def get_duplicates(
    name: str,
    application: Acting,
    target_fpir: Annotated[float, Query(gt=0, lt=0.5)] = DEFAULT_TARGET_FPIR,
) -> DuplicateReport:
    """Subject pairs that look like one person (supervisor; audited): leads to decide."""
    return find_duplicates(application, name, target_fpir=target_fpir)


@router.post(
    "/galleries/{name}/duplicates/decisions", response_model=DuplicateDecisionOut, status_code=201
)
def post_duplicate_decision(
    name: str, body: DuplicateDecisionIn, application: Acting
) -> DuplicateDecisionOut:
    """A person's decision on a reported pair (merge or distinct; audited, undoable)."""
    return decide_duplicate(
        application, name, body.subject_a, body.subject_b, body.decision, body.reason
    )


@router.post("/duplicate-decisions/{decision_id}/undo", response_model=DuplicateDecisionOut)
def post_duplicate_undo(
    decision_id: int, body: UndoIn, application: Acting
) -> DuplicateDecisionOut:
    """Withdraw a duplicate decision (a merge's images go back; audited)."""
    return undo_duplicate_decision(application, decision_id, body.reason)
