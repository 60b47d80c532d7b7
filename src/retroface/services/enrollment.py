"""Enroll reference images into a gallery: in bulk, on all cores, resumable.

Each image commits in its own transaction together with its audit event,
so an interrupted run keeps everything finished before the interruption;
re-running skips images already enrolled for the same subject (matched by
SHA-256, not by file name), so nothing is duplicated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retroface.errors import InvalidInputError, RetrofaceError
from retroface.faces import AnalysedFace, FileAnalysis, analyse_files
from retroface.governance.roles import Action
from retroface.media import sha256_file
from retroface.services.app import App
from retroface.services.enrollment_plan import PlannedImage, plan_enrollment
from retroface.services.face_choice import choose_single_face
from retroface.services.face_records import face_row, template_row
from retroface.services.galleries import get_gallery
from retroface.services.gallery_index import update_gallery_index
from retroface.services.progress import Progress, SilentProgress
from retroface.services.results import EnrollReport, FileError
from retroface.store.models import ReferenceImage, Subject


def enroll(
    app: App,
    gallery_name: str,
    paths: list[Path],
    *,
    subject: str | None = None,
    category: str | None = None,
    progress: Progress | None = None,
) -> EnrollReport:
    """Enroll every image under ``paths`` (see :mod:`enrollment_plan` for the layouts)."""
    app.require(Action.GALLERY_ENROLL)
    progress = progress or SilentProgress()
    with app.unit_of_work() as uow:
        gallery = get_gallery(uow, gallery_name)
        gallery_id, start_version = gallery.id, gallery.version
        done = uow.subjects.image_hashes(gallery.id)
    plan = plan_enrollment(paths, subject)
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
    ):
        progress.advance()
        if result.error:
            skipped.append(FileError(source=str(result.path), error=result.error))
            continue
        chosen = choose_single_face(result.faces)
        if isinstance(chosen, str):
            skipped.append(FileError(source=str(result.path), error=chosen))
            continue
        for name in by_path[result.path]:
            try:
                template_id, was_created = _store_reference(
                    app, gallery_id, name, category, result, chosen
                )
            except RetrofaceError as exc:
                skipped.append(FileError(source=str(result.path), error=str(exc)))
                continue
            created += was_created
            added_ids.append(template_id)
            added_vectors.append(chosen.embedding)
    progress.finish()

    with app.unit_of_work() as uow:
        gallery = get_gallery(uow, gallery_name)
        if added_ids:
            update_gallery_index(
                uow,
                app.settings.index_dir,
                gallery,
                app.engine.model,
                from_version=start_version,
                added_ids=added_ids,
                added_vectors=added_vectors,
            )
    return EnrollReport(
        gallery=gallery_name,
        enrolled=len(added_ids),
        already_enrolled=already,
        subjects_created=created,
        skipped=sorted(skipped, key=lambda e: e.source),
    )


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
    category: str | None,
    result: FileAnalysis,
    face: AnalysedFace,
) -> tuple[int, bool]:
    """One image → subject (created if new), reference image, face, template, audit: one commit."""
    assert result.sha256 is not None
    with app.unit_of_work() as uow:
        gallery = uow.galleries.get_by_id(gallery_id)
        assert gallery is not None
        subject = uow.subjects.get(gallery.id, subject_name)
        created = subject is None
        if subject is None:
            subject = Subject(
                gallery_id=gallery.id, name=subject_name, category=category, created_by=app.actor
            )
            uow.session.add(subject)
            uow.flush()
        elif subject.removed_at is not None:
            raise InvalidInputError(
                f"subject {subject_name!r} was removed from {gallery.name!r}; "
                "restore them before enrolling more images"
            )
        image = ReferenceImage(
            subject_id=subject.id,
            source_path=str(result.path.resolve()),
            sha256=result.sha256,
            byte_size=result.byte_size,
            width=result.width,
            height=result.height,
            format=result.format or "unknown",
            category="reference",
        )
        uow.session.add(image)
        uow.flush()
        face_record = face_row(face, reference_image_id=image.id)
        uow.session.add(face_record)
        uow.flush()
        template = template_row(face, face_record.id, subject.id, gallery.id)
        uow.session.add(template)
        gallery.version += 1
        uow.flush()
        app.audit(
            uow.session,
            action="reference.enrolled",
            object_type="reference_image",
            object_id=image.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            subject_id=subject.id,
            sha256=result.sha256,
            quality=face.quality.overall,
            model=face.model.tag,
        )
        uow.commit()
        return template.id, created
