"""The audit log: append-only, hash-chained, written in the caller's transaction.

Each event stores the hash of the event before it, and its own hash over
its content and that link, so editing, deleting, inserting or reordering a
row breaks the chain at that row (:func:`verify_chain` names the first bad
one). The chain cannot show that its newest rows, or all of them, were
deleted, or that a row was rewritten and every later hash recomputed: signed
checkpoints outside the database do (:mod:`audit_checkpoint`), as does a
signed copy (:mod:`audit_export`) held by an oversight body. Writers take a lock before
reading the chain head, so concurrent transactions cannot fork the chain.

Details hold ids, counts, hashes of evidence files and parameters, never
templates, images or anything else biometric.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from retroface.store.models import AuditEvent, utcnow

GENESIS = "0" * 64
_FORBIDDEN_KEYS = frozenset({"embedding", "vector", "template", "pixels", "image", "chip"})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_digest(
    *,
    prev_hash: str,
    occurred_at: datetime,
    actor: str,
    role: str | None,
    action: str,
    object_type: str,
    object_id: str,
    case_reference: str | None,
    details: dict[str, Any],
) -> str:
    body = canonical_json(
        {
            "prev": prev_hash,
            "at": occurred_at.isoformat(),
            "actor": actor,
            "role": role,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "case": case_reference,
            "details": details,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise chain writers. SQLite transactions already begin IMMEDIATE (see store)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(724011)"))


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    case_reference: str | None = None,
    role: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one chained audit row; it commits (or rolls back) with the surrounding work."""
    leaked = _FORBIDDEN_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry biometric data: {sorted(leaked)}")
    _lock_chain(session)
    prev = session.scalar(select(AuditEvent.event_hash).order_by(AuditEvent.id.desc()).limit(1))
    # Round-trip details through JSON so the hash covers exactly what the database stores.
    stored_details = json.loads(canonical_json(details))
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        role=role,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        case_reference=case_reference,
        details=stored_details,
        prev_hash=prev or GENESIS,
    )
    event.event_hash = digest_of(event)
    session.add(event)
    session.flush()
    return event


def digest_of(event: AuditEvent) -> str:
    return event_digest(
        prev_hash=event.prev_hash or GENESIS,
        occurred_at=event.occurred_at,
        actor=event.actor,
        role=event.role,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        case_reference=event.case_reference,
        details=event.details,
    )


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head: str
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainReport:
    """Walk the log in id order; report the first row whose link or content does not check."""
    expected_prev = GENESIS
    count = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        count += 1
        if event.prev_hash != expected_prev:
            return ChainReport(
                False,
                count,
                expected_prev,
                event.id,
                "its link to the previous event is broken (a row was deleted, inserted or moved)",
            )
        if digest_of(event) != event.event_hash:
            return ChainReport(
                False,
                count,
                expected_prev,
                event.id,
                "its content was changed after it was written",
            )
        expected_prev = event.event_hash
    return ChainReport(True, count, expected_prev)
