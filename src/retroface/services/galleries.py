"""Gallery use cases: create, list, show, and reversible removal of subjects."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from retroface.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.gallery_index import discard_gallery_indexes
from retroface.services.results import GalleryDetail, GallerySummary, SubjectSummary
from retroface.store.models import Candidate, Face, Gallery, ReferenceImage, Subject, Template
from retroface.store.unit_of_work import UnitOfWork

MAX_GALLERY_NAME = 200


def get_gallery(uow: UnitOfWork, name: str) -> Gallery:
    gallery = uow.galleries.get(name)
    if gallery is None:
        raise NotFoundError(
            f"no gallery named {name!r}; 'retroface gallery list' shows the galleries"
        )
    return gallery


def create_gallery(app: App, name: str, description: str = "") -> GallerySummary:
    app.require(Action.GALLERY_CREATE)
    name = name.strip()
    if not name or len(name) > MAX_GALLERY_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInputError(
            f"a gallery name must be 1..{MAX_GALLERY_NAME} printable characters"
        )
    with app.unit_of_work() as uow:
        if uow.galleries.get(name) is not None:
            raise AlreadyExistsError(f"a gallery named {name!r} already exists")
        gallery = uow.galleries.add(
            Gallery(name=name, description=description, created_by=app.actor)
        )
        app.audit(
            uow.session,
            action="gallery.created",
            object_type="gallery",
            object_id=gallery.id,
            name=name,
        )
        uow.commit()
        return _summary(uow, gallery)


def list_galleries(app: App) -> list[GallerySummary]:
    app.require(Action.GALLERY_READ)
    with app.unit_of_work() as uow:
        return [_summary(uow, g) for g in uow.galleries.list()]


def show_gallery(app: App, name: str) -> GalleryDetail:
    app.require(Action.GALLERY_READ)
    with app.unit_of_work() as uow:
        gallery = get_gallery(uow, name)
        members = [
            SubjectSummary(
                name=s.name,
                images=len(s.images),
                category=s.category,
                removed=s.removed_at is not None,
            )
            for s in uow.subjects.in_gallery(gallery.id)
        ]
        return GalleryDetail(**_summary(uow, gallery).model_dump(), members=members)


def remove_subject(app: App, gallery_name: str, subject_name: str, *, final: bool = False) -> str:
    """Take a subject out of search at once; ``final`` also deletes their images and templates.

    Without ``final`` the removal can be undone with :func:`restore_subject`;
    a final removal cannot, and is recorded with counts of what was deleted.
    """
    app.require(Action.GALLERY_REMOVE_SUBJECT)
    with app.unit_of_work() as uow:
        gallery = get_gallery(uow, gallery_name)
        subject = _get_subject(uow, gallery, subject_name)
        details: dict[str, int | bool] = {"final": final}
        if final:
            details.update(_purge_subject(uow, subject, app))
            action = "subject.purged"
        else:
            if subject.removed_at is not None:
                raise InvalidInputError(
                    f"{subject_name!r} is already removed; add --final to delete their data"
                )
            subject.removed_at = app.now()
            action = "subject.removed"
        gallery.version += 1
        app.audit(
            uow.session,
            action=action,
            object_type="subject",
            object_id=subject.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            **details,
        )
        uow.commit()
    # The version bump already makes any index file stale; deleting it also takes
    # the removed templates off the disk. The next search rebuilds it.
    discard_gallery_indexes(app.settings.index_dir, gallery.id)
    return action


def restore_subject(app: App, gallery_name: str, subject_name: str) -> None:
    app.require(Action.GALLERY_REMOVE_SUBJECT)
    with app.unit_of_work() as uow:
        gallery = get_gallery(uow, gallery_name)
        subject = _get_subject(uow, gallery, subject_name)
        if subject.removed_at is None:
            raise InvalidInputError(f"{subject_name!r} is not removed")
        subject.removed_at = None
        gallery.version += 1
        app.audit(
            uow.session,
            action="subject.restored",
            object_type="subject",
            object_id=subject.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
        )
        uow.commit()
    discard_gallery_indexes(app.settings.index_dir, gallery.id)


def _get_subject(uow: UnitOfWork, gallery: Gallery, name: str) -> Subject:
    subject = uow.subjects.get(gallery.id, name)
    if subject is None:
        raise NotFoundError(f"gallery {gallery.name!r} has no subject named {name!r}")
    return subject


def _purge_subject(uow: UnitOfWork, subject: Subject, app: App) -> dict[str, int]:
    session = uow.session
    image_ids = list(
        session.scalars(select(ReferenceImage.id).where(ReferenceImage.subject_id == subject.id))
    )
    face_ids = list(session.scalars(select(Face.id).where(Face.reference_image_id.in_(image_ids))))
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
    subject.removed_at = subject.removed_at or app.now()
    return {
        "images_deleted": len(image_ids),
        "faces_deleted": len(face_ids),
        "templates_deleted": len(template_ids),
    }


def _summary(uow: UnitOfWork, gallery: Gallery) -> GallerySummary:
    subjects, images, templates = uow.galleries.counts(gallery.id)
    return GallerySummary(
        name=gallery.name,
        description=gallery.description,
        version=gallery.version,
        subjects=subjects,
        images=images,
        templates=templates,
        created_at=gallery.created_at,
    )
