"""ORM models. Every schema change is an Alembic migration in ``migrations/versions``.

Governance lives in the schema too: subjects carry a fixed category and
provenance, galleries a size cap and a change log (one row per version),
cases an offence seriousness and an EU-mode judicial reference, searches the
authorisation they ran under, candidates their human reviews.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and returns aware UTC, identically on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Gallery(Base):
    __tablename__ = "galleries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: Bumped in the same transaction as every change to the gallery's members.
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Most active subjects the gallery may hold; None = the deployment default.
    max_subjects: Mapped[int | None] = mapped_column(Integer)
    #: Marked by a supervisor as a watchlist that live deployments may compare a camera with.
    live_watchlist: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    subjects: Mapped[list[Subject]] = relationship(back_populates="gallery")


class Subject(Base):
    """An identity in a gallery (watchlist)."""

    __tablename__ = "subjects"
    __table_args__ = (
        UniqueConstraint("gallery_id", "name"),
        Index("ix_subjects_gallery_removed", "gallery_id", "removed_at"),  # active counts
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("galleries.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))
    #: The record id in the source system (custody record, missing-person report).
    external_ref: Mapped[str | None] = mapped_column(String(200))
    source_system: Mapped[str | None] = mapped_column(String(200))
    #: Why the force may hold this person's image (a fixed list, see watchlist_policy).
    holding_basis: Mapped[str | None] = mapped_column(String(64))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    #: The supervisor's recorded reason for listing a person under 18.
    under_18_reason: Mapped[str | None] = mapped_column(Text)
    retention_class: Mapped[str | None] = mapped_column(String(32))
    #: The date by which the listing must be reviewed; past it, retention removes it.
    review_due_on: Mapped[date | None] = mapped_column(Date)
    #: Operator-supplied demographic labels for bias statistics; never inferred.
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    #: Set by a reversible removal; the row and its templates go only on a final purge.
    removed_at: Mapped[datetime | None] = mapped_column()
    #: Set when the person's data was erased on request; the name is then replaced.
    erased_at: Mapped[datetime | None] = mapped_column()

    gallery: Mapped[Gallery] = relationship(back_populates="subjects")
    images: Mapped[list[ReferenceImage]] = relationship(back_populates="subject")


class ReferenceImage(Base):
    """A photo a subject was enrolled from, with its provenance."""

    __tablename__ = "reference_images"
    __table_args__ = (UniqueConstraint("subject_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    source_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(64), default="reference")
    #: When the photo was taken (provenance), as the source system records it.
    taken_on: Mapped[date | None] = mapped_column(Date)
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subject: Mapped[Subject] = relationship(back_populates="images")


class Case(Base):
    """An investigation; every search happens under one."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(Text)
    lawful_basis: Mapped[str] = mapped_column(String(64))
    offence_category: Mapped[str] = mapped_column(String(200))
    seriousness: Mapped[str | None] = mapped_column(String(32))
    requester: Mapped[str] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: EU AI Act Art 26(10): the judicial or administrative authorisation of the search.
    judicial_reference: Mapped[str | None] = mapped_column(String(200))
    judicial_recorded_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    close_reason: Mapped[str | None] = mapped_column(Text)

    authorisations: Mapped[list[Authorisation]] = relationship(
        back_populates="case", order_by="Authorisation.id"
    )


class Authorisation(Base):
    """Who approved searching under a case, until when, and (later) for which galleries."""

    __tablename__ = "authorisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    authorised_by: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime] = mapped_column()
    gallery_scope: Mapped[list[Any] | None] = mapped_column(JSON)
    max_searches: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="authorisations")


class CaseMember(Base):
    """A person a supervisor added to a case's team (need to know: governance/case_access.py)."""

    __tablename__ = "case_members"
    __table_args__ = (UniqueConstraint("case_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comparison(Base):
    """One 1:1 comparison of two images under a case: a search of one, so it passes the same
    gate (authorised case, rules, threshold floor) and counts against the authorisation."""

    __tablename__ = "comparisons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    authorisation_id: Mapped[int] = mapped_column(Integer, index=True)
    threshold: Mapped[float] = mapped_column(Float)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    engine: Mapped[str] = mapped_column(String(300))
    requested_by: Mapped[str] = mapped_column(String(200))
    first_sha256: Mapped[str | None] = mapped_column(String(64))
    second_sha256: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class Search(Base):
    """One probe set against one gallery under one case, with everything that shaped it."""

    __tablename__ = "searches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("galleries.id"), index=True)
    gallery_version: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    max_candidates: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    #: The probe templates' engine description (faces/engine_description.py): the model
    #: version alone does not say how faces reached it. None on searches before 0009.
    engine: Mapped[str | None] = mapped_column(String(300))
    index_config: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[str] = mapped_column(String(200))
    #: The authorisation the search ran under (its scope and search count).
    authorisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: Operator-supplied demographic labels of the probe person, for bias statistics.
    probe_labels: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    #: When the probe biometrics (templates) of this search were deleted.
    probes_purged_at: Mapped[datetime | None] = mapped_column()


class MediaItem(Base):
    """One evidence file submitted to a search, with its hash."""

    __tablename__ = "media_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    search_id: Mapped[str | None] = mapped_column(ForeignKey("searches.id"), index=True)
    source_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(16), default="image")
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    #: Videos: length in seconds and the recording's start (wall clock), where known.
    duration_s: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime | None] = mapped_column()
    #: Where the evidence came from (governance/probe_sources.py: cctv, body-worn-video,
    #: social-media, public-submission, other) and who supplied it; None before 0018.
    source_type: Mapped[str | None] = mapped_column(String(32))
    supplied_by: Mapped[str | None] = mapped_column(String(200))
    #: An image searched after enhancement (media/enhancement.py): the ordered steps as
    #: replayed on this file to re-create what was searched (``version``, ``steps``, the
    #: enhanced size and ``pixels_sha256``); face boxes are in the enhanced image. None:
    #: searched as it is.
    enhancement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Face(Base):
    """One detection in one frame: box, landmarks, quality and provenance."""

    __tablename__ = "faces"

    id: Mapped[int] = mapped_column(primary_key=True)
    media_item_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"), index=True)
    reference_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("reference_images.id"), index=True
    )
    frame_index: Mapped[int | None] = mapped_column(Integer)
    timestamp_s: Mapped[float | None] = mapped_column(Float)
    box_x: Mapped[int] = mapped_column(Integer)
    box_y: Mapped[int] = mapped_column(Integer)
    box_w: Mapped[int] = mapped_column(Integer)
    box_h: Mapped[int] = mapped_column(Integer)
    landmarks: Mapped[list[Any]] = mapped_column(JSON)
    detector: Mapped[str] = mapped_column(String(64))
    detector_score: Mapped[float] = mapped_column(Float)
    quality: Mapped[float] = mapped_column(Float)
    quality_parts: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: For a searched probe face: the bar it had to clear and what that meant (threshold,
    #: z, expected FPIR at the gallery's size), or why it was not searched (too poor).
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: For a face a person marked by hand (detector ``manual``: the detector missed it), who
    #: marked it; None for a detected face.
    marked_by: Mapped[str | None] = mapped_column(String(100))
    #: For the lead face of a probe fused from several stills or sightings of one person
    #: (services/search/fused_probe.py): each part's provenance (file hash, box, frame,
    #: sighting) and whether it was used; the candidates reference this face. None otherwise.
    fused_parts: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def box(self) -> list[int]:
        return [self.box_x, self.box_y, self.box_w, self.box_h]


class Template(Base):
    """The vector used for matching, tagged with the model that made it."""

    __tablename__ = "templates"
    __table_args__ = (Index("ix_templates_gallery_model", "gallery_id", "model_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    gallery_id: Mapped[int | None] = mapped_column(ForeignKey("galleries.id"))
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    #: How the face became this vector (faces/engine_description.py), so templates made with
    #: other detector, alignment or jitter settings can be told apart. None before 0009.
    engine: Mapped[str | None] = mapped_column(String(300))
    dimension: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Candidate(Base):
    """One ranked gallery subject proposed for one probe face."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.id"), index=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)


class VideoJob(Base):
    """One ingest of video files into a case; re-running the same ingest resumes it."""

    __tablename__ = "video_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: SHA-256 of the case, the files' hashes and the parameters: what identifies a rerun.
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(32), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    #: Frames, seconds of video, wall seconds and the real-time factor of the last run.
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class VideoSegment(Base):
    """A finished time window of one file in one job: the unit a resumed job skips."""

    __tablename__ = "video_segments"
    __table_args__ = (UniqueConstraint("job_id", "media_item_id", "start_s"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("video_jobs.id"), index=True)
    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    frames_sampled: Mapped[int] = mapped_column(Integer)
    faces: Mapped[int] = mapped_column(Integer)
    sightings: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceCluster(Base):
    """A group of a case's sightings judged (by clustering, then by people) to be one person."""

    __tablename__ = "face_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: How it was made: {"method": ..., "min_similarity": ...} or {"split_from": id}.
    origin: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when a person merged this cluster into another (kept for the record).
    merged_into: Mapped[int | None] = mapped_column(Integer)


class Sighting(Base):
    """One person's continuous appearance in a video: times, best views, a fused template.

    ``face_id`` is the best-quality view; its template is the fused template
    of the whole appearance, so search and review work on sightings exactly
    as on faces in photos.
    """

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(primary_key=True)
    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("video_segments.id"), index=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id"), index=True)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    first_s: Mapped[float] = mapped_column(Float)
    last_s: Mapped[float] = mapped_column(Float)
    detections: Mapped[int] = mapped_column(Integer)
    #: The best views: [{"frame", "time_s", "box", "quality"}], best first.
    exemplars: Mapped[list[Any]] = mapped_column(JSON)
    cluster_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: How closely the fused views agree (their weighted mean's length, 1 for one view):
    #: a search raises the sighting's bar with it. None: stored before it was recorded.
    views_agreement: Mapped[float | None] = mapped_column(Float)


class Review(Base):
    """One reviewer's decision on one candidate; later decisions add rows, never edit."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    #: Structured comparison notes: feature → similar / different / not-visible
    #: (governance/review_policy.py::COMPARISON_FEATURES); None when none were noted.
    notes: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewResolution(Base):
    """A supervisor's resolution of a disputed candidate (two reviewers who disagree): the
    candidate's final standing. One per candidate; never edited."""

    __tablename__ = "review_resolutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), unique=True)
    supervisor: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    #: The standing the resolution gave (governance/review_policy.py::resolved_status).
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CandidateFinding(Base):
    """One search's finding of a candidate: which search, which of its probe faces, at what
    rank and score. A repeated search of the same evidence (same face or sighting, same
    subject) adds a finding to the existing candidate instead of a new candidate, so its
    reviews carry over and nobody reviews the same lead twice."""

    __tablename__ = "candidate_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.id"), index=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    #: True when the candidate existed before this search (found again, not created).
    reused: Mapped[bool] = mapped_column(Boolean, default=False)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryChange(Base):
    """One gallery version: what changed, for whom; replaying it gives any version's members."""

    __tablename__ = "gallery_changes"
    __table_args__ = (Index("ix_gallery_changes_gallery_version", "gallery_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("galleries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    #: Indexed: a subject's history is read back to count who joined or left since a
    #: version (services/biometrics/gallery_index.py) without reading the whole log.
    subject_id: Mapped[int | None] = mapped_column(Integer, index=True)
    change: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person who uses retroface, with exactly one role (separation of duties)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    #: Reviewers must have completed face-comparison training; the date is on record.
    training_completed_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    #: When the password was last set (creation or an admin's reset): password expiry.
    password_changed_at: Mapped[datetime | None] = mapped_column()


class LoginSession(Base):
    """A CLI or browser session; only the token's hash is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class ApiKey(Base):
    """A machine's credential: acts as one user (so with that user's one role); only its hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class DeploymentSetting(Base):
    """Deployment-wide values set by an admin (mode, threshold floor, ...), audited on change."""

    __tablename__ = "deployment_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalibrationRecord(Base):
    """A signed calibration an admin registered: the model and threshold it measured."""

    __tablename__ = "calibration_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    threshold: Mapped[float] = mapped_column()
    target_fpir: Mapped[float] = mapped_column()
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # as signed, signature included
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveDeployment(Base):
    """One authorised use of live recognition: where, why, when, against which watchlist.

    The counters are the published record (faces seen is a count only: no
    face of a person who is not on the watchlist is ever stored).
    """

    __tablename__ = "live_deployments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(300))
    authorised_by: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    gallery_id: Mapped[int] = mapped_column(ForeignKey("galleries.id"), index=True)
    gallery_version: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column()
    model: Mapped[str] = mapped_column(String(200))
    public_notice: Mapped[str] = mapped_column(Text)
    alert_retention_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    seconds_live: Mapped[float] = mapped_column(default=0.0)
    frames_processed: Mapped[int] = mapped_column(Integer, default=0)
    frames_dropped: Mapped[int] = mapped_column(Integer, default=0)
    faces_seen: Mapped[int] = mapped_column(Integer, default=0)


class LiveAlert(Base):
    """A watchlist match raised live, kept for the deployment's alert retention period."""

    __tablename__ = "live_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("live_deployments.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    score: Mapped[float] = mapped_column()
    #: Seconds into the stream, and when the frame was captured (wall clock).
    frame_time_s: Mapped[float] = mapped_column()
    frame_at: Mapped[datetime] = mapped_column()
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    latency_ms: Mapped[float] = mapped_column()
    #: Later frames of the same person within the cooldown join this alert, not a new one.
    frames: Mapped[int] = mapped_column(Integer, default=1)
    crop_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    box: Mapped[list[Any]] = mapped_column(JSON)
    engaged: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    adjudicated_by: Mapped[str | None] = mapped_column(String(100))
    adjudicated_at: Mapped[datetime | None] = mapped_column()
    purge_after: Mapped[datetime] = mapped_column(index=True)
    purged_at: Mapped[datetime | None] = mapped_column()


class SearchFaceDecision(Base):
    """What one search decided for one face it looked at (searched or not, its bar, the
    reasons). A footage sighting's face is shared by every search of that footage, so its
    own ``faces.decision`` holds only the latest; each search's is kept here. No foreign key
    on the face: a decision holds no biometric data and outlives nothing it should not."""

    __tablename__ = "search_face_decisions"
    __table_args__ = (UniqueConstraint("search_id", "face_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.id"), index=True)
    face_id: Mapped[int] = mapped_column(Integer, index=True)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)


class DuplicateDecision(Base):
    """A person's decision on two subjects a duplicate scan reported: distinct or merged.

    Withdrawn rather than deleted (``withdrawn_at``): a merge records the images it moved,
    so undoing it puts them back."""

    __tablename__ = "duplicate_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("galleries.id"), index=True)
    subject_low_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    subject_high_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    #: For a merge: the subject whose record continues (the other left search).
    kept_subject_id: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    moved_image_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))


class AuditEvent(Base):
    """Append-only record of a state change; never updated or deleted (triggers refuse)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    case_reference: Mapped[str | None] = mapped_column(String(200), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    event_hash: Mapped[str | None] = mapped_column(String(64))
