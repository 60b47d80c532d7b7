"""Pydantic result types: the JSON a user (or the API) receives, typed once."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

LEAD_NOTICE = "investigative lead — not an identification"


class FileError(BaseModel):
    source: str
    error: str


class CandidateOut(BaseModel):
    rank: int
    subject: str
    score: float = Field(description="cosine similarity, higher = more alike")


class ProbeOut(BaseModel):
    source: str
    frame: int | None = None
    box: list[int] = Field(description="[x, y, w, h] in pixels of the oriented image")
    quality: float
    candidates: list[CandidateOut]


class SearchReport(BaseModel):
    search_id: str
    case: str
    gallery: str
    threshold: float
    model: str
    probes: list[ProbeOut]
    errors: list[FileError]


class EnrollReport(BaseModel):
    gallery: str
    enrolled: int
    already_enrolled: int
    subjects_created: int
    skipped: list[FileError]


class GallerySummary(BaseModel):
    name: str
    description: str
    version: int
    subjects: int
    images: int
    templates: int
    created_at: datetime


class SubjectSummary(BaseModel):
    name: str
    images: int
    category: str | None
    removed: bool


class GalleryDetail(GallerySummary):
    members: list[SubjectSummary]


class AuthorisationOut(BaseModel):
    authorised_by: str
    valid_from: datetime
    valid_until: datetime
    active: bool


class CaseDetail(BaseModel):
    reference: str
    purpose: str
    lawful_basis: str
    offence_category: str
    requester: str
    status: str
    demo: bool
    created_at: datetime
    searches: int
    authorisations: list[AuthorisationOut]


class VerifyReport(BaseModel):
    first: str
    second: str
    score: float
    threshold: float
    same_person_above_threshold: bool
    model: str
    first_faces: int
    second_faces: int
