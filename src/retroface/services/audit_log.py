"""Audit use cases: verify the chain, export it signed, check an export."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.governance.audit import verify_chain
from retroface.governance.audit_export import check_signed_export, write_signed_export
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.store.models import AuditEvent

KEY_ENV = "RETROFACE_AUDIT_KEY"


class ChainStatus(BaseModel):
    ok: bool
    events: int
    head: str
    first_bad_id: int | None
    reason: str


class ExportResult(BaseModel):
    path: str
    events: int
    head: str
    signature_valid: bool | None = None


def load_signing_key(key_file: Path | None) -> bytes:
    """The HMAC key from a file, or from $RETROFACE_AUDIT_KEY."""
    if key_file is not None:
        try:
            return key_file.read_bytes().strip()
        except OSError as exc:
            raise InvalidInputError(f"{key_file}: cannot read the key ({exc.strerror})") from exc
    value = os.environ.get(KEY_ENV, "")
    if not value:
        raise InvalidInputError(f"give --key-file or set {KEY_ENV} to sign or check an export")
    return value.encode("utf-8")


def verify_audit(app: App) -> ChainStatus:
    app.require(Action.AUDIT_READ)
    with app.unit_of_work() as uow:
        report = verify_chain(uow.session)
        return ChainStatus(**report.__dict__)


def export_audit(app: App, path: Path, key: bytes) -> ExportResult:
    app.require(Action.AUDIT_EXPORT)
    with app.unit_of_work() as uow:
        events = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000)
        count, head = write_signed_export(events, path, key)
    with app.unit_of_work() as uow:
        app.audit(
            uow.session,
            action="audit.exported",
            object_type="audit_log",
            object_id=head[:16],
            events=count,
            head=head,
        )
        uow.commit()
    return ExportResult(path=str(path), events=count, head=head)


def check_export(path: Path, key: bytes) -> ExportResult:
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such export file")
    valid, count, head = check_signed_export(path, key)
    return ExportResult(path=str(path), events=count, head=head, signature_valid=valid)
