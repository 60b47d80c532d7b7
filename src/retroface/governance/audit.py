"""Write audit events in the caller's transaction, so a change and its record commit together.

Details hold ids, counts, hashes of evidence files and parameters, never
templates, images or anything else biometric. Hash chaining arrives with
the governance issue; the columns already exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from retroface.store.models import AuditEvent

_FORBIDDEN_KEYS = frozenset({"embedding", "vector", "template", "pixels", "image", "chip"})


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    case_reference: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add one audit row to the session; it commits with the surrounding unit of work."""
    leaked = _FORBIDDEN_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry biometric data: {sorted(leaked)}")
    event = AuditEvent(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        case_reference=case_reference,
        details=details,
    )
    session.add(event)
    return event
