"""One candidate per (face or sighting, subject): finding the candidate an earlier search of
the same evidence already made.

A case's evidence is often searched more than once: the same photo uploaded again, the
same footage searched against a gallery and then with ``video find``. Each search stores
its own face rows (a re-uploaded image is a new media item), but the face is the same,
and so is the lead. A second candidate for it would send reviewers the same comparison
twice and let two sets of decisions on one lead disagree unseen. So before a candidate is
written, the case's candidates for the same subject are searched for the same face:

* the same face row (a footage sighting's best view: a repeated search of ingested
  footage reuses the case's sightings);
* or a face of evidence with the same SHA-256, in the same frame (None for a photo), whose
  box overlaps this one by at least :data:`SAME_FACE_OVERLAP` (intersection over union):
  the same image, searched again, gives the same box; a face marked by hand on it is
  close to the detector's box.

Only candidates of the same case count: need to know ends at the case.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select

from retroface.faces.face_choice import overlap
from retroface.faces.types import Box
from retroface.governance.review_policy import RESOLVED_NO_MATCH, candidate_status
from retroface.store.models import (
    Candidate,
    CandidateFinding,
    Face,
    MediaItem,
    Review,
    ReviewResolution,
    Search,
)
from retroface.store.unit_of_work import UnitOfWork

#: The least intersection over union at which two boxes on the same frame of the same
#: evidence file are one face (two people's faces in one image overlap far less).
SAME_FACE_OVERLAP = 0.5
#: The standings that reject a candidate (its probe template has no further use).
REJECTED_STANDINGS = frozenset({"no-match", RESOLVED_NO_MATCH})


def existing_candidates(
    uow: UnitOfWork, search_id: str, face_id: int, subject_ids: Iterable[int]
) -> dict[int, Candidate]:
    """Subject id → the case's existing candidate for this face (or the same face of the
    same evidence) and that subject, the oldest where there are several."""
    subjects = sorted(set(subject_ids))
    if not subjects:
        return {}
    face = uow.session.get(Face, face_id)
    search = uow.session.get(Search, search_id)
    if face is None or search is None:
        return {}
    media = uow.session.get(MediaItem, face.media_item_id) if face.media_item_id else None
    same_evidence = Candidate.face_id == face_id
    if media is not None:
        same_frame = (
            Face.frame_index.is_(None)
            if face.frame_index is None
            else Face.frame_index == face.frame_index
        )
        same_evidence = or_(same_evidence, (MediaItem.sha256 == media.sha256) & same_frame)
    rows = uow.session.execute(
        select(Candidate, Face)
        .join(Face, Candidate.face_id == Face.id)
        .join(MediaItem, Face.media_item_id == MediaItem.id)
        .join(Search, Candidate.search_id == Search.id)
        .where(
            Search.case_id == search.case_id,
            Candidate.subject_id.in_(subjects),
            same_evidence,
        )
        .order_by(Candidate.id)
    ).all()
    box = _box(face)
    found: dict[int, Candidate] = {}
    for candidate, other in rows:
        if candidate.subject_id in found:
            continue
        if other.id == face.id or overlap(box, _box(other)) >= SAME_FACE_OVERLAP:
            found[candidate.subject_id] = candidate
    return found


def _box(face: Face) -> Box:
    return Box(face.box_x, face.box_y, face.box_w, face.box_h)


def faces_found_only_rejected(uow: UnitOfWork, search_id: str) -> list[int]:
    """This search's probe faces whose every candidate was reused and already stands
    rejected (reviewed as no match, or rejected by a supervisor): their new probe templates
    serve no lead, so they go at once, as a reviewed non-match's do at review."""
    rows = uow.session.execute(
        select(
            CandidateFinding.face_id, CandidateFinding.candidate_id, CandidateFinding.reused
        ).where(CandidateFinding.search_id == search_id)
    ).all()
    by_face: dict[int, list[int]] = {}
    fresh: set[int] = set()
    for face_id, candidate_id, reused in rows:
        by_face.setdefault(face_id, []).append(candidate_id)
        if not reused:
            fresh.add(face_id)
    candidates = sorted({c for ids in by_face.values() for c in ids})
    if not candidates:
        return []
    resolved = dict(
        uow.session.execute(
            select(ReviewResolution.candidate_id, ReviewResolution.status).where(
                ReviewResolution.candidate_id.in_(candidates)
            )
        ).all()
    )
    reviews: dict[int, list[tuple[str, str]]] = {}
    for candidate_id, reviewer, outcome in uow.session.execute(
        select(Review.candidate_id, Review.reviewer, Review.outcome)
        .where(Review.candidate_id.in_(candidates))
        .order_by(Review.id)
    ):
        reviews.setdefault(candidate_id, []).append((reviewer, outcome))
    rejected = {
        c
        for c in candidates
        if (resolved.get(c) or candidate_status(reviews.get(c, []))) in REJECTED_STANDINGS
    }
    return sorted(
        face
        for face, ids in by_face.items()
        if face not in fresh and all(c in rejected for c in ids)
    )
