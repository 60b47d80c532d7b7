"""Erasure of a person on request (e.g. an unconvicted person; UK GDPR/DPA 2018 s.47).

Unlike a removal, erasure is final and reaches everywhere the person is
listed: every gallery entry with the same source record, not only the one
named. Images, faces and templates are deleted; the subject row stays (past
candidate lists and the audit log refer to it) with its name and personal
fields replaced, so nothing identifying remains.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import astuple, dataclass
from pathlib import Path

from sqlalchemy import select, text

from retroface.errors import InvalidInputError
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.deletion import purge_subject_data
from retroface.services.biometrics.gallery_index import refresh_gallery_indexes
from retroface.services.galleries.versions import bump_version
from retroface.services.results import ErasureReport
from retroface.store.models import Gallery, Subject
from retroface.store.unit_of_work import UnitOfWork


def erase_subject(
    app: App, gallery_name: str, subject_name: str, request_reference: str
) -> ErasureReport:
    app.require(Action.SUBJECT_ERASE)
    reference = request_reference.strip()
    if not reference:
        raise InvalidInputError("an erasure needs the reference of the request it answers")
    with app.unit_of_work() as uow:
        named = uow.subjects.require(uow.galleries.require(gallery_name), subject_name)
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
        report, galleries = _erase(uow, app, same_person, "subject.erased", reference)
        uow.commit()
    for gallery_id in galleries:
        refresh_gallery_indexes(app, gallery_id, purge=True)
    return report


@dataclass(frozen=True)
class ErasedRow:
    """A subject erased in one copy of a database, as another copy of it would hold it."""

    subject_id: int
    gallery_id: int
    created_at: str  # as stored: equal in two copies of the same row


def erased_rows(sqlite_file: Path) -> list[ErasedRow]:
    """Subjects erased in a deployment's SQLite database (read-only; never changed here)."""
    if not sqlite_file.is_file():
        return []
    with closing(sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)) as db:
        try:
            rows = db.execute(
                "SELECT id, gallery_id, created_at FROM subjects WHERE erased_at IS NOT NULL"
            ).fetchall()
        except sqlite3.DatabaseError:
            return []  # not a retroface database (or an unreadable one): nothing to carry over
    return [ErasedRow(int(i), int(g), str(c)) for i, g, c in rows]


def replay_erasures(app: App, erased: list[ErasedRow], reason: str) -> ErasureReport:
    """Erase again, in a restored database, people erased after the backup was made.

    Why: erasure is final, and a restore must not bring a person back. The
    decision was a supervisor's, recorded when it was made; the restoring
    admin only carries it out, so no role check here and each replay is
    audited as such. A row counts as the same person only if its id, gallery
    and creation time all match, so a backup of another deployment erases
    nobody.
    """
    with app.unit_of_work() as uow:
        present = {
            (int(i), int(g), str(c))
            for i, g, c in uow.session.execute(
                text("SELECT id, gallery_id, created_at FROM subjects WHERE erased_at IS NULL")
            )
        }
        ids = [e.subject_id for e in erased if astuple(e) in present]
        subjects = list(uow.session.scalars(select(Subject).where(Subject.id.in_(ids))))
        report, galleries = _erase(uow, app, subjects, "subject.erasure_replayed", reason)
        uow.commit()
    for gallery_id in galleries:
        refresh_gallery_indexes(app, gallery_id, purge=True)
    return report


def _erase(
    uow: UnitOfWork, app: App, subjects: list[Subject], action: str, reference: str
) -> tuple[ErasureReport, set[int]]:
    """Purge and anonymise each subject and audit it; the caller commits."""
    totals = {
        "images_deleted": 0,
        "faces_deleted": 0,
        "templates_deleted": 0,
        "uploaded_files_deleted": 0,
    }
    galleries: set[int] = set()
    for subject in subjects:
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
        galleries.add(gallery.id)
        app.audit(
            uow,
            action=action,
            object_type="subject",
            object_id=subject.id,
            gallery=gallery.name,
            gallery_version=version,
            request_reference=reference,
            **counts,
        )
    report = ErasureReport(
        request_reference=reference, subject_ids=[s.id for s in subjects], **totals
    )
    return report, galleries
