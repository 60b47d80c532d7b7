"""The analyst's workbench: what the results page, the reviewers' queue and the comparison
view read (web/pages.py shows them; this module decides what each person may see).

* :func:`search_results`: one search as its operator (and the case's reviewers, supervisors
  and auditors) sees it: every face searched, or found too poor to search and why, with a
  crop of it, and its ranked candidates with the reference face each matched.
* :func:`review_work` and :func:`next_pending`: the candidates still needing a decision,
  oldest first, across the cases the person may see (need to know), with filters.
* :func:`candidate_comparison`: everything a reviewer compares: both faces large enough to
  zoom, every reference image of the subject, the probe's whole frame with its box, and for
  footage the sighting's best views and time range.

Each read that shows faces is one audited event, as every view of biometric data is; the
faces are cut from the evidence and reference files on demand and never stored
(services/biometrics/face_views.py). A reviewer sees no earlier decision on a candidate
until they have recorded their own (services/cases/review.py).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pydantic import BaseModel, Field
from sqlalchemy import select

from retroface.errors import InvalidInputError, MediaError, NotFoundError
from retroface.governance.case_access import on_case_team
from retroface.governance.roles import Action, Role
from retroface.media.enhancement import steps_of
from retroface.media.video_reader import SamplingPolicy, iter_frames
from retroface.services.app import App
from retroface.services.biometrics.face_views import face_image, frame_pixels, stated_rate
from retroface.services.biometrics.uploaded_files import readable_upload
from retroface.services.cases.review import (
    AWAITING_YOU,
    PENDING,
    candidates_shown,
    shown_source,
)
from retroface.services.results import LEAD_NOTICE, CandidateReview
from retroface.store.models import (
    AuditEvent,
    Candidate,
    CandidateFinding,
    Case,
    Face,
    Gallery,
    MediaItem,
    ReferenceImage,
    Search,
    SearchFaceDecision,
    Sighting,
    Template,
    VideoSegment,
)
from retroface.store.unit_of_work import UnitOfWork

#: Side of a face thumbnail on the results page, and of a face in the comparison view
#: (large enough to zoom into: the crop keeps the evidence's own detail up to this size).
THUMB_PX = 160
COMPARE_PX = 480
#: The longest side of the probe's whole frame as shown.
FRAME_MAX_PX = 1280
JPEG_QUALITY = 88
#: The most best views of a sighting shown.
MAX_BEST_VIEWS = 6
#: Frames of a sighting's time range a reviewer can step through (the frame scrubber),
#: evenly spaced, each at most SCRUB_PX wide: enough to see the person move, small enough
#: for the page (they are embedded, never addressed by a URL).
SCRUB_FRAMES = 12
SCRUB_PX = 480
#: Why a face is not shown (the rest of the result still is); never a server path.
EVIDENCE_UNREADABLE = "the evidence file can no longer be read (moved, deleted or changed)"
#: The queue's status filters: ``pending`` (the default) is what still needs the person's
#: decision; ``all`` every candidate; the others one standing as the person sees it.
QUEUE_STATUSES = (
    "pending",
    "all",
    "unreviewed",
    "possible-match",
    "disputed",
    "inconclusive",
    "no-match",
    "confirmed",
)


class ResultCandidate(BaseModel):
    """A candidate as this search found it: its rank and score here (a candidate an earlier
    search of the same evidence made is reused, reviews and all)."""

    candidate: CandidateReview
    rank: int
    score: float
    reused: bool
    reference_jpeg: bytes | None = Field(description="the reference face it matched")


class SearchedFace(BaseModel):
    """One face of a search: a face in a photo, or a sighting's best view in footage."""

    face_id: int
    source: str
    frame: int | None
    timestamp_s: float | None
    box: list[int]
    quality: float
    searched: bool
    bar: float | None = None
    expected_fpir: float | None = None
    gallery_templates: int | None = None
    views_agreement: float | None = Field(
        default=None,
        description="a sighting's views' agreement (1: alike); its bar is raised by it",
    )
    low_quality: bool = False
    reasons: list[str] = Field(default_factory=list, description="what limits the face")
    marked_by: str | None = None
    #: The enhancement steps the probe image was searched after (None: not enhanced).
    enhancement: list[str] | None = None
    sighting_id: int | None = None
    first_s: float | None = None
    last_s: float | None = None
    crop_jpeg: bytes | None = None
    crop_missing: str | None = None
    candidates: list[ResultCandidate] = Field(default_factory=list)


class SearchResults(BaseModel):
    notice: str = LEAD_NOTICE
    search_id: str
    case: str
    gallery: str
    gallery_version: int
    threshold: float
    max_candidates: int
    model: str
    engine: str | None
    status: str
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    faces: list[SearchedFace]


class SearchSummary(BaseModel):
    search_id: str
    gallery: str
    gallery_version: int
    status: str
    requested_by: str
    started_at: datetime
    candidates: int


class ReviewWork(BaseModel):
    """The queue: the candidates that meet the filters, oldest first, and the filters'
    choices (the cases and searches the person may see)."""

    notice: str = LEAD_NOTICE
    items: list[CandidateReview]
    status: str
    case: str | None
    search_id: str | None
    cases: list[str]
    searches: list[SearchSummary]


class ReferenceView(BaseModel):
    reference_image_id: int
    taken_on: str | None
    category: str
    matched: bool = Field(description="the image whose template the candidate matched")
    jpeg: bytes


class BestView(BaseModel):
    time_s: float
    quality: float
    jpeg: bytes


class ScrubFrame(BaseModel):
    time_s: float
    jpeg: bytes


class Comparison(BaseModel):
    """Every image a reviewer compares for one candidate."""

    candidate_id: int
    probe_jpeg: bytes | None
    reference_jpeg: bytes | None
    references: list[ReferenceView]
    frame_jpeg: bytes | None
    frame_size: tuple[int, int] | None
    missing: str | None = None
    sighting_id: int | None = None
    first_s: float | None = None
    last_s: float | None = None
    detections: int | None = None
    best_views: list[BestView] = Field(default_factory=list)
    #: Evenly spaced frames of the sighting's time range, read from the evidence file.
    scrub_frames: list[ScrubFrame] = Field(default_factory=list)


def case_searches(app: App, reference: str) -> list[SearchSummary]:
    """The searches run under a case, newest first, for its page's links to their results
    (the case's team only; no faces, so not an audited read of biometric data)."""
    app.require(Action.CASE_READ, case_reference=reference)
    with app.unit_of_work() as uow:
        case = uow.cases.require(reference)
        return _summaries(uow, [case.id])


def search_results(app: App, search_id: str) -> SearchResults:
    """One search's faces and candidates with their images (an audited read)."""
    app.require(Action.REVIEW_READ, case_reference=_case_of_search(app, search_id))
    with app.unit_of_work() as uow:
        row = uow.session.execute(
            select(Search, Case, Gallery)
            .join(Case, Search.case_id == Case.id)
            .join(Gallery, Search.gallery_id == Gallery.id)
            .where(Search.id == search_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no search {search_id}")
        search, case, gallery = row
        candidates = candidates_shown(uow, app.principal, app.settings.home, search_id=search_id)
        faces = _searched_faces(uow, search, candidates, app.settings.home)
        app.audit(
            uow,
            action="search.results_viewed",
            object_type="search",
            object_id=search_id,
            case_reference=case.reference,
            faces_shown=sum(1 for f in faces if f.crop_jpeg),
            candidates=[c.candidate_id for c in candidates],
        )
        uow.commit()
        return SearchResults(
            search_id=search.id,
            case=case.reference,
            gallery=gallery.name,
            gallery_version=search.gallery_version,
            threshold=search.threshold,
            max_candidates=search.max_candidates,
            model=f"{search.model_name}@{search.model_version}",
            engine=search.engine,
            status=search.status,
            requested_by=search.requested_by,
            started_at=search.started_at,
            finished_at=search.finished_at,
            faces=faces,
        )


def review_work(
    app: App,
    *,
    case_reference: str | None = None,
    search_id: str | None = None,
    status: str = "pending",
) -> ReviewWork:
    """The candidates of the cases the person may see that meet the filters, oldest first
    (an audited read, as the case's candidate list is). ``pending``: for a reviewer, those
    awaiting their own decision; for anyone else, those not yet settled."""
    if status not in QUEUE_STATUSES:
        raise InvalidInputError(
            f"unknown status {status!r}; choose one of: {', '.join(QUEUE_STATUSES)}"
        )
    principal = app.require(
        Action.REVIEW_READ,
        case_reference=case_reference or (_case_of_search(app, search_id) if search_id else None),
    )
    with app.unit_of_work() as uow:
        visible = {
            case.id: case.reference
            for case in uow.session.scalars(select(Case).order_by(Case.id))
            if on_case_team(principal, app.case_team(uow, case))
        }
        wanted = list(visible)
        if case_reference is not None:
            wanted = [i for i, ref in visible.items() if ref == case_reference]
            if not wanted:
                raise NotFoundError(f"no case {case_reference}")
        shown = candidates_shown(
            uow, principal, app.settings.home, Case.id.in_(wanted), search_id=search_id
        )
        items = [c for c in shown if _meets(c, status, principal.role)]
        app.audit(
            uow,
            action="candidates.viewed",
            object_type="queue",
            object_id=status,
            case_reference=case_reference,
            search_id=search_id,
            candidates=[c.candidate_id for c in items],
        )
        uow.commit()
        return ReviewWork(
            items=items,
            status=status,
            case=case_reference,
            search_id=search_id,
            cases=sorted(visible.values()),
            searches=_summaries(uow, wanted),
        )


def next_pending(
    app: App, *, case_reference: str | None = None, search_id: str | None = None
) -> int | None:
    """The oldest candidate still awaiting the person's decision under the same filters: what
    a reviewer goes on to once a decision is recorded (None: the queue is empty)."""
    work = review_work(app, case_reference=case_reference, search_id=search_id)
    return work.items[0].candidate_id if work.items else None


def candidate_comparison(app: App, candidate_id: int) -> Comparison:
    """Every image of a candidate a reviewer compares, in one audited read."""
    with app.unit_of_work() as uow:
        reference = uow.session.scalar(
            select(Case.reference)
            .join(Search, Search.case_id == Case.id)
            .join(Candidate, Candidate.search_id == Search.id)
            .where(Candidate.id == candidate_id)
        )
    app.require(Action.REVIEW_READ, case_reference=reference)  # need to know, before any face
    with app.unit_of_work() as uow:
        candidate = uow.session.get(Candidate, candidate_id)
        if candidate is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        comparison = _comparison(uow, candidate)
        app.audit(
            uow,
            action="candidate.faces_viewed",
            object_type="candidate",
            object_id=candidate_id,
            case_reference=reference,
            references=len(comparison.references),
            frame=comparison.frame_jpeg is not None,
            best_views=len(comparison.best_views),
        )
        uow.commit()
        return comparison


def _meets(c: CandidateReview, status: str, role: Role) -> bool:
    if status == "all":
        return True
    if status == "pending":
        return c.status == AWAITING_YOU or (role is not Role.REVIEWER and c.status in PENDING)
    return c.status == status


def _case_of_search(app: App, search_id: str | None) -> str | None:
    with app.unit_of_work() as uow:
        return uow.session.scalar(
            select(Case.reference)
            .join(Search, Search.case_id == Case.id)
            .where(Search.id == search_id)
        )


def _summaries(uow: UnitOfWork, case_ids: list[int]) -> list[SearchSummary]:
    rows = uow.session.execute(
        select(Search, Gallery.name)
        .join(Gallery, Search.gallery_id == Gallery.id)
        .where(Search.case_id.in_(case_ids))
        .order_by(Search.started_at.desc())
    ).all()
    counts: dict[str, int] = {}
    for (sid,) in uow.session.execute(
        select(CandidateFinding.search_id).where(
            CandidateFinding.search_id.in_([s.id for s, _ in rows])
        )
    ):
        counts[sid] = counts.get(sid, 0) + 1
    return [
        SearchSummary(
            search_id=s.id,
            gallery=name,
            gallery_version=s.gallery_version,
            status=s.status,
            requested_by=s.requested_by,
            started_at=s.started_at,
            candidates=counts.get(s.id, 0),
        )
        for s, name in rows
    ]


def _searched_faces(
    uow: UnitOfWork, search: Search, candidates: list[CandidateReview], home: Path
) -> list[SearchedFace]:
    """The probe faces of the search's photos (searched or not), then its footage's
    sightings (from the ingest job the search matched), each with its candidates."""
    shown = {c.candidate_id: c for c in candidates}
    by_face: dict[int, list[tuple[CandidateReview, CandidateFinding]]] = {}
    for finding in uow.session.scalars(
        select(CandidateFinding)
        .where(CandidateFinding.search_id == search.id)
        .order_by(CandidateFinding.face_id, CandidateFinding.rank)
    ):
        if finding.candidate_id in shown:
            by_face.setdefault(finding.face_id, []).append((shown[finding.candidate_id], finding))
    rows: list[tuple[Face, MediaItem, Sighting | None]] = [
        (face, media, None)
        for face, media in uow.session.execute(
            select(Face, MediaItem)
            .join(MediaItem, Face.media_item_id == MediaItem.id)
            .where(MediaItem.search_id == search.id, Face.reference_image_id.is_(None))
            .order_by(MediaItem.id, Face.id)
        )
    ]
    sightings = _footage_sightings(uow, search.id, set(by_face))
    rows += sightings
    references: dict[int, bytes | None] = {}
    # A sighting's face is shared by every search of its footage: this search's decision.
    own = {
        face_id: decision
        for face_id, decision in uow.session.execute(
            select(SearchFaceDecision.face_id, SearchFaceDecision.decision).where(
                SearchFaceDecision.search_id == search.id
            )
        )
    }
    out = []
    for face, media, sighting in rows:
        crop, missing = _crop(uow, media, face, THUMB_PX)
        decision: dict[str, Any] = own.get(face.id) or face.decision or {"searched": True}
        found = [
            ResultCandidate(
                candidate=c,
                rank=finding.rank,
                score=round(finding.score, 4),
                reused=finding.reused,
                reference_jpeg=_reference_of(uow, c.candidate_id, references),
            )
            for c, finding in by_face.get(face.id, [])
        ]
        out.append(
            SearchedFace(
                face_id=face.id,
                source=shown_source(media.source_path, home),
                frame=face.frame_index,
                timestamp_s=face.timestamp_s,
                box=face.box,
                quality=round(face.quality, 3),
                searched=bool(decision.get("searched", True)),
                bar=decision.get("threshold"),
                expected_fpir=decision.get("expected_fpir"),
                gallery_templates=decision.get("gallery_templates"),
                views_agreement=decision.get("views_agreement"),
                low_quality=bool(decision.get("low_quality")),
                reasons=list(decision.get("reasons") or []),
                marked_by=face.marked_by,
                enhancement=steps_of(media.enhancement) if media.enhancement else None,
                sighting_id=sighting.id if sighting else None,
                first_s=round(sighting.first_s, 2) if sighting else None,
                last_s=round(sighting.last_s, 2) if sighting else None,
                crop_jpeg=crop,
                crop_missing=missing,
                candidates=found,
            )
        )
    return out


def _footage_sightings(
    uow: UnitOfWork, search_id: str, candidate_faces: set[int]
) -> list[tuple[Face, MediaItem, Sighting | None]]:
    """The sightings a footage search matched: those of the ingest job its
    ``search.media_processed`` event records (with or without candidates), else those
    that gave it candidates."""
    events = uow.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "search.media_processed",
            AuditEvent.object_type == "search",
            AuditEvent.object_id == search_id,
        )
    ).all()
    jobs = {str(e.details.get("ingest_job")) for e in events if e.details.get("ingest_job")}
    hashes = {h for e in events for h in e.details.get("videos") or []}
    query = (
        select(Face, MediaItem, Sighting)
        .join(Sighting, Sighting.face_id == Face.id)
        .join(MediaItem, Sighting.media_item_id == MediaItem.id)
    )
    if jobs:
        query = query.join(VideoSegment, Sighting.segment_id == VideoSegment.id).where(
            VideoSegment.job_id.in_(jobs), MediaItem.sha256.in_(hashes)
        )
    elif candidate_faces:
        query = query.where(Face.id.in_(candidate_faces))
    else:
        return []
    found = uow.session.execute(query.order_by(MediaItem.id, Sighting.first_s, Sighting.id))
    return [(face, media, sighting) for face, media, sighting in found]


def _crop(
    uow: UnitOfWork, media: MediaItem, face: Face, size: int
) -> tuple[bytes | None, str | None]:
    """A face cut from its evidence file, or why it cannot be."""
    try:
        with readable_upload(uow.cipher, Path(media.source_path)) as source:
            image = face_image(
                source,
                _box(face),
                face.timestamp_s,
                face.frame_index,
                size,
                enhancement=media.enhancement,  # an enhanced probe: boxes in its enhanced image
            )
    except (MediaError, FileNotFoundError):
        return None, EVIDENCE_UNREADABLE
    return _jpeg(image), None


def _reference_of(
    uow: UnitOfWork, candidate_id: int, done: dict[int, bytes | None]
) -> bytes | None:
    """The reference face a candidate matched (one crop per template, however many
    candidates share it)."""
    candidate = uow.session.get(Candidate, candidate_id)
    if candidate is None or candidate.template_id is None:
        return None
    if candidate.template_id not in done:
        done[candidate.template_id] = _template_face(uow, candidate.template_id, THUMB_PX)
    return done[candidate.template_id]


def _template_face(uow: UnitOfWork, template_id: int, size: int) -> bytes | None:
    row = uow.session.execute(
        select(Face, ReferenceImage)
        .join(Template, Template.face_id == Face.id)
        .join(ReferenceImage, ReferenceImage.id == Face.reference_image_id)
        .where(Template.id == template_id)
    ).first()
    return _reference_crop(uow, row[0], row[1], size) if row else None


def _reference_crop(uow: UnitOfWork, face: Face, image: ReferenceImage, size: int) -> bytes | None:
    if not Path(image.source_path).is_file():
        return None
    try:
        with readable_upload(uow.cipher, Path(image.source_path)) as source:
            return _jpeg(face_image(source, _box(face), None, None, size))
    except (MediaError, FileNotFoundError):
        return None


def _comparison(uow: UnitOfWork, candidate: Candidate) -> Comparison:
    probe = uow.session.get(Face, candidate.face_id)
    media = (
        uow.session.get(MediaItem, probe.media_item_id) if probe and probe.media_item_id else None
    )
    matched_image = uow.session.scalar(
        select(Face.reference_image_id)
        .join(Template, Template.face_id == Face.id)
        .where(Template.id == candidate.template_id)
    )
    references = [
        ReferenceView(
            reference_image_id=image.id,
            taken_on=image.taken_on.isoformat() if image.taken_on else None,
            category=image.category,
            matched=image.id == matched_image,
            jpeg=jpeg,
        )
        for face, image in uow.session.execute(
            select(Face, ReferenceImage)
            .join(ReferenceImage, ReferenceImage.id == Face.reference_image_id)
            .where(ReferenceImage.subject_id == candidate.subject_id)
            .order_by(ReferenceImage.id, Face.id)
        )
        if (jpeg := _reference_crop(uow, face, image, COMPARE_PX)) is not None
    ]
    references.sort(key=lambda r: not r.matched)  # the matched image first
    reference = references[0].jpeg if references and references[0].matched else None
    if probe is None or media is None:
        return Comparison(
            candidate_id=candidate.id,
            probe_jpeg=None,
            reference_jpeg=reference,
            references=references,
            frame_jpeg=None,
            frame_size=None,
            missing="the probe was deleted under retention",
        )
    try:
        with readable_upload(uow.cipher, Path(media.source_path)) as source:
            pixels = frame_pixels(source, probe.timestamp_s, probe.frame_index, media.enhancement)
            sighting = uow.session.scalar(select(Sighting).where(Sighting.face_id == probe.id))
            best = _best_views(source, sighting, probe) if sighting else []
            scrub = _scrub_frames(source, sighting, probe) if sighting else []
    except (MediaError, FileNotFoundError):
        return Comparison(
            candidate_id=candidate.id,
            probe_jpeg=None,
            reference_jpeg=reference,
            references=references,
            frame_jpeg=None,
            frame_size=None,
            missing=EVIDENCE_UNREADABLE,
        )
    whole = Image.fromarray(pixels)
    x, y, w, h = _box(probe)
    margin = max(w, h) // 3
    crop = whole.crop((x - margin, y - margin, x + w + margin, y + h + margin))
    frame, size = _framed(whole, _box(probe))
    return Comparison(
        candidate_id=candidate.id,
        probe_jpeg=_jpeg(crop.resize((COMPARE_PX, COMPARE_PX))),
        reference_jpeg=reference,
        references=references,
        frame_jpeg=frame,
        frame_size=size,
        sighting_id=sighting.id if sighting else None,
        first_s=round(sighting.first_s, 2) if sighting else None,
        last_s=round(sighting.last_s, 2) if sighting else None,
        detections=sighting.detections if sighting else None,
        best_views=best,
        scrub_frames=scrub,
    )


def _scrub_frames(source: Path, sighting: Sighting, probe: Face) -> list[ScrubFrame]:
    """Up to :data:`SCRUB_FRAMES` frames evenly spaced over the sighting's time range, read
    in one pass from the evidence file (a raw stream at the rate its frames were timed at);
    a file damaged within the range gives the frames before the damage."""
    span = max(sighting.last_s - sighting.first_s, 0.0)
    rate = SCRUB_FRAMES / span if span > 0 else 1.0
    policy = SamplingPolicy(
        "per_second", rate, stream_fps=stated_rate(probe.frame_index, probe.timestamp_s)
    )
    frames: list[ScrubFrame] = []
    try:
        for frame in iter_frames(
            source, policy, start_s=sighting.first_s, end_s=sighting.last_s + 0.001
        ):
            image = Image.fromarray(frame.pixels)
            scale = min(1.0, SCRUB_PX / image.width)
            if scale < 1.0:
                image = image.resize((SCRUB_PX, round(image.height * scale)))
            frames.append(ScrubFrame(time_s=round(frame.time_s, 2), jpeg=_jpeg(image)))
            if len(frames) >= SCRUB_FRAMES:
                break
    except MediaError:
        pass  # the frames before the damage are still worth showing
    return frames


def _best_views(source: Path, sighting: Sighting, probe: Face) -> list[BestView]:
    """The sighting's best views (its exemplars, best first), each cut from its own frame."""
    views = []
    for exemplar in (sighting.exemplars or [])[:MAX_BEST_VIEWS]:
        box = exemplar.get("box")
        when = exemplar.get("time_s")
        if not box or when is None:
            continue
        x, y, w, h = (int(v) for v in box)
        image = face_image(source, (x, y, w, h), float(when), exemplar.get("frame"), THUMB_PX)
        views.append(
            BestView(
                time_s=round(float(when), 2),
                quality=round(float(exemplar.get("quality") or probe.quality), 3),
                jpeg=_jpeg(image),
            )
        )
    return views


def _framed(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[bytes, tuple[int, int]]:
    """The whole frame, at most :data:`FRAME_MAX_PX` on its longer side, with the probe's box
    drawn on it (drawn into the image: the page needs no script or style to place it)."""
    scale = min(1.0, FRAME_MAX_PX / max(image.size))
    shown = image.convert("RGB")
    if scale < 1.0:
        shown = shown.resize((round(image.width * scale), round(image.height * scale)))
    x, y, w, h = (round(v * scale) for v in box)
    line = max(2, round(max(shown.size) / 300))
    draw = ImageDraw.Draw(shown)
    draw.rectangle(
        (x - line, y - line, x + w + line, y + h + line), outline=(255, 200, 0), width=line
    )
    return _jpeg(shown), shown.size


def _box(face: Face) -> tuple[int, int, int, int]:
    return face.box_x, face.box_y, face.box_w, face.box_h


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
