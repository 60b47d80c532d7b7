"""Enroll reference images into a gallery: in bulk, on all cores, resumable.

Each image commits in its own transaction together with its audit event,
so an interrupted run keeps everything finished before the interruption;
re-running skips images already enrolled for the same subject (matched by
SHA-256, not by file name), so nothing is duplicated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from retroface.errors import InvalidInputError, RetrofaceError
from retroface.faces import AnalysedFace, FileAnalysis, analyse_files
from retroface.faces.face_choice import choose_single_face
from retroface.faces.matchability import limiting_reasons
from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import (
    SubjectProvenance,
    check_capacity,
    checked_provenance,
)
from retroface.media import sha256_file
from retroface.services.app import App
from retroface.services.biometrics.face_records import face_row, template_row
from retroface.services.biometrics.gallery_index import update_gallery_index
from retroface.services.biometrics.uploaded_files import Sources, recorded_source
from retroface.services.deployment.demo import is_demo_deployment
from retroface.services.galleries.enrol_plan import (
    PlannedImage,
    check_subject_name,
    plan_enrollment,
)
from retroface.services.galleries.manage import gallery_cap
from retroface.services.galleries.versions import bump_version, lock_for_change
from retroface.services.progress import Progress, SilentProgress
from retroface.services.results import EnrollReport, FileError
from retroface.store.models import ReferenceImage, Subject


def enroll(
    app: App,
    gallery_name: str,
    paths: list[Path],
    *,
    subject: str | None = None,
    provenance: SubjectProvenance | Mapping[str, SubjectProvenance] | None = None,
    progress: Progress | None = None,
    sources: Sources | None = None,
    quality_override: str | None = None,
    dask_address: str | None = None,
) -> EnrollReport:
    """Enroll every image under ``paths`` (see :mod:`enrollment_plan` for the layouts).

    Each new subject needs its provenance: one :class:`SubjectProvenance`
    when one subject is enrolled, or a mapping by subject name for a folder
    of people. Every rule (category, provenance, under-18 gate, the
    gallery's cap) is checked before any image is analysed. ``sources``: where images
    read from plaintext copies are kept (sealed uploads), which is what the rows record.

    A reference image whose face is below the deployment's reference quality floor is
    refused with the reasons (watchlist images must be "of appropriate quality"), unless
    the supervisor enrolling it gives ``quality_override``: the reason is then recorded
    in the image's audit event.

    ``dask_address``: analyse the images on that Dask cluster (a force's custody
    collection outgrows one machine); storing stays here, one commit per image, so a
    cluster run resumes and never duplicates exactly as a local one does.
    """
    app.require(Action.GALLERY_ENROLL)
    progress = progress or SilentProgress()
    override = (quality_override or "").strip() or None
    plan = plan_enrollment(paths, subject)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        gallery_id, start_version = gallery.id, gallery.version
        planned = sorted({item.subject for item in plan})
        done = uow.subjects.image_hashes(gallery.id, planned)
        existing = uow.subjects.names_among(gallery.id, planned)
        active = uow.galleries.active_subjects(gallery.id)
        cap = gallery_cap(app, gallery)
        demo = is_demo_deployment(uow)
    new_subjects = sorted({item.subject for item in plan} - existing)
    provenances = _provenance_for(new_subjects, provenance, app, demo)
    if new_subjects:
        check_capacity(gallery_name, active + len(new_subjects) - 1, cap)
    skipped: list[FileError] = []
    todo, already = _pending(plan, done, skipped)
    by_path: dict[Path, list[str]] = {}
    for item in todo:
        by_path.setdefault(item.path, []).append(item.subject)

    added_ids: list[int] = []
    added_vectors: list[np.ndarray] = []
    created = 0
    progress.start("Enrolling", len(by_path))
    for result in analyse_files(
        list(by_path),
        app.engine_spec,
        app.limits,
        app.settings.workers,
        engine=app.engine if len(by_path) <= 4 else None,
        dask_address=dask_address,
    ):
        progress.advance()
        if result.error:
            skipped.append(FileError(source=str(result.path), error=result.error))
            continue
        chosen = choose_single_face(result.faces)
        if isinstance(chosen, str):
            skipped.append(FileError(source=str(result.path), error=chosen))
            continue
        poor = _below_reference_floor(app, chosen, override)
        if poor:
            skipped.append(FileError(source=str(result.path), error=poor))
            continue
        for name in by_path[result.path]:
            try:
                template_id, was_created = _store_reference(
                    app,
                    gallery_id,
                    name,
                    provenances.get(name),
                    result,
                    chosen,
                    recorded_source(result.path, sources),
                    override,
                )
            except RetrofaceError as exc:
                skipped.append(FileError(source=str(result.path), error=str(exc)))
                continue
            created += was_created
            added_ids.append(template_id)
            added_vectors.append(chosen.embedding)
    progress.finish()

    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        if added_ids:
            update_gallery_index(
                uow,
                app.settings.index_dir,
                gallery,
                app.engine.model,
                from_version=start_version,
                added_ids=added_ids,
                added_vectors=added_vectors,
                exact_max=app.settings.index_exact_max,
            )
    return EnrollReport(
        gallery=gallery_name,
        enrolled=len(added_ids),
        already_enrolled=already,
        subjects_created=created,
        skipped=sorted(skipped, key=lambda e: e.source),
    )


def check_enrolment_allowed(
    app: App, gallery_name: str, subject: str, provenance: SubjectProvenance | None
) -> None:
    """The checks :func:`enroll` makes before it analyses an image, for one subject and no
    file yet: the role, the gallery, the subject's name and, for a new subject, its
    provenance and the gallery's cap. An upload runs them before storing a byte."""
    app.require(Action.GALLERY_ENROLL)
    name = check_subject_name(subject)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        existing = uow.subjects.names_among(gallery.id, [name])
        active = uow.galleries.active_subjects(gallery.id)
        cap = gallery_cap(app, gallery)
        demo = is_demo_deployment(uow)
    if name not in existing:
        _provenance_for([name], provenance, app, demo)
        check_capacity(gallery_name, active, cap)


def _provenance_for(
    new_subjects: list[str],
    given: SubjectProvenance | Mapping[str, SubjectProvenance] | None,
    app: App,
    demo: bool,
) -> dict[str, SubjectProvenance]:
    """Checked provenance for every new subject, or an error naming who lacks it."""
    if isinstance(given, SubjectProvenance):
        if len(new_subjects) > 1:
            raise InvalidInputError(
                f"{len(new_subjects)} new subjects share one provenance record; give each "
                "its own (a provenance CSV with one row per subject)"
            )
        given = {name: given for name in new_subjects}
    given = given or {}
    missing = [name for name in new_subjects if name not in given]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InvalidInputError(
            f"no provenance for new subject(s) {shown}: every watchlist entry needs a "
            "category, source system, record id and holding basis"
        )
    today = app.now().date()
    return {
        name: checked_provenance(given[name], today, demo_deployment=demo) for name in new_subjects
    }


def _pending(
    plan: list[PlannedImage], done: set[tuple[str, str]], skipped: list[FileError]
) -> tuple[list[PlannedImage], int]:
    """Drop images already enrolled for their subject; hashing is cheap next to analysis."""
    todo: list[PlannedImage] = []
    already = 0
    for item in plan:
        try:
            digest = sha256_file(item.path)
        except OSError as exc:
            skipped.append(
                FileError(source=str(item.path), error=f"cannot be read ({exc.strerror})")
            )
            continue
        if (item.subject, digest) in done:
            already += 1
        else:
            todo.append(item)
    return todo, already


def _store_reference(
    app: App,
    gallery_id: int,
    subject_name: str,
    provenance: SubjectProvenance | None,
    result: FileAnalysis,
    face: AnalysedFace,
    source_path: str,
    quality_override: str | None = None,
) -> tuple[int, bool]:
    """One image → subject (created if new), reference image, face, template, audit: one commit.
    ``source_path``: what the reference image row records (the stored file)."""
    assert result.sha256 is not None
    with app.unit_of_work() as uow:
        gallery = uow.galleries.get_by_id(gallery_id)
        assert gallery is not None
        lock_for_change(uow, gallery)  # the cap check and the version are per gallery
        subject = uow.subjects.get(gallery.id, subject_name)
        created = subject is None
        if subject is None:
            if provenance is None:
                raise InvalidInputError(f"no provenance for new subject {subject_name!r}")
            active = uow.galleries.active_subjects(gallery.id)
            check_capacity(gallery.name, active, gallery_cap(app, gallery))
            subject = _new_subject(app, gallery.id, subject_name, provenance)
            uow.session.add(subject)
            uow.flush()
        elif subject.removed_at is not None:
            raise InvalidInputError(
                f"subject {subject_name!r} was removed from {gallery.name!r}; "
                "restore them before enrolling more images"
            )
        image = ReferenceImage(
            subject_id=subject.id,
            source_path=source_path,
            sha256=result.sha256,
            byte_size=result.byte_size,
            width=result.width,
            height=result.height,
            format=result.format or "unknown",
            category="reference",
            taken_on=provenance.taken_on if provenance else None,
        )
        uow.session.add(image)
        uow.flush()
        face_record = face_row(face, reference_image_id=image.id)
        uow.session.add(face_record)
        uow.flush()
        template = template_row(
            face, face_record.id, subject.id, gallery.id, uow.cipher, engine=app.engine_description
        )
        uow.session.add(template)
        bump_version(
            uow, gallery, app.actor, "subject-added" if created else "image-added", subject.id
        )
        uow.flush()
        app.audit(
            uow,
            action="reference.enrolled",
            object_type="reference_image",
            object_id=image.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            subject_id=subject.id,
            subject_created=created,
            category=subject.category,
            record_id=subject.external_ref,
            under_18_reason=subject.under_18_reason if created else None,
            sha256=result.sha256,
            quality=face.quality.overall,
            quality_override=quality_override
            if face.quality.overall < app.settings.reference_quality_floor
            else None,
            model=face.model.tag,
        )
        uow.commit()
        return template.id, created


def _below_reference_floor(app: App, face: AnalysedFace, override: str | None) -> str | None:
    """Why the face may not be a reference (None: it may)."""
    floor = app.settings.reference_quality_floor
    if face.quality.overall >= floor or override:
        return None
    return (
        f"face quality {face.quality.overall:.2f} is below the reference floor {floor:.2f} ("
        + "; ".join(limiting_reasons(face.quality.parts))
        + "): use a better image, or a supervisor may enrol it with a recorded "
        "quality override reason"
    )


def _new_subject(app: App, gallery_id: int, name: str, provenance: SubjectProvenance) -> Subject:
    return Subject(
        gallery_id=gallery_id,
        name=name,
        category=provenance.category,
        external_ref=provenance.record_id,
        source_system=provenance.source_system,
        holding_basis=provenance.holding_basis,
        date_of_birth=provenance.date_of_birth,
        under_18_reason=provenance.under_18_reason,
        retention_class=provenance.retention_class,
        review_due_on=provenance.review_due(app.now().date()),
        labels=provenance.labels or None,
        created_by=app.actor,
    )
