"""Signed export of the audit log for an oversight body (HMAC-SHA256, JSON lines).

The export is the external anchor that protects the chain's tail: once the
oversight body holds a signed copy with the head hash, truncating the log
afterwards is detectable by comparing heads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from pathlib import Path

from retroface.errors import InvalidInputError
from retroface.governance.audit import GENESIS, canonical_json
from retroface.store.models import AuditEvent

#: Where the HMAC signing key may come from when no key file is named.
KEY_ENV = "RETROFACE_AUDIT_KEY"

ALGORITHM = "HMAC-SHA256"
MIN_KEY_BYTES = 16


def event_record(event: AuditEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "case": event.case_reference,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "event_hash": event.event_hash,
    }


def write_signed_export(events: Iterable[AuditEvent], path: Path, key: bytes) -> tuple[int, str]:
    """Write one JSON line per event, then a signature line over all preceding bytes."""
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInputError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    count, head = 0, GENESIS
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as out:
        for event in events:
            line = canonical_json(event_record(event)) + "\n"
            mac.update(line.encode("utf-8"))
            out.write(line)
            count += 1
            head = event.event_hash or head
        trailer = {
            "type": "signature",
            "algorithm": ALGORITHM,
            "events": count,
            "head": head,
            "signature": mac.hexdigest(),
        }
        out.write(canonical_json(trailer) + "\n")
    tmp.replace(path)
    return count, head


def check_signed_export(path: Path, key: bytes) -> tuple[bool, int, str]:
    """(signature valid, event count, head hash) of an export file."""
    lines = path.read_bytes().splitlines(keepends=True)
    if not lines:
        raise InvalidInputError(f"{path}: empty export")
    try:
        trailer = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: the last line is not a signature record") from exc
    if trailer.get("type") != "signature" or trailer.get("algorithm") != ALGORITHM:
        raise InvalidInputError(f"{path}: the last line is not a {ALGORITHM} signature record")
    mac = hmac.new(key, b"".join(lines[:-1]), hashlib.sha256).hexdigest()
    valid = hmac.compare_digest(mac, str(trailer.get("signature", "")))
    valid = valid and trailer.get("events") == len(lines) - 1
    return valid, int(trailer.get("events", 0)), str(trailer.get("head", ""))


def load_signing_key(key_file: Path | None) -> bytes:
    """The deployment's HMAC signing key (audit exports, calibration records): a file, or
    $RETROFACE_AUDIT_KEY."""
    if key_file is not None:
        try:
            return key_file.read_bytes().strip()
        except OSError as exc:
            raise InvalidInputError(f"{key_file}: cannot read the key ({exc.strerror})") from exc
    value = os.environ.get(KEY_ENV, "")
    if not value:
        raise InvalidInputError(f"give --key-file or set {KEY_ENV} to sign or check a record")
    return value.encode("utf-8")
