"""Repositories hide the SQL: services ask for domain objects by the names people use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retroface.errors import NotFoundError
from retroface.store.data_protection import DataCipher, open_template, template_associated
from retroface.store.gallery_changes import replay
from retroface.store.models import (
    Authorisation,
    Candidate,
    Case,
    CaseMember,
    Gallery,
    GalleryChange,
    ReferenceImage,
    Search,
    Subject,
    Template,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class GalleryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> Gallery | None:
        return self.session.scalar(select(Gallery).where(Gallery.name == name))

    def require(self, name: str) -> Gallery:
        """The gallery, or an error that tells the person how to find the right name."""
        gallery = self.get(name)
        if gallery is None:
            raise NotFoundError(
                f"no gallery named {name!r}; 'retroface gallery list' shows the galleries"
            )
        return gallery

    def get_by_id(self, gallery_id: int) -> Gallery | None:
        return self.session.get(Gallery, gallery_id)

    def list(self) -> Sequence[Gallery]:
        return self.session.scalars(select(Gallery).order_by(Gallery.name)).all()

    def add(self, gallery: Gallery) -> Gallery:
        self.session.add(gallery)
        self.session.flush()
        return gallery

    def active_subjects(self, gallery_id: int) -> int:
        """Active subjects of a gallery (what its cap counts), without the joined counts."""
        count = self.session.scalar(
            select(func.count(Subject.id)).where(
                Subject.gallery_id == gallery_id, Subject.removed_at.is_(None)
            )
        )
        return int(count or 0)

    def membership_change(self, gallery_id: int, since: int, until: int, most: int) -> int | None:
        """How many more subjects are searchable at version ``until`` than at ``since``,
        from the change log of the subjects changed in between (indexed reads of a few
        rows where a count reads every subject); None when more than ``most`` subjects
        changed, for which a count is as cheap."""
        changed = [
            subject_id
            for subject_id in self.session.scalars(
                select(GalleryChange.subject_id)
                .where(
                    GalleryChange.gallery_id == gallery_id,
                    GalleryChange.version > since,
                    GalleryChange.version <= until,
                    GalleryChange.subject_id.is_not(None),
                )
                .distinct()
                .limit(most + 1)
            )
            if subject_id is not None
        ]
        if len(changed) > most:
            return None
        if not changed:
            return 0
        rows = self.session.execute(
            select(GalleryChange.subject_id, GalleryChange.change, GalleryChange.version)
            .where(
                GalleryChange.subject_id.in_(changed),
                GalleryChange.gallery_id == gallery_id,
                GalleryChange.version <= until,
            )
            .order_by(GalleryChange.version, GalleryChange.id)
        ).all()
        before = replay((s, c) for s, c, v in rows if s is not None and v <= since)
        after = replay((s, c) for s, c, _ in rows if s is not None)
        return len(after) - len(before)

    def has_templates(self, gallery_id: int) -> bool:
        """Whether any active subject of the gallery holds a template: stops at the first
        row (an empty gallery refuses a search without counting a large one)."""
        found = self.session.scalar(
            select(Template.id)
            .join(Subject, Template.subject_id == Subject.id)
            .where(Subject.gallery_id == gallery_id, Subject.removed_at.is_(None))
            .limit(1)
        )
        return found is not None

    def counts(self, gallery_id: int) -> tuple[int, int, int]:
        """(active subjects, reference images, templates) of a gallery."""
        active = Subject.removed_at.is_(None)
        subjects = self.session.scalar(
            select(func.count(Subject.id)).where(Subject.gallery_id == gallery_id, active)
        )
        images = self.session.scalar(
            select(func.count(ReferenceImage.id))
            .join(Subject)
            .where(Subject.gallery_id == gallery_id, active)
        )
        templates = self.session.scalar(
            select(func.count(Template.id))
            .join(Subject, Template.subject_id == Subject.id)
            .where(Subject.gallery_id == gallery_id, active)
        )
        return int(subjects or 0), int(images or 0), int(templates or 0)


#: Names looked up with one ``IN`` list at most (more: the gallery's names are read).
_NAMES_AT_ONCE = 5_000


class SubjectRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, gallery_id: int, name: str) -> Subject | None:
        return self.session.scalar(
            select(Subject).where(Subject.gallery_id == gallery_id, Subject.name == name)
        )

    def require(self, gallery: Gallery, name: str) -> Subject:
        subject = self.get(gallery.id, name)
        if subject is None:
            raise NotFoundError(f"gallery {gallery.name!r} has no subject named {name!r}")
        return subject

    def by_ids(self, ids: Sequence[int]) -> dict[int, Subject]:
        if not ids:
            return {}
        rows = self.session.scalars(select(Subject).where(Subject.id.in_(list(ids)))).all()
        return {s.id: s for s in rows}

    def in_gallery(self, gallery_id: int) -> Sequence[Subject]:
        return self.session.scalars(
            select(Subject).where(Subject.gallery_id == gallery_id).order_by(Subject.name)
        ).all()

    def has_images(self, subject_id: int) -> bool:
        return (
            self.session.scalar(
                select(ReferenceImage.id).where(ReferenceImage.subject_id == subject_id).limit(1)
            )
            is not None
        )

    def image_hashes(
        self, gallery_id: int, names: Sequence[str] | None = None
    ) -> set[tuple[str, str]]:
        """(subject name, sha256) pairs already enrolled: what a resumed enrollment skips.
        ``names``: only those subjects (a gallery of millions is not read for a few)."""
        query = (
            select(Subject.name, ReferenceImage.sha256)
            .join(ReferenceImage, ReferenceImage.subject_id == Subject.id)
            .where(Subject.gallery_id == gallery_id)
        )
        if names is not None and len(names) <= _NAMES_AT_ONCE:
            query = query.where(Subject.name.in_(list(names)))
        return {(name, sha) for name, sha in self.session.execute(query)}

    def names_among(self, gallery_id: int, names: Sequence[str]) -> set[str]:
        """Which of ``names`` are subjects of the gallery (removed ones included)."""
        query = select(Subject.name).where(Subject.gallery_id == gallery_id)
        if len(names) <= _NAMES_AT_ONCE:
            query = query.where(Subject.name.in_(list(names)))
        return set(self.session.scalars(query)) & set(names)


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, reference: str) -> Case | None:
        return self.session.scalar(select(Case).where(Case.reference == reference))

    def require(self, reference: str) -> Case:
        """The case, or an error that says how to open it."""
        case = self.get(reference)
        if case is None:
            raise NotFoundError(
                f"no case {reference!r}; open it with 'retroface case open {reference} ...'"
            )
        return case

    def add(self, case: Case) -> Case:
        self.session.add(case)
        self.session.flush()
        return case

    def team_of(self, case: Case) -> tuple[frozenset[str], frozenset[str], bool]:
        """(assigned members, authorising supervisors, whether it has candidates): what need
        to know (governance/case_access.py) decides on, besides the requester."""
        members = self.session.scalars(
            select(CaseMember.username).where(CaseMember.case_id == case.id)
        ).all()
        authorisers = self.session.scalars(
            select(Authorisation.authorised_by).where(Authorisation.case_id == case.id)
        ).all()
        candidate = self.session.scalar(
            select(Candidate.id)
            .join(Search, Candidate.search_id == Search.id)
            .where(Search.case_id == case.id)
            .limit(1)
        )
        return frozenset(members), frozenset(authorisers), candidate is not None

    def search_count(self, case_id: int) -> int:
        return int(
            self.session.scalar(select(func.count(Search.id)).where(Search.case_id == case_id)) or 0
        )


class TemplateRepository:
    def __init__(
        self, session: Session, cipher: Callable[[], DataCipher] = DataCipher.plaintext
    ) -> None:
        self.session = session
        self._cipher = cipher

    def vector_of(self, face_id: int, blob: bytes) -> NDArray[np.float32]:
        """A stored template's vector (decrypted where the directory is encrypted)."""
        return open_template(self._cipher(), face_id, blob)

    def gallery_vectors(
        self, gallery_id: int, model_name: str, model_version: str, dimension: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """(template ids, vectors) of the active subjects of a gallery for one model."""
        ids, _, vectors = self.gallery_vectors_and_subjects(
            gallery_id, model_name, model_version, dimension
        )
        return ids, vectors

    def gallery_vectors_and_subjects(
        self, gallery_id: int, model_name: str, model_version: str, dimension: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
        """(template ids, their subject ids, vectors) of a gallery's active subjects for one
        model, in template id order, in one pass (an N:N scan needs the owners; no
        million-id ``IN`` list is ever built for them)."""
        rows = self.session.execute(
            select(Template.id, Template.face_id, Template.vector, Template.subject_id)
            .join(Subject, Template.subject_id == Subject.id)
            .where(
                Subject.gallery_id == gallery_id,
                Subject.removed_at.is_(None),
                Template.model_name == model_name,
                Template.model_version == model_version,
            )
            .order_by(Template.id)
        ).all()
        import numpy as np  # noqa: PLC0415 - numpy loads with the first template, not with every command

        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        owners = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))
        cipher = self._cipher()
        vectors = np.frombuffer(
            b"".join(cipher.decrypt(r[2], template_associated(r[1])) for r in rows),
            dtype=np.float32,
        )
        return ids, owners, vectors.reshape(len(rows), dimension)

    def subjects_of(self, template_ids: Sequence[int]) -> dict[int, int]:
        """template id → subject id."""
        if not template_ids:
            return {}
        rows = self.session.execute(
            select(Template.id, Template.subject_id).where(Template.id.in_(list(template_ids)))
        ).all()
        return {tid: sid for tid, sid in rows if sid is not None}
