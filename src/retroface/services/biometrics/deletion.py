"""Deleting probe biometrics: the one place that knows what a probe leaves behind.

A probe face leaves a ``faces`` row (box, quality, provenance: kept, it is
the record of what was searched) and, where it produced a lead, a template
(the biometric: deleted here). Probe templates never enter a gallery index
and face crops are not stored, so the database is the only place to clean.
Callers audit the counts this returns, never the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from retroface.store.models import Candidate, Face, MediaItem, Review, Search, Template
from retroface.store.unit_of_work import UnitOfWork


def probe_face_ids(uow: UnitOfWork, search_ids: Sequence[str]) -> list[int]:
    if not search_ids:
        return []
    return list(
        uow.session.scalars(
            select(Face.id)
            .join(MediaItem, Face.media_item_id == MediaItem.id)
            .where(MediaItem.search_id.in_(list(search_ids)))
        )
    )


def case_face_ids(uow: UnitOfWork, case_id: int) -> list[int]:
    """Every probe face of a case: photos searched and footage ingested (sightings)."""
    return list(
        uow.session.scalars(
            select(Face.id)
            .join(MediaItem, Face.media_item_id == MediaItem.id)
            .where(MediaItem.case_id == case_id)
        )
    )


def delete_probe_templates(uow: UnitOfWork, face_ids: Sequence[int]) -> int:
    """Delete the templates of probe faces (never gallery templates); returns how many."""
    if not face_ids:
        return 0
    result = uow.session.execute(
        delete(Template).where(Template.face_id.in_(list(face_ids)), Template.subject_id.is_(None))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_search_probes(uow: UnitOfWork, searches: Sequence[Search], now: datetime) -> int:
    """All probe templates of these searches; marks each search purged. Idempotent."""
    deleted = delete_probe_templates(uow, probe_face_ids(uow, [s.id for s in searches]))
    for search in searches:
        search.probes_purged_at = search.probes_purged_at or now
    return deleted


def purge_search_results(uow: UnitOfWork, search: Search, now: datetime) -> dict[str, int]:
    """Candidates, their reviews and the probe templates of one search (EU-mode suspension)."""
    candidate_ids = list(
        uow.session.scalars(select(Candidate.id).where(Candidate.search_id == search.id))
    )
    reviews = uow.session.execute(delete(Review).where(Review.search_id == search.id))
    uow.session.execute(delete(Candidate).where(Candidate.search_id == search.id))
    templates = purge_search_probes(uow, [search], now)
    return {
        "candidates_deleted": len(candidate_ids),
        "reviews_deleted": int(reviews.rowcount or 0),  # type: ignore[attr-defined]
        "probe_templates_deleted": templates,
    }
