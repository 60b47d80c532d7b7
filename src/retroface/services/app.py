"""The application object: settings, database, the acting principal and a lazy face engine.

Every service function starts with ``app.require(Action.X)``: the role
check lives here, below every interface, so the CLI, the API and the web UI
cannot skip it. A refusal is audited in its own transaction (the refused
work's transaction never commits).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from retroface.errors import AuthorisationError, DataKeyError
from retroface.faces.engine_description import describe
from retroface.faces.engine_description import parse as parse_engine
from retroface.faces.engine_spec import EngineSpec
from retroface.governance import record_event
from retroface.governance.audit_checkpoint import check_locations as check_checkpoint_locations
from retroface.governance.case_access import CaseTeam, on_case_team
from retroface.governance.identity import Principal
from retroface.governance.roles import Action, is_allowed
from retroface.settings import Settings
from retroface.store import Database, UnitOfWork, open_database
from retroface.store.data_protection import (
    DataCipher,
    KeyEncryptionKey,
    load_key_encryption_key,
    read_record,
)
from retroface.store.database import ensure_data_directory
from retroface.store.models import AuditEvent, Case

if TYPE_CHECKING:
    from retroface.faces import FaceEngine
    from retroface.media import MediaLimits

_log = logging.getLogger(__name__)
#: Held while an engine loads, so concurrent first uses load its models once.
_engine_loading = threading.Lock()


@dataclass
class App:
    settings: Settings
    db: Database
    engine_spec: EngineSpec
    principal: Principal | None = None
    #: Injectable so retention schedules (48 hours, review dates) can be tested without waiting.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    _engines: dict[str, FaceEngine] = field(default_factory=dict, repr=False)

    @property
    def engine(self) -> FaceEngine:
        """Models load on first use, so commands that need no faces start instantly."""
        return self.engine_for(self.engine_spec)

    @property
    def engine_description(self) -> str:
        """The still-image engine as one string, stored with every template and search."""
        return describe(self.engine_spec)

    def engine_for(self, spec: EngineSpec) -> FaceEngine:
        """An engine for another configuration (e.g. footage), loaded once per process."""
        from retroface.faces import FaceEngine  # noqa: PLC0415 - numpy and the models load with the first engine, not with every command

        key = repr(spec)
        if key not in self._engines:
            # A server's first search and first enrolment may arrive together: one loads
            # the models (a second copy would hold their memory for the process's life).
            with _engine_loading:
                if key not in self._engines:
                    self._engines[key] = FaceEngine.from_spec(spec)
        return self._engines[key]

    @property
    def limits(self) -> MediaLimits:
        from retroface.media import MediaLimits  # noqa: PLC0415 - numpy and Pillow load with the first image, not with every command

        return MediaLimits(
            max_file_bytes=self.settings.max_file_bytes,
            max_image_pixels=self.settings.max_image_pixels,
        )

    @property
    def cipher(self) -> DataCipher:
        """The deployment's data cipher (store/data_protection.py); inside a unit of work use
        ``uow.cipher``, which is first brought in line with the database's key record."""
        return self.db.cipher

    @property
    def actor(self) -> str:
        return self.principal.username if self.principal else self.settings.actor

    @property
    def role(self) -> str | None:
        return self.principal.role.value if self.principal else None

    def acting_as(self, principal: Principal) -> App:
        """The same deployment (database, loaded models) acting for someone else."""
        return replace(self, principal=principal)

    def acting_as_nobody(self) -> App:
        """The same deployment with no principal: every guarded action is refused (and audited)."""
        return replace(self, principal=None)

    def require(self, action: Action, *, case_reference: str | None = None) -> Principal:
        """The principal, if their role may do ``action``; otherwise audit the refusal and raise."""
        if self.principal is None:
            self.audit_refusal(action, "not logged in", case_reference)
            raise AuthorisationError(
                "you are not logged in: run 'retroface login USERNAME' "
                "or set RETROFACE_USER (and RETROFACE_PASSWORD for scripts)"
            )
        if not is_allowed(self.principal.role, action):
            self.audit_refusal(action, f"role {self.principal.role.value}", case_reference)
            raise AuthorisationError(
                f"{self.principal.username} ({self.principal.role.value}) may not "
                f"{action.value.replace('.', ' ')}"
            )
        if case_reference is not None and action is not Action.CASE_OPEN:
            self._check_need_to_know(action, case_reference)
        return self.principal

    def case_team(self, uow: UnitOfWork, case: Case) -> CaseTeam:
        members, authorisers, has_candidates = uow.cases.team_of(case)
        return CaseTeam(case.reference, case.requester, members, authorisers, has_candidates)

    def _check_need_to_know(self, action: Action, case_reference: str) -> None:
        """Refuse (and audit) case work by anyone outside the case's team; an unknown case
        is left to the service, which says it does not exist."""
        assert self.principal is not None
        with self.unit_of_work() as uow:
            case = uow.cases.get(case_reference)
            if case is None or on_case_team(self.principal, self.case_team(uow, case)):
                return
        self.audit_refusal(action, "not on the case team", case_reference)
        raise AuthorisationError(
            f"{self.principal.username} is not on the team of case {case_reference}; "
            "a supervisor who authorised it can add them"
        )

    def audit(self, uow: UnitOfWork | Session, **event: Any) -> AuditEvent:
        """Record an audit event for the acting principal in the caller's transaction (its
        unit of work, or a bare session where no unit of work exists, as in migrations)."""
        session = uow.session if isinstance(uow, UnitOfWork) else uow
        return record_event(session, actor=self.actor, role=self.role, **event)

    def audit_refusal(self, action: Action, reason: str, case_reference: str | None) -> None:
        """Record a refusal in its own transaction, so it survives the caller's rollback."""
        with self.unit_of_work() as uow:
            self.audit(
                uow,
                action="access.refused",
                object_type="action",
                object_id=action.value,
                case_reference=case_reference,
                reason=reason,
            )
            uow.commit()

    def unit_of_work(self) -> UnitOfWork:
        return self.db.unit_of_work()

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.db.close()


def engine_spec_of(settings: Settings) -> EngineSpec:
    """The engine the settings ask for: the one description string when given, else the fields."""
    if settings.engine:
        return parse_engine(settings.engine)
    return EngineSpec(
        detector=settings.detector,
        embedder=settings.embedder,
        min_face_px=settings.min_face_px,
        max_detect_pixels=settings.max_detect_pixels,
        jitters=settings.jitters,
        alignments=settings.alignments,
        mirror=settings.mirror,
    )


def open_app(
    settings: Settings, engine_spec: EngineSpec | None = None, principal: Principal | None = None
) -> App:
    """Open (creating and migrating if needed) the data directory named by the settings."""
    spec = engine_spec or engine_spec_of(settings)
    describe(spec)  # a model path that cannot be recorded fails here, not at the first template
    ensure_data_directory(settings.home)
    if settings.key_file is not None and settings.key_file.resolve().is_relative_to(
        settings.home.resolve()
    ):
        raise DataKeyError(
            f"the key file {settings.key_file} is inside the data directory: move it out "
            "(a copied data directory must not carry its own key)"
        )
    check_checkpoint_locations(settings)
    kek = load_key_encryption_key(settings.key_file, settings.master_key)
    db = open_database(settings.url, create_dir=settings.home)
    try:
        db.cipher = open_cipher(db, kek)
    except BaseException:
        db.close()
        raise
    return App(settings=settings, db=db, engine_spec=spec, principal=principal)


def open_cipher(db: Database, kek: KeyEncryptionKey | None) -> DataCipher:
    """The data cipher for this database: refuses (no traceback, an actionable message) an
    encrypted directory opened without its key or with another one."""
    cipher = DataCipher(kek)
    with db.unit_of_work() as uow:
        cipher.sync(read_record(uow.session))
    if kek is not None and not cipher.enabled:
        _log.warning(
            "a key-encryption key is configured but this data directory is not encrypted: "
            "run 'retroface keys init' to encrypt it"
        )
    return cipher
