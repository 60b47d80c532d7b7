"""Duplicate and alias records in a gallery: found by an N:N self-search, decided by a person.

A custody collection of millions holds one person under several records
(aliases, re-arrests under another name, data-entry slips). Left alone they
split a person's references (weaker search) and put two names on one face
in a candidate list. The scan searches every template of the gallery against
the gallery itself for its few nearest neighbours (``index/self_search.py``):
exactly up to 50,000 templates, beyond through an IVF index built for the scan
from the gallery's templates, so that each template reads a small share of the
gallery instead of all of it (a million-subject gallery in minutes on two cores,
not hours; ``bench/duplicate_scan.py --compare-exact`` measures what the
approximation misses).

Which pairs are reported is the deployment's open-set rule applied to each
subject as a probe against the other N-1 templates, at a target FPIR of its
own (default 1e-4): a subject with no other record of the same person is
reported with that probability, so a gallery of N subjects yields about
N x target false pairs, printed with the report. Every pair is a lead for a
supervisor, never an automatic merge: merging two records or marking them
distinct is a person's decision, audited, and a merge is undone by
:func:`undo_duplicate_decision` (the moved images are recorded).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel
from sqlalchemy import select, update

from retroface.errors import InvalidInputError, NotFoundError
from retroface.governance.roles import Action
from retroface.index import self_neighbours
from retroface.services.app import App
from retroface.services.biometrics.face_views import subject_reference_png
from retroface.services.biometrics.gallery_index import refresh_gallery_indexes
from retroface.services.deployment.calibrations import open_set_model
from retroface.services.galleries.versions import bump_version
from retroface.services.progress import Progress, SilentProgress
from retroface.store.models import (
    DuplicateDecision,
    Face,
    Gallery,
    ReferenceImage,
    Subject,
    Template,
)
from retroface.store.unit_of_work import UnitOfWork

#: Neighbours looked at per template (itself included): a person rarely has more aliases.
NEIGHBOURS = 6
#: The chance that a subject with no other record is reported anyway (per subject).
DEFAULT_TARGET_FPIR = 1e-4
DECISIONS = {
    "distinct": "different people: the pair is not reported again",
    "merge": "one person: the second record's images join the first, the second leaves search",
}


class DuplicatePair(BaseModel):
    """Two subjects whose references look like one person."""

    subject_a: str
    subject_b: str
    subject_a_id: int
    subject_b_id: int
    score: float
    record_a: str | None
    record_b: str | None


class DuplicateReport(BaseModel):
    gallery: str
    gallery_version: int
    templates: int
    subjects: int
    threshold: float
    target_fpir: float
    #: Subjects x target FPIR: how many reported pairs chance alone would give.
    expected_false_pairs: float
    decision_rule: str
    #: How the gallery was searched against itself: "exact" or the scan's IVF index.
    scan: str = "exact"
    pairs: list[DuplicatePair]
    already_decided: int


class DuplicateDecisionOut(BaseModel):
    id: int
    gallery: str
    subject_a: str
    subject_b: str
    decision: str
    reason: str
    moved_images: int
    gallery_version: int


def find_duplicates(
    app: App,
    gallery_name: str,
    *,
    target_fpir: float = DEFAULT_TARGET_FPIR,
    progress: Progress | None = None,
    exact: bool | None = None,
) -> DuplicateReport:
    """Pairs of active subjects of ``gallery_name`` above the duplicate bar, best first.

    ``exact``: compare every pair (True) or search a scan-only IVF index (False); None
    decides by the gallery's size (``index/self_search.py``: exact up to 50,000
    templates). The report and the audit event record which was used."""
    app.require(Action.GALLERY_CONFIGURE)
    if not 0 < target_fpir < 0.5:
        raise InvalidInputError(f"--target-fpir must be between 0 and 0.5, got {target_fpir}")
    progress = progress or SilentProgress()
    model = app.engine.model
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        ids, owners, vectors = uow.templates.gallery_vectors_and_subjects(
            gallery.id, model.name, model.version, model.dimension
        )
        threshold, rule = _duplicate_bar(app, uow, vectors, target_fpir)
        decided = _decided_pairs(uow, gallery.id)
        version = gallery.version
        progress.start("Searching the gallery against itself", len(ids))
        found = self_neighbours(vectors, NEIGHBOURS, exact=exact, progress=progress.advance)
        del vectors
        progress.finish()
        best = _pairs_above(owners, found.scores, found.rows, threshold)
        skipped = sum(1 for pair in best if pair in decided)
        pairs = sorted(
            ((pair, score) for pair, score in best.items() if pair not in decided),
            key=lambda item: -item[1],
        )
        # only the subjects reported are read: a million Subject rows cost minutes
        wanted = sorted({s for (a, b), _ in pairs for s in (a, b)})
        subjects = {
            k: v
            for start in range(0, len(wanted), 5_000)  # an IN list the drivers accept
            for k, v in uow.subjects.by_ids(wanted[start : start + 5_000]).items()
        }
        subject_count = len(np.unique(owners))
        report = DuplicateReport(
            gallery=gallery.name,
            gallery_version=version,
            templates=len(ids),
            subjects=subject_count,
            threshold=round(threshold, 4),
            target_fpir=target_fpir,
            expected_false_pairs=round(subject_count * target_fpir, 2),
            decision_rule=rule,
            scan=found.config,
            pairs=[_pair_out(subjects[a], subjects[b], score) for (a, b), score in pairs],
            already_decided=skipped,
        )
        app.audit(
            uow,
            action="gallery.duplicates_scanned",
            object_type="gallery",
            object_id=gallery.id,
            gallery=gallery.name,
            gallery_version=version,
            templates=len(ids),
            threshold=report.threshold,
            target_fpir=target_fpir,
            scan=found.config,
            pairs=len(report.pairs),
        )
        uow.commit()
    return report


def decide_duplicate(
    app: App, gallery_name: str, subject_a: str, subject_b: str, decision: str, reason: str
) -> DuplicateDecisionOut:
    """Record a person's decision on a reported pair: ``distinct`` or ``merge`` (b into a)."""
    app.require(Action.GALLERY_REMOVE_SUBJECT)
    if decision not in DECISIONS:
        raise InvalidInputError(
            f"decision must be one of: {', '.join(DECISIONS)} (got {decision!r})"
        )
    if not reason.strip():
        raise InvalidInputError("a duplicate decision needs a reason (what the images show)")
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        keep = uow.subjects.require(gallery, subject_a)
        other = uow.subjects.require(gallery, subject_b)
        if keep.id == other.id:
            raise InvalidInputError("a subject cannot be a duplicate of itself")
        for subject in (keep, other):
            if subject.removed_at is not None:
                raise InvalidInputError(
                    f"{subject.name!r} is removed from {gallery.name!r}; restore them first"
                )
        low, high = sorted((keep.id, other.id))
        if _decided(uow, gallery.id, low, high) is not None:
            raise InvalidInputError(
                f"{keep.name!r} and {other.name!r} already have a decision; undo it first"
            )
        moved = _merge(app, uow, gallery, keep, other) if decision == "merge" else []
        row = DuplicateDecision(
            gallery_id=gallery.id,
            subject_low_id=low,
            subject_high_id=high,
            kept_subject_id=keep.id if decision == "merge" else None,
            decision=decision,
            reason=reason.strip(),
            moved_image_ids=moved,
            decided_by=app.actor,
        )
        uow.session.add(row)
        uow.flush()
        app.audit(
            uow,
            action="gallery.duplicate_decided",
            object_type="duplicate_decision",
            object_id=row.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            decision=decision,
            subject_a_id=keep.id,
            subject_b_id=other.id,
            moved_images=len(moved),
            reason=row.reason,
        )
        uow.commit()
        out = _decision_out(row, gallery, keep, other)
        gallery_id = gallery.id
    if decision == "merge":
        refresh_gallery_indexes(app, gallery_id)
    return out


def undo_duplicate_decision(app: App, decision_id: int, reason: str) -> DuplicateDecisionOut:
    """Withdraw a decision: a merge's images go back to the second record, which returns to
    search; a ``distinct`` pair may be reported again."""
    app.require(Action.GALLERY_REMOVE_SUBJECT)
    if not reason.strip():
        raise InvalidInputError("undoing a duplicate decision needs a reason")
    with app.unit_of_work() as uow:
        row = uow.session.get(DuplicateDecision, decision_id)
        if row is None or row.withdrawn_at is not None:
            raise NotFoundError(f"no standing duplicate decision {decision_id}")
        gallery = uow.session.get(Gallery, row.gallery_id)
        assert gallery is not None
        low = uow.session.get(Subject, row.subject_low_id)
        high = uow.session.get(Subject, row.subject_high_id)
        assert low is not None and high is not None
        keep, other = (low, high) if row.kept_subject_id in (None, low.id) else (high, low)
        if row.decision == "merge":
            _move_images(uow, list(row.moved_image_ids or []), other.id)
            other.removed_at = None
            bump_version(uow, gallery, app.actor, "subject-restored", other.id)
        row.withdrawn_at = app.now()
        row.withdrawn_by = app.actor
        app.audit(
            uow,
            action="gallery.duplicate_undone",
            object_type="duplicate_decision",
            object_id=row.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            decision=row.decision,
            reason=reason.strip(),
        )
        uow.commit()
        out = _decision_out(row, gallery, keep, other)
        gallery_id = gallery.id
    if row.decision == "merge":
        refresh_gallery_indexes(app, gallery_id)
    return out


def subject_faces(app: App, gallery_name: str, subject_ids: list[int]) -> dict[int, bytes | None]:
    """Each subject's first reference face (PNG; None when its file is gone), for a
    supervisor comparing a reported pair side by side: an audited read of biometric data."""
    app.require(Action.GALLERY_CONFIGURE)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        members = {s.id for s in uow.subjects.in_gallery(gallery.id)}
        wanted = [i for i in dict.fromkeys(subject_ids) if i in members]
        faces = {i: subject_reference_png(uow, i) for i in wanted}
        app.audit(
            uow,
            action="gallery.duplicate_faces_viewed",
            object_type="gallery",
            object_id=gallery.id,
            gallery=gallery.name,
            subject_ids=wanted,
        )
        uow.commit()
    return faces


def _duplicate_bar(
    app: App, uow: UnitOfWork, vectors: np.ndarray, target_fpir: float
) -> tuple[float, str]:
    """The raw score a pair must reach: the open-set bar of one subject searched against
    the rest of the gallery at ``target_fpir`` (never below the deployment's floor)."""
    floor = app.settings.threshold
    if len(vectors) < 2:
        return floor, "the deployment's threshold floor (fewer than two templates to compare)"
    model = open_set_model(uow, app.engine.model.tag)
    if model is None or model.norm is not None:
        return floor, "the deployment's threshold floor (no raw-score open-set calibration)"
    z = model.z_bar(target_fpir, len(vectors) - 1)
    return max(floor, z), "open-set: each subject as a probe against the other templates"


def _pairs_above(
    owners: NDArray[np.int64],
    scores: NDArray[np.float32],
    rows: NDArray[np.int64],
    threshold: float,
) -> dict[tuple[int, int], float]:
    """(low subject id, high subject id) → best score, for every neighbour at or above
    ``threshold`` that belongs to another subject. Vectorised: a million templates with
    six neighbours each are six million candidates, too many for a Python loop."""
    valid = (rows >= 0) & (scores >= threshold)
    mine = np.broadcast_to(owners[:, None], rows.shape)[valid]
    theirs = owners[np.where(valid, rows, 0)][valid]
    score = scores[valid]
    other = mine != theirs
    low = np.minimum(mine[other], theirs[other])
    high = np.maximum(mine[other], theirs[other])
    best: dict[tuple[int, int], float] = {}
    for a, b, value in zip(low.tolist(), high.tolist(), score[other].tolist(), strict=True):
        if value > best.get((a, b), -1.0):
            best[(a, b)] = value
    return best


def _decided_pairs(uow: UnitOfWork, gallery_id: int) -> set[tuple[int, int]]:
    rows = uow.session.execute(
        select(DuplicateDecision.subject_low_id, DuplicateDecision.subject_high_id).where(
            DuplicateDecision.gallery_id == gallery_id,
            DuplicateDecision.withdrawn_at.is_(None),
        )
    ).all()
    return {(int(a), int(b)) for a, b in rows}


def _decided(uow: UnitOfWork, gallery_id: int, low: int, high: int) -> DuplicateDecision | None:
    return uow.session.scalars(
        select(DuplicateDecision).where(
            DuplicateDecision.gallery_id == gallery_id,
            DuplicateDecision.subject_low_id == low,
            DuplicateDecision.subject_high_id == high,
            DuplicateDecision.withdrawn_at.is_(None),
        )
    ).first()


def _merge(app: App, uow: UnitOfWork, gallery: Gallery, keep: Subject, other: Subject) -> list[int]:
    """Move ``other``'s images (and their templates) to ``keep`` and take ``other`` out of
    search. An image ``keep`` already has (same SHA-256) stays with ``other``: the record
    keeps it, search does not need it twice. Returns the moved image ids."""
    held = set(
        uow.session.scalars(
            select(ReferenceImage.sha256).where(ReferenceImage.subject_id == keep.id)
        )
    )
    moving = [
        image.id
        for image in uow.session.scalars(
            select(ReferenceImage).where(ReferenceImage.subject_id == other.id)
        )
        if image.sha256 not in held
    ]
    _move_images(uow, moving, keep.id)
    other.removed_at = app.now()
    bump_version(uow, gallery, app.actor, "subject-merged", other.id)
    return moving


def _move_images(uow: UnitOfWork, image_ids: list[int], subject_id: int) -> None:
    """Re-assign reference images and the templates made from them to ``subject_id``."""
    if not image_ids:
        return
    uow.session.execute(
        update(ReferenceImage).where(ReferenceImage.id.in_(image_ids)).values(subject_id=subject_id)
    )
    face_ids = select(Face.id).where(Face.reference_image_id.in_(image_ids))
    uow.session.execute(
        update(Template).where(Template.face_id.in_(face_ids)).values(subject_id=subject_id)
    )


def _pair_out(a: Subject, b: Subject, score: float) -> DuplicatePair:
    return DuplicatePair(
        subject_a=a.name,
        subject_b=b.name,
        subject_a_id=a.id,
        subject_b_id=b.id,
        score=round(score, 4),
        record_a=a.external_ref,
        record_b=b.external_ref,
    )


def _decision_out(
    row: DuplicateDecision, gallery: Gallery, keep: Subject, other: Subject
) -> DuplicateDecisionOut:
    return DuplicateDecisionOut(
        id=row.id,
        gallery=gallery.name,
        subject_a=keep.name,
        subject_b=other.name,
        decision=row.decision,
        reason=row.reason,
        moved_images=len(row.moved_image_ids or []),
        gallery_version=gallery.version,
    )
