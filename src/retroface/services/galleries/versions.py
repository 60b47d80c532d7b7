"""Gallery versions: every change bumps the version and logs what changed for whom.

A search records the version it ran against; replaying the change log up to
that version gives the exact list of people who were searchable then, so a
person can later ask whether they were on a watchlist at a given time.
"""

from __future__ import annotations

from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.store.gallery_changes import replay
from retroface.store.models import Gallery, GalleryChange
from retroface.store.unit_of_work import UnitOfWork


def lock_for_change(uow: UnitOfWork, gallery: Gallery) -> int:
    """Hold the gallery's row until commit and re-read it, so concurrent changes queue.

    Why: two servers enrolling into one gallery at once would otherwise both
    read version N and both write N+1 (a lost version), or both pass the size
    cap. PostgreSQL takes a row lock (``SELECT ... FOR UPDATE``); SQLite
    transactions already begin IMMEDIATE, one writer at a time. Returns the
    committed version (only the version is re-read: pending edits stay).
    """
    return int(
        uow.session.execute(
            select(Gallery.version).where(Gallery.id == gallery.id).with_for_update()
        ).scalar_one()
    )


def bump_version(
    uow: UnitOfWork, gallery: Gallery, actor: str, change: str, subject_id: int | None = None
) -> int:
    gallery.version = lock_for_change(uow, gallery) + 1
    uow.session.add(
        GalleryChange(
            gallery_id=gallery.id,
            version=gallery.version,
            subject_id=subject_id,
            change=change,
            changed_by=actor,
        )
    )
    return gallery.version


def members_at(uow: UnitOfWork, gallery: Gallery, version: int) -> list[int]:
    """Subject ids searchable in ``gallery`` at ``version``, by replaying its change log."""
    if not 1 <= version <= gallery.version:
        raise InvalidInputError(
            f"gallery {gallery.name!r} has versions 1..{gallery.version}, not {version}"
        )
    rows = uow.session.execute(
        select(GalleryChange.subject_id, GalleryChange.change)
        .where(
            GalleryChange.gallery_id == gallery.id,
            GalleryChange.version <= version,
            GalleryChange.subject_id.is_not(None),
        )
        .order_by(GalleryChange.version, GalleryChange.id)
    ).all()
    return sorted(replay((subject_id, change) for subject_id, change in rows))
