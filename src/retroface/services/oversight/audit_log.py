"""Audit use cases: read the log, verify the chain and its checkpoints, export it signed,
check an export."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.governance.audit import verify_chain
from retroface.governance.audit_export import (
    check_signed_export,
    write_signed_export,
)
from retroface.governance.output_files import check_output_file
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.oversight.audit_checkpoints import (
    AnchorStatus,
    CheckpointOut,
    checkpoints_configured,
    read_checkpoints,
    write_checkpoint,
)
from retroface.services.results import AuditEventOut, event_out
from retroface.store.models import AuditEvent


class ChainStatus(BaseModel):
    #: The chain verifies and no checkpoint shows rows deleted or re-chained.
    ok: bool
    events: int
    head: str
    #: The first row whose link or content does not check (None: the chain itself verifies).
    first_bad_id: int | None
    reason: str
    #: The log against its signed checkpoints outside the database.
    anchor: AnchorStatus


class ExportResult(BaseModel):
    path: str
    events: int
    head: str
    signature_valid: bool | None = None
    #: The checkpoint written after the export (None where no checkpoint key is configured).
    checkpoint: CheckpointOut | None = None


MAX_AUDIT_PAGE = 1000


def list_audit_events(
    app: App,
    *,
    case_reference: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEventOut]:
    """The newest events first (a page of ``limit`` older than ``before_id``); the read is audited.

    Auditors read the log; reading it is itself recorded, so an oversight body
    can see who looked at which case's trail.
    """
    app.require(Action.AUDIT_READ, case_reference=case_reference)
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise InvalidInputError(f"limit is 1 to {MAX_AUDIT_PAGE}")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if case_reference is not None:
        query = query.where(AuditEvent.case_reference == case_reference)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    with app.unit_of_work() as uow:
        events = [event_out(e) for e in uow.session.scalars(query)]
        app.audit(
            uow,
            action="audit.read",
            object_type="audit_log",
            object_id=str(events[0].id) if events else "-",
            case_reference=case_reference,
            events=len(events),
        )
        uow.commit()
    return events


def verify_audit(app: App) -> ChainStatus:
    """The hash chain and every checkpoint (auditors)."""
    app.require(Action.AUDIT_READ)
    return chain_status(app)


def chain_status(app: App) -> ChainStatus:
    """The check ``audit verify`` and doctor share; reads, records nothing, no role check."""
    checkpoints = read_checkpoints(app.settings)  # before the log: see CheckpointLog
    with app.unit_of_work() as uow:
        report = verify_chain(uow.session)
        anchor = checkpoints.check(uow.session, app.now())
    reason = report.reason or (anchor.problems[0].detail if anchor.problems else "")
    return ChainStatus(
        ok=report.ok and not anchor.problems,
        events=report.events,
        head=report.head,
        first_bad_id=report.first_bad_id,
        reason=reason,
        anchor=anchor,
    )


def export_audit(app: App, path: Path, key: bytes, *, force: bool = False) -> ExportResult:
    """Write the signed export outside the data directory (an existing file only with
    ``force``), audit it, then write a checkpoint where a key is configured."""
    app.require(Action.AUDIT_EXPORT)
    check_output_file(path, app.settings, "audit export", force=force)
    with app.unit_of_work() as uow:
        events = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000)
        count, head = write_signed_export(events, path, key)
    with app.unit_of_work() as uow:
        app.audit(
            uow,
            action="audit.exported",
            object_type="audit_log",
            object_id=head[:16],
            events=count,
            head=head,
        )
        uow.commit()
    checkpoint = write_checkpoint(app, "export") if checkpoints_configured(app.settings) else None
    return ExportResult(path=str(path), events=count, head=head, checkpoint=checkpoint)


def check_export(path: Path, key: bytes) -> ExportResult:
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such export file")
    valid, count, head = check_signed_export(path, key)
    return ExportResult(path=str(path), events=count, head=head, signature_valid=valid)
