"""Pydantic result types: the JSON a user (or the API) receives, typed once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, computed_field

from retroface.store.models import AuditEvent

LEAD_NOTICE = "investigative lead — not an identification"


class FileError(BaseModel):
    source: str
    error: str


class CandidateOut(BaseModel):
    candidate_id: int
    rank: int
    subject: str
    subject_id: int
    score: float = Field(description="cosine similarity, higher = more alike")
    #: True: this face (or sighting) and subject were already a candidate in the case, from
    #: an earlier search of the same evidence: the candidate and its reviews are reused.
    reused: bool = Field(
        default=False,
        description="an existing candidate of the same evidence, reused with its reviews",
    )


class ProbeOut(BaseModel):
    source: str
    frame: int | None = None
    box: list[int] = Field(description="[x, y, w, h] in pixels of the oriented image")
    quality: float
    candidates: list[CandidateOut]
    #: Videos: the sighting (one person's continuous appearance) and when it ran.
    sighting_id: int | None = None
    first_s: float | None = None
    last_s: float | None = None
    #: False: the face was too poor to search reliably (``warning`` says why), no candidates.
    searched: bool = True
    #: The raw score this face's candidates had to clear, and the false-positive
    #: identification rate that bar implies at the gallery's size when searched.
    bar: float | None = None
    expected_fpir: float | None = None
    #: Sightings: how closely the fused views agree (1: alike); the bar is raised by it.
    views_agreement: float | None = Field(
        default=None,
        description="a sighting's views' agreement (1: alike); its bar is raised by it",
    )
    #: Too poor to search, or a low-quality probe searched on a recorded justification.
    warning: str | None = None
    #: Set for a face the detector missed and a person marked by hand: who marked it.
    marked_by: str | None = Field(
        default=None, description="who marked this face by hand (the detector missed it)"
    )
    #: Set when the image was enhanced before it was searched: the steps, in order.
    enhancement: list[str] | None = Field(
        default=None,
        description="the enhancement steps the probe image was searched after, in order "
        "(media/enhancement.py; the original evidence is unchanged); None: not enhanced",
    )
    #: Where the evidence came from and who supplied it (governance/probe_sources.py);
    #: None: not recorded (evidence from before source types were recorded).
    source_type: str | None = None
    supplied_by: str | None = None
    #: A probe fused from several stills or sightings of one person: how, and each part.
    fusion: str | None = None
    parts: list[ProbePartOut] | None = None


class ProbePartOut(BaseModel):
    """One still or sighting of a fused probe, with its provenance."""

    source: str
    sha256: str
    box: list[int] = Field(description="[x, y, w, h] in pixels of the oriented image")
    frame: int | None = None
    sighting_id: int | None = None
    quality: float
    source_type: str | None = None
    supplied_by: str | None = None
    #: False: too poor to search reliably, so left out of the fused template.
    used: bool = True


class ProbeFaceOut(BaseModel):
    """One face found in a probe image, as listed for a person to choose from."""

    face: int = Field(description="its number: choose it with --face N (the API's face)")
    box: list[int] = Field(description="[x, y, w, h] in pixels of the oriented image")
    quality: float


class ProbeFaceListing(BaseModel):
    """The faces of one probe image, listed without searching any (no template was made,
    nothing was stored but the audit event of the listing)."""

    case: str
    source: str
    sha256: str
    faces: list[ProbeFaceOut]


class SearchReport(BaseModel):
    notice: str = LEAD_NOTICE
    search_id: str
    case: str
    gallery: str
    threshold: float
    model: str
    #: The engine description string (faces/engine_description.py): rerun with it to reproduce.
    engine: str = ""
    #: The share of searches of people not enrolled that may return anyone (the target the
    #: per-face bars are derived from) and the gallery's size when searched.
    target_fpir: float | None = None
    gallery_templates: int | None = None
    probes: list[ProbeOut]
    errors: list[FileError]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def candidates_reused(self) -> int:
        """Candidates already in the case from an earlier search of the same evidence."""
        return sum(1 for p in self.probes for c in p.candidates if c.reused)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reuse_note(self) -> str | None:
        """What a person reads about reuse: none, or how many were reused."""
        return reuse_note(self.candidates_reused)


def reuse_note(reused: int) -> str | None:
    """``2 candidates reused with their reviews`` (None when nothing was reused)."""
    if not reused:
        return None
    return f"{reused} candidate{'s' if reused != 1 else ''} reused with their reviews"


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
    max_subjects: int
    created_at: datetime


class SubjectSummary(BaseModel):
    name: str
    images: int
    category: str | None
    record_id: str | None = None
    review_due_on: date | None = None
    removed: bool


class ManifestEntry(BaseModel):
    subject_id: int
    source_system: str | None
    record_id: str | None
    category: str | None
    erased: bool


class GalleryManifest(BaseModel):
    gallery: str
    version: int
    current_version: int
    subjects: list[ManifestEntry]


class GalleryDetail(GallerySummary):
    members: list[SubjectSummary]


class AuthorisationOut(BaseModel):
    authorised_by: str
    valid_from: datetime
    valid_until: datetime
    galleries: list[str] | None = None
    max_searches: int | None = None
    active: bool


class CaseDetail(BaseModel):
    reference: str
    purpose: str
    lawful_basis: str
    offence_category: str
    seriousness: str | None
    requester: str
    status: str
    judicial_reference: str | None
    demo: bool
    created_at: datetime
    searches: int
    authorisations: list[AuthorisationOut]


class VerifyReport(BaseModel):
    notice: str = LEAD_NOTICE
    case: str
    comparison_id: str
    first: str
    second: str
    score: float
    threshold: float
    same_person_above_threshold: bool
    model: str
    engine: str
    first_faces: int
    second_faces: int


class DeploymentStatus(BaseModel):
    dpia: dict[str, str] | None
    policy: str | None
    threshold_floor: float
    default_threshold: float
    eu_mode: bool
    probe_retention: str
    searching_allowed: bool
    refusal: str | None


class ReviewOut(BaseModel):
    reviewer: str
    outcome: str
    reason: str
    at: datetime
    notes: dict[str, str] | None = Field(
        default=None,
        description="structured comparison notes: feature (face-shape, hairline, eyebrows, "
        "eyes, nose, ears, mouth, marks) → similar, different or not-visible",
    )


class ResolutionOut(BaseModel):
    """A supervisor's resolution of a candidate two reviewers disagreed on."""

    supervisor: str
    outcome: str
    reason: str
    #: The candidate's standing it gave (confirmed, rejected-by-supervisor, ...).
    status: str
    at: datetime


class CandidateReview(BaseModel):
    """A candidate as a reviewer sees it: the probe's provenance, the subject, the decisions."""

    notice: str = LEAD_NOTICE
    candidate_id: int
    search_id: str
    case: str
    gallery: str
    gallery_version: int
    source: str
    sha256: str
    frame: int | None
    timestamp_s: float | None
    #: The evidence file's recorded length (footage), the scale of a timeline.
    duration_s: float | None = None
    box: list[int]
    probe_quality: float
    subject: str
    subject_id: int
    record_id: str | None
    rank: int
    score: float
    threshold: float
    #: The bar this probe's candidates had to clear and the false-positive identification
    #: rate it implied at the gallery's size (None: searched before bars existed).
    bar: float | None = None
    expected_fpir: float | None = None
    gallery_templates: int | None = None
    #: Set when the probe was below the quality floor and searched on a justification.
    probe_warning: str | None = None
    #: Set for a probe face a person marked by hand (the detector missed it): who marked it.
    marked_by: str | None = None
    #: Set when the probe image was enhanced before it was searched: the steps, in order.
    enhancement: list[str] | None = None
    #: Where the evidence came from and who supplied it (None: not recorded).
    source_type: str | None = None
    supplied_by: str | None = None
    #: A probe fused from several stills or sightings of one person: each part (file
    #: SHA-256, box, frame, sighting, whether used); None for a single face.
    probe_parts: list[dict[str, Any]] | None = None
    model: str
    searched_by: str
    status: str
    reviews: list[ReviewOut]
    #: A supervisor's resolution of a disagreement (None: none recorded).
    resolution: ResolutionOut | None = None
    #: Every search that found this candidate (a repeated search of the same evidence
    #: reuses the candidate), oldest first.
    found_by_searches: list[str] = Field(default_factory=list)


class RetentionReport(BaseModel):
    searches_suspended: int = 0
    candidates_deleted: int = 0
    probe_templates_deleted: int = 0
    listings_expired: int = 0
    subjects_purged: int = 0
    live_alerts_purged: int = 0


class ErasureReport(BaseModel):
    request_reference: str
    subject_ids: list[int]
    images_deleted: int
    faces_deleted: int
    templates_deleted: int
    uploaded_files_deleted: int = 0


class ReportFiles(BaseModel):
    files: list[str]
    searches: int | None


class VideoFileOut(BaseModel):
    source: str
    sha256: str
    duration_s: float | None
    segments: int
    segments_skipped: int = Field(0, description="done by an earlier, interrupted run")
    frames_sampled: int
    sightings: int
    error: str | None = None
    #: A raw stream without timestamps of its own: its times are frame index / the stated
    #: frame rate (``--fps``), not the recording's.
    timestamps_from_fps: bool = False


class VideoIngestReport(BaseModel):
    """What an ingest job did; ``realtime_factor`` is seconds of video per wall second."""

    job_id: str
    case: str
    resumed: bool
    files: list[VideoFileOut]
    errors: list[FileError]
    frames_sampled: int
    video_seconds: float
    wall_seconds: float
    realtime_factor: float | None


class AppearanceOut(BaseModel):
    """One appearance of the sought person in one file, for a timeline."""

    source: str
    sighting_id: int
    first_s: float
    last_s: float
    first_wall_time: datetime | None
    score: float
    box: list[int]
    frame: int | None
    #: The candidate this appearance is (for review) and whether an earlier search of the
    #: same sighting had already made it (reused with its reviews).
    candidate_id: int | None = None
    reused: bool = False
    #: Where the footage came from and who supplied it, as recorded at ingest (None: not).
    source_type: str | None = None
    supplied_by: str | None = None


class TimelineReport(BaseModel):
    notice: str = LEAD_NOTICE
    search_id: str
    case: str
    sought: str
    threshold: float
    appearances: list[AppearanceOut]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def candidates_reused(self) -> int:
        """Appearances already a candidate from an earlier search of the same sighting."""
        return sum(1 for a in self.appearances if a.reused)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reuse_note(self) -> str | None:
        return reuse_note(self.candidates_reused)


class ClusterMember(BaseModel):
    sighting_id: int
    source: str
    first_s: float
    last_s: float


class ClusterOut(BaseModel):
    cluster_id: int
    sightings: list[ClusterMember]
    files: int = Field(description="how many different files the person appears in")


class ClusterReport(BaseModel):
    notice: str = LEAD_NOTICE
    case: str
    clusters: list[ClusterOut]


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    role: str | None
    action: str
    object_type: str
    object_id: str
    case_reference: str | None
    details: dict[str, Any]
    event_hash: str | None


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        occurred_at=event.occurred_at,
        actor=event.actor,
        role=event.role,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        case_reference=event.case_reference,
        details=event.details,
        event_hash=event.event_hash,
    )
