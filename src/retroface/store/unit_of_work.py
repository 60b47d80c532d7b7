"""A unit of work: one transaction in which a use case and its audit events commit together."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from retroface.store.repositories import (
    CaseRepository,
    GalleryRepository,
    SubjectRepository,
    TemplateRepository,
)


class UnitOfWork:
    """Use as ``with db.unit_of_work() as uow: ...; uow.commit()``; anything else rolls back."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.galleries = GalleryRepository(self.session)
        self.subjects = SubjectRepository(self.session)
        self.cases = CaseRepository(self.session)
        self.templates = TemplateRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()
