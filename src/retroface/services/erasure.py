"""Erasure of a person on request (e.g. an unconvicted person; UK GDPR/DPA 2018 s.47).

Unlike a removal, erasure is final and reaches everywhere the person is
listed: every gallery entry with the same source record, not only the one
named. Images, faces and templates are deleted; the subject row stays (past
candidate lists and the audit log refer to it) with its name and personal
fields replaced, so nothing identifying remains.
"""

from __future__ import annotations

from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.galleries import get_gallery, get_subject, purge_subject_data
from retroface.services.gallery_index import discard_gallery_indexes
from retroface.services.gallery_versions import bump_version
from retroface.services.results import ErasureReport
from retroface.store.models import Gallery, Subject


def erase_subject(
    app: App, gallery_name: str, subject_name: str, request_reference: str
) -> ErasureReport:
    app.require(Action.SUBJECT_ERASE)
    if not request_reference.strip():
        raise InvalidInputError("an erasure needs the reference of the request it answers")
    erased: list[int] = []
    totals = {
        "images_deleted": 0,
        "faces_deleted": 0,
        "templates_deleted": 0,
        "uploaded_files_deleted": 0,
    }
    galleries: set[int] = set()
    with app.unit_of_work() as uow:
        named = get_subject(uow, get_gallery(uow, gallery_name), subject_name)
        if named.erased_at is not None:
            raise InvalidInputError(f"{subject_name!r} has already been erased")
        same_person = [named]
        if named.external_ref and named.source_system:
            same_person += uow.session.scalars(
                select(Subject).where(
                    Subject.external_ref == named.external_ref,
                    Subject.source_system == named.source_system,
                    Subject.id != named.id,
                    Subject.erased_at.is_(None),
                )
            ).all()
        for subject in same_person:
            counts = purge_subject_data(uow, subject, app)
            for key, value in counts.items():
                totals[key] += value
            gallery = uow.session.get(Gallery, subject.gallery_id)
            assert gallery is not None
            version = bump_version(uow, gallery, app.actor, "subject-erased", subject.id)
            subject.name = f"erased-subject-{subject.id}"
            subject.external_ref = subject.date_of_birth = subject.labels = None
            subject.under_18_reason = None
            subject.erased_at = app.now()
            erased.append(subject.id)
            galleries.add(gallery.id)
            app.audit(
                uow.session,
                action="subject.erased",
                object_type="subject",
                object_id=subject.id,
                gallery=gallery.name,
                gallery_version=version,
                request_reference=request_reference.strip(),
                **counts,
            )
        uow.commit()
    for gallery_id in galleries:
        discard_gallery_indexes(app.settings.index_dir, gallery_id)
    return ErasureReport(request_reference=request_reference.strip(), subject_ids=erased, **totals)
