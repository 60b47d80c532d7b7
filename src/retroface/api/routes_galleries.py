"""Galleries (watchlists), their subjects and enrolment by upload."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services.biometrics.uploaded_files import gallery_upload_folder
from retroface.services.galleries.enrol import enroll
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
from retroface.serving.uploads import store_uploads

router = APIRouter(tags=["galleries"])


class GalleryIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    max_subjects: int | None = Field(default=None, ge=1)


class CapIn(BaseModel):
    max_subjects: int = Field(ge=1)


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
def get_manifest(name: str, application: Acting, version: int | None = None) -> GalleryManifest:
    """Subject ids listed in a version (so a person can later ask whether they were listed)."""
    return gallery_manifest(application, name, version)


@router.post("/galleries/{name}/subjects", response_model=EnrollReport, status_code=201)
async def post_subject(
    name: str,
    application: Acting,
    subject: Annotated[str, Form(min_length=1, max_length=200)],
    category: Annotated[str, Form()],
    source_system: Annotated[str, Form(min_length=1, max_length=200)],
    record_id: Annotated[str, Form(min_length=1, max_length=200)],
    holding_basis: Annotated[str, Form()],
    files: Annotated[list[UploadFile], File(description="Reference photos of the subject")],
    taken_on: Annotated[date | None, Form()] = None,
    date_of_birth: Annotated[date | None, Form()] = None,
    under_18_reason: Annotated[str | None, Form(max_length=2000)] = None,
) -> EnrollReport:
    """Enroll reference photos of one subject, with the provenance the watchlist rules need."""
    application.require(Action.GALLERY_ENROLL)
    _, paths = await store_uploads(
        gallery_upload_folder(application.settings.home, name),
        files,
        application.settings.max_file_bytes,
        allow_video=False,
    )
    provenance = SubjectProvenance(
        category=category,
        source_system=source_system,
        record_id=record_id,
        holding_basis=holding_basis,
        taken_on=taken_on,
        date_of_birth=date_of_birth,
        under_18_reason=under_18_reason,
    )
    return enroll(application, name, paths, subject=subject, provenance=provenance)


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
