"""Sighting templates of a case's footage, read back for search, ``video find`` and clustering.

A sighting's fused template is probe biometric data kept with the case: it
is read here, in one place, by the three uses that compare it, and deleted
with the case's other probe data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select

from retroface.faces.probe_fusion import UNRECORDED_AGREEMENT
from retroface.store.models import Face, MediaItem, Sighting, Template, VideoSegment
from retroface.store.unit_of_work import UnitOfWork


def sighting_vectors(
    uow: UnitOfWork, media_ids: Sequence[int], model_name: str, job_id: str | None = None
) -> list[tuple[Sighting, Face, MediaItem, np.ndarray]]:
    """Every sighting of these media items (of one ingest job, if named) with its fused
    template, in time order."""
    query = (
        select(Sighting, Face, MediaItem, Template.vector)
        .join(Face, Sighting.face_id == Face.id)
        .join(MediaItem, Sighting.media_item_id == MediaItem.id)
        .join(Template, Template.face_id == Face.id)
        .where(
            Sighting.media_item_id.in_(list(media_ids)),
            Template.subject_id.is_(None),
            Template.model_name == model_name,
        )
        .order_by(MediaItem.id, Sighting.first_s, Sighting.id)
    )
    if job_id is not None:
        query = query.join(VideoSegment, Sighting.segment_id == VideoSegment.id).where(
            VideoSegment.job_id == job_id
        )
    rows = uow.session.execute(query).all()
    return [(s, f, m, uow.templates.vector_of(f.id, v)) for s, f, m, v in rows]


def case_video_media(uow: UnitOfWork, case_id: int, sha256s: Sequence[str] | None) -> list[int]:
    query = select(MediaItem.id).where(
        MediaItem.case_id == case_id, MediaItem.media_type == "video"
    )
    if sha256s is not None:
        query = query.where(MediaItem.sha256.in_(list(sha256s)))
    return list(uow.session.scalars(query.order_by(MediaItem.id)))


def views_agreement(sighting: Sighting) -> float:
    """How closely the sighting's fused views agree (a search raises its bar by it); one
    stored before that was recorded counts as a low agreement (the higher bar)."""
    if sighting.views_agreement is None:
        return UNRECORDED_AGREEMENT
    return float(sighting.views_agreement)
