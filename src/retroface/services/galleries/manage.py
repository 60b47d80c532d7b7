"""Gallery use cases: create, cap, list, show, manifests, and reversible removal of subjects."""

from __future__ import annotations

from retroface.errors import AlreadyExistsError, InvalidInputError
from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import renewed_review_date
from retroface.services.app import App
from retroface.services.biometrics.deletion import purge_subject_data
from retroface.services.biometrics.gallery_index import refresh_gallery_indexes
from retroface.services.galleries.versions import bump_version, members_at
from retroface.services.results import (
    GalleryDetail,
    GalleryManifest,
    GallerySummary,
    ManifestEntry,
    SubjectSummary,
)
from retroface.store.models import (
    Gallery,
    GalleryChange,
)
from retroface.store.unit_of_work import UnitOfWork

MAX_GALLERY_NAME = 200


def gallery_cap(app: App, gallery: Gallery) -> int:
    cap = gallery.max_subjects or app.settings.gallery_max_subjects
    if gallery.live_watchlist:
        return min(cap, app.settings.live_watchlist_max_subjects)
    return cap


def create_gallery(
    app: App, name: str, description: str = "", *, max_subjects: int | None = None
) -> GallerySummary:
    app.require(Action.GALLERY_CREATE)
    _check_cap(max_subjects)
    name = name.strip()
    if not name or len(name) > MAX_GALLERY_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInputError(
            f"a gallery name must be 1..{MAX_GALLERY_NAME} printable characters"
        )
    with app.unit_of_work() as uow:
        if uow.galleries.get(name) is not None:
            raise AlreadyExistsError(f"a gallery named {name!r} already exists")
        gallery = uow.galleries.add(
            Gallery(
                name=name, description=description, max_subjects=max_subjects, created_by=app.actor
            )
        )
        uow.session.add(
            GalleryChange(gallery_id=gallery.id, version=1, change="created", changed_by=app.actor)
        )
        app.audit(
            uow,
            action="gallery.created",
            object_type="gallery",
            object_id=gallery.id,
            name=name,
            max_subjects=max_subjects,
        )
        uow.commit()
        return _summary(uow, gallery, app)


def set_gallery_cap(app: App, name: str, max_subjects: int) -> GallerySummary:
    """Change the most active subjects a gallery may hold (existing entries stay)."""
    app.require(Action.GALLERY_CONFIGURE)
    _check_cap(max_subjects)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(name)
        before = gallery.max_subjects
        gallery.max_subjects = max_subjects
        app.audit(
            uow,
            action="gallery.cap_changed",
            object_type="gallery",
            object_id=gallery.id,
            before=before,
            after=max_subjects,
        )
        uow.commit()
        return _summary(uow, gallery, app)


def set_live_watchlist(app: App, name: str, enabled: bool) -> GallerySummary:
    """Mark (or unmark) a gallery as a watchlist live deployments may use; a live watchlist
    holds at most the deployment's live cap of active subjects, checked here and at enrolment."""
    app.require(Action.GALLERY_CONFIGURE)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(name)
        if enabled:
            subjects, _, _ = uow.galleries.counts(gallery.id)
            live_cap = app.settings.live_watchlist_max_subjects
            if subjects > live_cap:
                raise InvalidInputError(
                    f"gallery {name!r} holds {subjects} subjects; a live watchlist may hold at "
                    f"most {live_cap} (RETROFACE_LIVE_WATCHLIST_MAX_SUBJECTS)"
                )
        before = gallery.live_watchlist
        gallery.live_watchlist = enabled
        app.audit(
            uow,
            action="gallery.live_watchlist_changed",
            object_type="gallery",
            object_id=gallery.id,
            before=before,
            after=enabled,
        )
        uow.commit()
        return _summary(uow, gallery, app)


def gallery_manifest(app: App, name: str, version: int | None = None) -> GalleryManifest:
    """Who was searchable in a gallery at a version: ids and source records, no images."""
    app.require(Action.GALLERY_MANIFEST)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(name)
        wanted = gallery.version if version is None else version
        ids = members_at(uow, gallery, wanted)
        subjects = uow.subjects.by_ids(ids)
        entries = [
            ManifestEntry(
                subject_id=sid,
                source_system=subjects[sid].source_system,
                record_id=subjects[sid].external_ref,
                category=subjects[sid].category,
                erased=subjects[sid].erased_at is not None,
            )
            for sid in ids
        ]
        app.audit(
            uow,
            action="gallery.manifest_exported",
            object_type="gallery",
            object_id=gallery.id,
            version=wanted,
            subjects=len(entries),
        )
        uow.commit()
        return GalleryManifest(
            gallery=gallery.name, version=wanted, current_version=gallery.version, subjects=entries
        )


def _check_cap(max_subjects: int | None) -> None:
    if max_subjects is not None and max_subjects < 1:
        raise InvalidInputError(f"a gallery cap must be at least 1, got {max_subjects}")


def list_galleries(app: App) -> list[GallerySummary]:
    app.require(Action.GALLERY_READ)
    with app.unit_of_work() as uow:
        return [_summary(uow, g, app) for g in uow.galleries.list()]


def show_gallery(app: App, name: str) -> GalleryDetail:
    app.require(Action.GALLERY_READ)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(name)
        members = [
            SubjectSummary(
                name=s.name,
                images=len(s.images),
                category=s.category,
                record_id=s.external_ref,
                review_due_on=s.review_due_on,
                removed=s.removed_at is not None,
            )
            for s in uow.subjects.in_gallery(gallery.id)
        ]
        return GalleryDetail(**_summary(uow, gallery, app).model_dump(), members=members)


def remove_subject(app: App, gallery_name: str, subject_name: str, *, final: bool = False) -> str:
    """Take a subject out of search at once; ``final`` also deletes their images and templates.

    Without ``final`` the removal can be undone with :func:`restore_subject`;
    a final removal cannot, and is recorded with counts of what was deleted.
    """
    app.require(Action.GALLERY_REMOVE_SUBJECT)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        subject = uow.subjects.require(gallery, subject_name)
        details: dict[str, int | bool] = {"final": final}
        if final:
            details.update(purge_subject_data(uow, subject, app))
            action = "subject.purged"
        else:
            if subject.removed_at is not None:
                raise InvalidInputError(
                    f"{subject_name!r} is already removed; add --final to delete their data"
                )
            subject.removed_at = app.now()
            action = "subject.removed"
        bump_version(uow, gallery, app.actor, action.replace(".", "-"), subject.id)
        app.audit(
            uow,
            action=action,
            object_type="subject",
            object_id=subject.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            **details,
        )
        uow.commit()
    # One delta of tombstones: the next search anywhere no longer finds the subject; a
    # final removal also merges, so the deleted templates leave the index files now.
    refresh_gallery_indexes(app, gallery.id, purge=final)
    return action


def restore_subject(app: App, gallery_name: str, subject_name: str) -> None:
    app.require(Action.GALLERY_REMOVE_SUBJECT)
    with app.unit_of_work() as uow:
        gallery = uow.galleries.require(gallery_name)
        subject = uow.subjects.require(gallery, subject_name)
        if subject.removed_at is None:
            raise InvalidInputError(f"{subject_name!r} is not removed")
        if subject.erased_at is not None or not uow.subjects.has_images(subject.id):
            raise InvalidInputError(
                f"{subject_name!r} was deleted for good; enroll them again with fresh provenance"
            )
        subject.removed_at = None
        renewed = renewed_review_date(
            subject.review_due_on, subject.retention_class, app.now().date()
        )
        if renewed is not None:
            subject.review_due_on = renewed
        bump_version(uow, gallery, app.actor, "subject-restored", subject.id)
        app.audit(
            uow,
            action="subject.restored",
            object_type="subject",
            object_id=subject.id,
            gallery=gallery.name,
            gallery_version=gallery.version,
            review_due_on=renewed.isoformat() if renewed else None,
        )
        uow.commit()
    refresh_gallery_indexes(app, gallery.id)


def _summary(uow: UnitOfWork, gallery: Gallery, app: App) -> GallerySummary:
    subjects, images, templates = uow.galleries.counts(gallery.id)
    return GallerySummary(
        name=gallery.name,
        description=gallery.description,
        version=gallery.version,
        subjects=subjects,
        images=images,
        templates=templates,
        max_subjects=gallery_cap(app, gallery),
        created_at=gallery.created_at,
    )
