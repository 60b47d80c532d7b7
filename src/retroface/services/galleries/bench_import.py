"""BENCH-ONLY: import pre-computed templates into a gallery through the real store and index.

Why this exists: measuring a gallery of a million subjects (``bench/gallery_scale.py``)
needs a million subjects in the database and the index, and enrolling a million
photographs takes days on two cores. This imports templates that were computed
elsewhere (in the bench: synthetic templates fitted to real LFW templates, plus
real LFW templates of the mated people) as rows exactly like an enrolment's:
subject (with its provenance and review date), reference image, face, template
(sealed where the data directory is encrypted), gallery version and change log,
audit events, then the gallery index. Rows are inserted in batches (one
transaction, one version and one audit event per batch, naming its subjects by
id range) instead of one transaction per image.

It is not a way to enrol people: no image is read, no face found, no quality
checked; nothing in the CLI, the API or the web UI calls it, and every batch is
audited as ``gallery.bench_imported`` with ``bench_only: true`` so it can never be
mistaken for an enrolment. Use it only on a throw-away data directory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.orm import Session

from retroface.errors import InvalidInputError
from retroface.faces.types import ModelInfo
from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import (
    SubjectProvenance,
    check_capacity,
    checked_provenance,
)
from retroface.services.app import App
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.deployment.demo import is_demo_deployment
from retroface.services.galleries.manage import gallery_cap
from retroface.services.galleries.versions import lock_for_change
from retroface.store.data_protection import seal_template
from retroface.store.models import Face, GalleryChange, ReferenceImage, Subject, Template

#: Rows per transaction (each holds one gallery version and one audit event).
BATCH = 20_000
#: What the rows record where an enrolment records the image's detector and file.
DETECTOR = "bench-import"


class BenchImportReport(BaseModel):
    gallery: str
    subjects_created: int
    first_subject_id: int | None
    last_subject_id: int | None
    versions: list[int]
    index_config: str


def bench_import_templates(
    app: App,
    gallery_name: str,
    names: Sequence[str],
    templates: NDArray[np.floating],
    provenance: SubjectProvenance,
    *,
    model: ModelInfo | None = None,
    engine: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> BenchImportReport:
    """BENCH-ONLY (see the module's docstring): one new subject per name with one template
    each; then the gallery's index brought up to date (one delta, or a rebuild when the
    import is large next to the gallery). ``model``: the space of the templates (the
    running engine's by default). ``progress`` gets the number of subjects imported so far."""
    app.require(Action.GALLERY_ENROLL)
    model = model or app.engine.model
    rows = np.ascontiguousarray(templates, dtype=np.float32).reshape(len(names), -1)
    if rows.shape[1] != model.dimension:
        raise InvalidInputError(
            f"templates have {rows.shape[1]} values; the model has {model.dimension}"
        )
    if len(set(names)) != len(names):
        raise InvalidInputError("subject names repeat")
    with app.unit_of_work() as uow:
        checked = checked_provenance(
            provenance, app.now().date(), demo_deployment=is_demo_deployment(uow)
        )
    described = engine or app.engine_description
    versions: list[int] = []
    first = last = None
    for start in range(0, len(names), BATCH):
        ids, version = _import_batch(
            app, gallery_name, names[start : start + BATCH], rows[start : start + BATCH],
            checked, model, described,
        )  # fmt: skip
        first = ids[0] if first is None else first
        last = ids[-1]
        versions.append(version)
        if progress is not None:
            progress(min(len(names), start + BATCH))
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        index = load_gallery_index(
            uow, app.settings.index_dir, gallery, model, app.settings.index_exact_max
        )
    return BenchImportReport(
        gallery=gallery_name,
        subjects_created=len(names),
        first_subject_id=first,
        last_subject_id=last,
        versions=versions,
        index_config=index.config,
    )


def _inserted_ids(session: Session, model: type[Subject | ReferenceImage | Face],
                  rows: list[dict[str, Any]]) -> list[int]:  # fmt: skip
    """Insert ``rows``; their new ids in the rows' order. SQLite gives a multi-row insert
    consecutive rowids in row order (one writer at a time), so its ids are sorted rather than
    inserted one row per statement (SQLAlchemy's way to guarantee the order there)."""
    if session.get_bind().dialect.name == "sqlite":
        return sorted(session.scalars(insert(model).returning(model.id), rows))
    return list(
        session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    )


def _import_batch(
    app: App,
    gallery_name: str,
    names: Sequence[str],
    vectors: NDArray[np.float32],
    provenance: SubjectProvenance,
    model: ModelInfo,
    engine: str,
) -> tuple[list[int], int]:
    """One transaction: subjects, reference images, faces, templates, one version, one event.
    Returns the new subject ids and the gallery's version."""
    today = app.now().date()
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        version = lock_for_change(uow, gallery) + 1
        active = uow.galleries.active_subjects(gallery.id)
        check_capacity(gallery.name, active + len(names) - 1, gallery_cap(app, gallery))
        session = uow.session
        subject_ids = list(
            _inserted_ids(
                session,
                Subject,
                [
                    {
                        "gallery_id": gallery.id,
                        "name": name,
                        "category": provenance.category,
                        "external_ref": f"{provenance.record_id}-{name}",
                        "source_system": provenance.source_system,
                        "holding_basis": provenance.holding_basis,
                        "retention_class": provenance.retention_class,
                        "review_due_on": provenance.review_due(today),
                        "labels": provenance.labels or None,
                        "created_by": app.actor,
                    }
                    for name in names
                ],
            )
        )
        digests = [hashlib.sha256(v.tobytes()).hexdigest() for v in vectors]
        image_ids = list(
            _inserted_ids(
                session,
                ReferenceImage,
                [
                    {
                        "subject_id": sid,
                        "source_path": f"bench-import:{digest}",
                        "sha256": digest,
                        "category": "reference",
                        "byte_size": 0,
                        "width": 0,
                        "height": 0,
                        "format": "none",
                    }
                    for sid, digest in zip(subject_ids, digests, strict=True)
                ],
            )
        )
        face_ids = list(
            _inserted_ids(
                session,
                Face,
                [
                    {
                        "reference_image_id": image_id,
                        "box_x": 0,
                        "box_y": 0,
                        "box_w": 0,
                        "box_h": 0,
                        "landmarks": [],
                        "detector": DETECTOR,
                        "detector_score": 1.0,
                        "quality": 1.0,
                        "quality_parts": {},
                    }
                    for image_id in image_ids
                ],
            )
        )
        cipher = uow.cipher
        session.execute(
            insert(Template),
            [
                {
                    "face_id": face_id,
                    "subject_id": sid,
                    "gallery_id": gallery.id,
                    "model_name": model.name,
                    "model_version": model.version,
                    "engine": engine,
                    "dimension": model.dimension,
                    "vector": seal_template(cipher, face_id, vector),
                    "quality": 1.0,
                }
                for face_id, sid, vector in zip(face_ids, subject_ids, vectors, strict=True)
            ],
        )
        session.execute(
            insert(GalleryChange),
            [
                {
                    "gallery_id": gallery.id,
                    "version": version,
                    "subject_id": sid,
                    "change": "subject-added",
                    "changed_by": app.actor,
                }
                for sid in subject_ids
            ],
        )
        gallery.version = version
        app.audit(
            uow,
            action="gallery.bench_imported",
            object_type="gallery",
            object_id=gallery.id,
            gallery=gallery.name,
            gallery_version=version,
            bench_only=True,
            subjects=len(subject_ids),
            first_subject_id=subject_ids[0],
            last_subject_id=subject_ids[-1],
            model=model.tag,
            engine=engine,
            category=provenance.category,
            source_system=provenance.source_system,
        )
        uow.commit()
    return subject_ids, version
