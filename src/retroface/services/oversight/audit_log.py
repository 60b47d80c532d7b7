"""Audit use cases: read the log, search it (user, action, case, time; keyset pages) and
export a search as CSV, verify the chain and its checkpoints, export it signed, check an
export."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select

from retroface.errors import InvalidInputError
from retroface.governance.audit import verify_chain
from retroface.governance.audit_export import (
    check_signed_export,
    write_signed_export,
)
from retroface.governance.output_files import check_output_file
from retroface.governance.roles import Action
from retroface.media.csv_sheets import SafeCsvWriter
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
#: Most rows one CSV export of a search may hold (narrow the search for more).
MAX_CSV_ROWS = 100_000
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "case_reference",
    "details",
    "event_hash",
)


class AuditFilter(BaseModel):
    """What an auditor searches the log for; a field left None matches every event."""

    case_reference: str | None = None
    #: The exact action (``candidate.reviewed``), or every action of a kind (``search.*``).
    action: str | None = None
    #: Who acted (their username, any case).
    actor: str | None = None
    #: From this moment (inclusive) ...
    since: datetime | None = None
    #: ... to this one (exclusive), both aware.
    until: datetime | None = None

    def described(self) -> dict[str, str]:
        """The filters set, for the audit event that records the search."""
        return {
            k: v.isoformat() if isinstance(v, datetime) else str(v)
            for k, v in self.model_dump().items()
            if v is not None and k != "case_reference"
        }


class AuditPage(BaseModel):
    """One page of a search, newest first, and where the pages around it start."""

    events: list[AuditEventOut]
    #: Events matching the filter, on every page.
    matching: int
    #: ``before_id`` of the next (older) page; None on the last page.
    older_before_id: int | None
    #: ``after_id`` of the previous (newer) page; None on the first page.
    newer_after_id: int | None


class AuditCsv(BaseModel):
    text: str
    events: int


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


def _filtered(query: Select[Any], wanted: AuditFilter) -> Select[Any]:
    if wanted.case_reference is not None:
        query = query.where(AuditEvent.case_reference == wanted.case_reference)
    if wanted.action is not None:
        if wanted.action.endswith("*"):
            prefix = wanted.action[:-1]
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(AuditEvent.action.like(escaped + "%", escape="\\"))
        else:
            query = query.where(AuditEvent.action == wanted.action)
    if wanted.actor is not None:
        query = query.where(func.lower(AuditEvent.actor) == wanted.actor.lower())
    if wanted.since is not None:
        query = query.where(AuditEvent.occurred_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEvent.occurred_at < wanted.until)
    return query


def _check_filter(wanted: AuditFilter) -> None:
    for moment in (wanted.since, wanted.until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError("a date and time of the audit search needs a time zone")
    if wanted.since is not None and wanted.until is not None and wanted.since >= wanted.until:
        raise InvalidInputError("the search's start must be before its end")


def search_audit_events(
    app: App,
    wanted: AuditFilter,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """One page of the events matching ``wanted``, newest first: the newest ``limit``, or
    those just older than ``before_id``, or just newer than ``after_id`` (keyset paging:
    events written meanwhile never shift a page). The read is audited with its filters."""
    app.require(Action.AUDIT_READ, case_reference=wanted.case_reference)
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise InvalidInputError(f"limit is 1 to {MAX_AUDIT_PAGE}")
    if before_id is not None and after_id is not None:
        raise InvalidInputError("page before an event or after one, not both")
    _check_filter(wanted)
    query = _filtered(select(AuditEvent), wanted)
    if after_id is not None:
        page = query.where(AuditEvent.id > after_id).order_by(AuditEvent.id.asc())
    else:
        page = query.order_by(AuditEvent.id.desc())
        if before_id is not None:
            page = page.where(AuditEvent.id < before_id)
    with app.unit_of_work() as uow:
        rows = list(uow.session.scalars(page.limit(limit)))
        rows.sort(key=lambda e: e.id, reverse=True)
        events = [event_out(e) for e in rows]
        matching = uow.session.scalar(_filtered(select(func.count(AuditEvent.id)), wanted)) or 0
        ids = _filtered(select(AuditEvent.id), wanted)
        older = newer = None
        if events:
            last, first = events[-1].id, events[0].id
            if uow.session.scalar(ids.where(AuditEvent.id < last).limit(1)) is not None:
                older = last
            if uow.session.scalar(ids.where(AuditEvent.id > first).limit(1)) is not None:
                newer = first
        app.audit(
            uow,
            action="audit.read",
            object_type="audit_log",
            object_id=str(events[0].id) if events else "-",
            case_reference=wanted.case_reference,
            events=len(events),
            matching=matching,
            filters=wanted.described(),
        )
        uow.commit()
    return AuditPage(events=events, matching=matching, older_before_id=older, newer_after_id=newer)


def audit_actions(app: App) -> list[str]:
    """Every action the log holds, sorted (to offer while searching; auditors only)."""
    app.require(Action.AUDIT_READ)
    with app.unit_of_work() as uow:
        return sorted(uow.session.scalars(select(AuditEvent.action).distinct()))


def export_audit_csv(app: App, wanted: AuditFilter) -> AuditCsv:
    """Every event matching ``wanted`` as a CSV sheet, oldest first, each with its chain
    hash (at most :data:`MAX_CSV_ROWS`); cells a spreadsheet would run as formulas are
    neutralised. The export is audited with its filters and count."""
    app.require(Action.AUDIT_EXPORT, case_reference=wanted.case_reference)
    _check_filter(wanted)
    with app.unit_of_work() as uow:
        matching = uow.session.scalar(_filtered(select(func.count(AuditEvent.id)), wanted)) or 0
        if matching > MAX_CSV_ROWS:
            raise InvalidInputError(
                f"{matching} events match: a CSV export holds at most {MAX_CSV_ROWS}; "
                "narrow the search (user, action, case or dates)"
            )
        out = io.StringIO()
        writer = SafeCsvWriter(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        last_id: int | None = None
        query = _filtered(select(AuditEvent), wanted).order_by(AuditEvent.id.asc())
        for event in uow.session.scalars(query.limit(MAX_CSV_ROWS)).yield_per(1000):
            writer.writerow(
                [
                    event.id,
                    event.occurred_at.isoformat(),
                    event.actor,
                    event.role or "",
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.case_reference or "",
                    json.dumps(event.details, sort_keys=True, ensure_ascii=False),
                    event.event_hash or "",
                ]
            )
            count += 1
            last_id = event.id
        app.audit(
            uow,
            action="audit.csv_exported",
            object_type="audit_log",
            object_id=str(last_id) if last_id is not None else "-",
            case_reference=wanted.case_reference,
            events=count,
            filters=wanted.described(),
        )
        uow.commit()
    return AuditCsv(text=out.getvalue(), events=count)


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
