"""Deleting biometric data: the one place that knows what each kind leaves behind.

Three kinds of biometric data are deleted, each for its own reason: probe
templates (retention after review or case closure), a subject's reference
images, faces and templates (a final removal or an erasure), and the face
crop of a live alert past its retention. The rows that record that
something happened (a search's faces, candidates, an alert's adjudication)
stay; the biometric goes.

A probe face leaves a ``faces`` row (box, quality, provenance: kept, it is
the record of what was searched) and, where it produced a lead, a template
(the biometric: deleted here). Probe templates never enter a gallery index
and face crops are not stored, so the database is the only place to clean.
Callers audit the counts this returns, never the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, event, or_, select, update

from retroface.services.app import App
from retroface.services.biometrics.uploaded_files import remove_files, uploaded_files_among
from retroface.store.models import (
    Candidate,
    CandidateFinding,
    Face,
    LiveAlert,
    MediaItem,
    ReferenceImage,
    Review,
    ReviewResolution,
    Search,
    Subject,
    Template,
)
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
    # Its findings, and every finding of the candidates it made (later searches that
    # found them again lose them too: the lead was this search's).
    uow.session.execute(
        delete(CandidateFinding).where(
            or_(
                CandidateFinding.search_id == search.id,
                CandidateFinding.candidate_id.in_(candidate_ids),
            )
        )
    )
    uow.session.execute(
        delete(ReviewResolution).where(ReviewResolution.candidate_id.in_(candidate_ids))
    )
    reviews = uow.session.execute(delete(Review).where(Review.search_id == search.id))
    uow.session.execute(delete(Candidate).where(Candidate.search_id == search.id))
    templates = purge_search_probes(uow, [search], now)
    return {
        "candidates_deleted": len(candidate_ids),
        "reviews_deleted": int(reviews.rowcount or 0),  # type: ignore[attr-defined]
        "probe_templates_deleted": templates,
    }


def purge_subject_data(uow: UnitOfWork, subject: Subject, app: App) -> dict[str, int]:
    """Delete a subject's images, faces and templates (final); the caller audits the counts."""
    session = uow.session
    image_ids = list(
        session.scalars(select(ReferenceImage.id).where(ReferenceImage.subject_id == subject.id))
    )
    face_ids = list(session.scalars(select(Face.id).where(Face.reference_image_id.in_(image_ids))))
    # Photos uploaded over HTTP are ours to delete (a CLI user's own files are not), once
    # the deletion of their rows has committed.
    uploaded = uploaded_files_among(
        app.settings.home,
        session.scalars(select(ReferenceImage.source_path).where(ReferenceImage.id.in_(image_ids))),
    )
    if uploaded:
        event.listen(session, "after_commit", lambda _: remove_files(uploaded), once=True)
    template_ids = list(
        session.scalars(select(Template.id).where(Template.subject_id == subject.id))
    )
    # Past candidate lists keep their rows (the search happened) but lose the template link.
    session.execute(
        update(Candidate).where(Candidate.template_id.in_(template_ids)).values(template_id=None)
    )
    session.execute(delete(Template).where(Template.id.in_(template_ids)))
    session.execute(delete(Face).where(Face.id.in_(face_ids)))
    session.execute(delete(ReferenceImage).where(ReferenceImage.id.in_(image_ids)))
    # Live alerts keep their adjudication (the statistics) but lose the face they showed.
    session.execute(
        update(LiveAlert)
        .where(LiveAlert.subject_id == subject.id, LiveAlert.purged_at.is_(None))
        .values(crop_jpeg=None, box=[], purged_at=app.now())
    )
    subject.removed_at = subject.removed_at or app.now()
    return {
        "images_deleted": len(image_ids),
        "faces_deleted": len(face_ids),
        "templates_deleted": len(template_ids),
        "uploaded_files_deleted": len(uploaded),
    }


def purge_expired_alerts(app: App, uow: UnitOfWork) -> int:
    """Delete the face crop and box of alerts past retention (in the caller's transaction)."""
    now = app.now()
    expired = uow.session.scalars(
        select(LiveAlert).where(LiveAlert.purge_after <= now, LiveAlert.purged_at.is_(None))
    ).all()
    for alert in expired:
        alert.crop_jpeg, alert.box, alert.purged_at = None, [], now
    if expired:
        app.audit(
            uow,
            action="live.alerts_purged",
            object_type="live_alert",
            object_id=",".join(str(a.id) for a in expired[:50]),
            alerts=len(expired),
        )
    return len(expired)
