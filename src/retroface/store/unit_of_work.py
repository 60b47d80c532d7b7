"""A unit of work: one transaction in which a use case and its audit events commit together."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from retroface.store.data_protection import DataCipher, read_record
from retroface.store.repositories import (
    CaseRepository,
    GalleryRepository,
    SubjectRepository,
    TemplateRepository,
)


class UnitOfWork:
    """Use as ``with db.unit_of_work() as uow: ...; uow.commit()``; anything else rolls back."""

    def __init__(self, factory: sessionmaker[Session], cipher: DataCipher | None = None) -> None:
        self._factory = factory
        self._cipher = cipher or DataCipher.plaintext()
        self._cipher_checked = False
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.galleries = GalleryRepository(self.session)
        self.subjects = SubjectRepository(self.session)
        self.cases = CaseRepository(self.session)
        self.templates = TemplateRepository(self.session, lambda: self.cipher)
        self._cipher_checked = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    @property
    def cipher(self) -> DataCipher:
        """The data cipher, brought in line with the database's key record once per unit of
        work (another process may have encrypted the directory or rotated its data key)."""
        if not self._cipher_checked:
            self._cipher.sync(read_record(self.session))
            self._cipher_checked = True
        return self._cipher

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()
