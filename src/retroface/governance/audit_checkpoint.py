"""Signed checkpoints: the audit chain's anchor outside the database.

The hash chain (:mod:`audit`) shows that no row was edited, inserted or
reordered, but not that rows were kept: deleting the tail, deleting every
row, or rewriting one row and recomputing every later hash all leave a chain
that verifies. A checkpoint fixes the chain head at a moment: the latest
event's id and hash and the number of events up to it, with the time, signed
with an Ed25519 key kept outside the data directory, one JSON line appended
to a checkpoint file outside the data directory (and optionally posted to a
webhook elsewhere). Whoever can rewrite the database cannot forge a
signature, so against every checkpoint :func:`check_checkpoints` finds:

* **truncated**: the event a checkpoint names is gone and the log ends
  before it (or is empty);
* **deleted**: that event is gone but later events remain;
* **rewritten**: the event is there with another hash: the log was rewritten
  from that event or earlier and re-chained (or truncated and written again);
* **count**: the number of events up to it differs (rows removed or added
  before it under the same hash, which the chain itself also catches);
* **bad-signature** / **malformed**: the checkpoint line itself was altered.

Events newer than the last checkpoint are not anchored: they are counted and
the time of the last checkpoint shown, so a reader knows how much is at risk.

**Which head is signed.** Writing a checkpoint is itself audited
(``audit.checkpoint_written``), and that event changes the head. The design:
the event is recorded first, in a transaction that holds the chain lock
(:func:`audit.record_event`); the head signed is *that event* (its id and
hash, fixed at flush, and the count of events up to it), so a checkpoint
anchors its own audit record and, after it, nothing is left unanchored. The
line is appended to the file only after the transaction commits: a
checkpoint never names an event that was rolled back (which would read as a
truncation). If the append then fails, the event stays, and the failure is
audited in turn (``audit.checkpoint_failed``); the next checkpoint anchors
both. The event's details cannot carry the signature (it would change the
hash it covers); the line names the event, and the event names the key id
and the file.

Key: a PKCS#8 PEM Ed25519 private key file (``retroface audit checkpoint-key
generate``); the public key, printed as base64 of its 32 raw bytes, is what
an oversight body keeps to check checkpoints without being able to make one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retroface.errors import InvalidInputError
from retroface.governance.audit import canonical_json
from retroface.governance.output_files import inside_data_directory
from retroface.settings import Settings
from retroface.store.models import AuditEvent

RECORD_TYPE = "retroface.audit-checkpoint"
VERSION = 1
ALGORITHM = "Ed25519"
#: The audit action a checkpoint's own event carries.
CHECKPOINT_ACTION = "audit.checkpoint_written"
_FIELDS = ("type", "version", "algorithm", "key_id", "event_id", "event_hash", "events", "at")


# --- keys ------------------------------------------------------------------------------------


def check_locations(settings: Settings) -> None:
    """Refuse a checkpoint key or checkpoint file inside the data directory: whoever can
    rewrite the log there could then also delete its anchor or sign a new one."""
    for what, path in (
        ("checkpoint key file", settings.checkpoint_key_file),
        ("checkpoint file", settings.checkpoint_path),
    ):
        if path is not None and inside_data_directory(path, settings):
            raise InvalidInputError(
                f"the {what} {path} is inside the data directory {settings.home}: move it "
                "out (the audit log's anchor must not be where the log can be rewritten)"
            )


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes (what an oversight body keeps)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key, named in every checkpoint and its audit event."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def parse_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("the checkpoint public key is not base64") from exc
    if len(raw) != 32:
        raise InvalidInputError("the checkpoint public key is not 32 bytes (an Ed25519 key)")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The checkpoint signing key from its PEM file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the checkpoint key ({exc.strerror})") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(
            f"{path}: not an unencrypted PEM private key "
            "(make one with 'retroface audit checkpoint-key generate')"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"{path}: the checkpoint key must be an Ed25519 key")
    return key


def write_new_key_file(path: Path) -> Ed25519PublicKey:
    """A new Ed25519 private key, PEM, owner-only (0600); an existing file is never replaced.

    The caller refuses a path inside the data directory first."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInputError(
            f"{path} exists: choose a new file (keys are never overwritten)"
        ) from exc
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot write the key ({exc.strerror})") from exc
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key.public_key()


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainHead:
    """The event a checkpoint anchors: its id and hash, and how many events there are up to it."""

    event_id: int
    event_hash: str
    events: int


def head_at(session: Session, event: AuditEvent) -> ChainHead:
    """``event`` (flushed, so it has its id and hash) as a head: counted in the caller's
    transaction, which holds the chain lock, so no other event can slip in before it."""
    if event.event_hash is None:
        raise ValueError("a checkpoint anchors a recorded (flushed) audit event")
    events = session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.id <= event.id))
    return ChainHead(event.id, event.event_hash, int(events or 0))


def signed_checkpoint(head: ChainHead, at: datetime, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The checkpoint record: the head, the time and the key id, signed over their canonical JSON."""
    body: dict[str, Any] = {
        "type": RECORD_TYPE,
        "version": VERSION,
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "event_id": head.event_id,
        "event_hash": head.event_hash,
        "events": head.events,
        "at": at.isoformat(),
    }
    signature = key.sign(canonical_json(body).encode("utf-8"))
    return {**body, "signature": base64.b64encode(signature).decode("ascii")}


def append_checkpoint(path: Path, record: dict[str, Any]) -> None:
    """Append one line (owner-only file, opened for appending only) and flush it to disk."""
    line = (canonical_json(record) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- checking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint line whose signature verified."""

    line: int
    event_id: int
    event_hash: str
    events: int
    at: str


@dataclass(frozen=True)
class CheckpointProblem:
    """What a checkpoint shows was done to the log (or to the checkpoint file)."""

    kind: str
    line: int
    event_id: int | None
    detail: str


@dataclass(frozen=True)
class AnchorReport:
    checkpoints: int
    problems: tuple[CheckpointProblem, ...] = ()
    last: Checkpoint | None = None
    #: Events after the last verified checkpoint's event (not anchored yet).
    events_since_last: int | None = None
    #: Non-empty lines in the checkpoint file, verified or not.
    lines: int = 0


def read_lines(path: Path) -> list[str]:
    """The checkpoint file's lines (none when it does not exist yet)."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read the checkpoint file ({exc})") from exc


def _parsed(
    lines: Iterable[str], key: Ed25519PublicKey
) -> tuple[list[Checkpoint], list[CheckpointProblem], set[int]]:
    """(lines whose signature verifies, problems, every event id a well-formed line names)."""
    checkpoints: list[Checkpoint] = []
    problems: list[CheckpointProblem] = []
    named: set[int] = set()
    ours = key_id(key)
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            body = {name: record[name] for name in _FIELDS}
            signature = base64.b64decode(str(record["signature"]), validate=True)
            event_id, events = int(body["event_id"]), int(body["events"])
            valid_shape = record["type"] == RECORD_TYPE and isinstance(body["event_hash"], str)
        except (ValueError, KeyError, TypeError, binascii.Error):
            valid_shape = False
        if not valid_shape:
            problems.append(
                CheckpointProblem(
                    "malformed",
                    number,
                    None,
                    f"checkpoint line {number} is not a checkpoint record (the file was edited)",
                )
            )
            continue
        named.add(event_id)
        try:
            key.verify(signature, canonical_json(body).encode("utf-8"))
        except InvalidSignature:
            other = "" if body["key_id"] == ours else f", and names key {body['key_id']}"
            problems.append(
                CheckpointProblem(
                    "bad-signature",
                    number,
                    event_id,
                    f"checkpoint line {number} (event {event_id}): the signature does not "
                    f"verify with key {ours}{other}: the line was altered or forged",
                )
            )
            continue
        checkpoints.append(Checkpoint(number, event_id, body["event_hash"], events, body["at"]))
    return checkpoints, problems, named


def _rows(session: Session) -> Iterator[tuple[int, str]]:
    query = select(AuditEvent.id, AuditEvent.event_hash).order_by(AuditEvent.id)
    for event_id, event_hash in session.execute(query).yield_per(5000):
        yield int(event_id), str(event_hash)


def check_checkpoints(
    session: Session,
    lines: Iterable[str],
    key: Ed25519PublicKey,
    *,
    file: str | None = None,
    settled_before: datetime | None = None,
) -> AnchorReport:
    """Check the log against every checkpoint line, in one pass over the events in id order.

    Read the checkpoint file *before* the caller's transaction first reads the log: a line
    is appended only after its event committed, so every line read then names an event the
    transaction can see (read the other way round, a checkpoint written in between would
    look like a truncation).

    With ``file`` (the checkpoint file's resolved path, as checkpoint events record it),
    the other direction too: a checkpoint event the log holds for that file, written
    before ``settled_before``, whose line is not in the file (and whose append was not
    recorded as failed) shows the file was truncated or replaced.
    """
    lines = list(lines)
    checkpoints, problems, named = _parsed(lines, key)
    if file is not None:
        problems.extend(_missing_lines(session, file, named, settled_before))
    pending = sorted(checkpoints, key=lambda c: (c.event_id, c.line))
    good: list[Checkpoint] = []
    count, last_id = 0, 0
    position = 0
    for event_id, event_hash in _rows(session):
        while position < len(pending) and pending[position].event_id < event_id:
            problems.append(_deleted(pending[position], event_id))
            position += 1
        count += 1
        last_id = event_id
        while position < len(pending) and pending[position].event_id == event_id:
            checkpoint = pending[position]
            position += 1
            if checkpoint.event_hash != event_hash:
                problems.append(_rewritten(checkpoint))
            elif checkpoint.events != count:
                problems.append(_miscounted(checkpoint, count))
            else:
                good.append(checkpoint)
    for checkpoint in pending[position:]:
        problems.append(_truncated(checkpoint, last_id, count))
    last = max(good, key=lambda c: c.event_id, default=None)
    return AnchorReport(
        checkpoints=len(good),
        problems=tuple(sorted(problems, key=lambda p: p.line)),
        last=last,
        events_since_last=None if last is None else count - last.events,
        lines=sum(1 for text in lines if text.strip()),
    )


def _truncated(checkpoint: Checkpoint, last_id: int, count: int) -> CheckpointProblem:
    ending = (
        "the log is empty"
        if count == 0
        else f"the log now ends at event {last_id} ({count} events)"
    )
    return CheckpointProblem(
        "truncated",
        checkpoint.line,
        checkpoint.event_id,
        f"truncated: checkpoint line {checkpoint.line} ({checkpoint.at}) anchors event "
        f"{checkpoint.event_id} of {checkpoint.events}, but {ending}: events were deleted",
    )


def _deleted(checkpoint: Checkpoint, next_id: int) -> CheckpointProblem:
    return CheckpointProblem(
        "deleted",
        checkpoint.line,
        checkpoint.event_id,
        f"deleted: event {checkpoint.event_id}, anchored by checkpoint line {checkpoint.line} "
        f"({checkpoint.at}), is gone (the next event is {next_id})",
    )


def _rewritten(checkpoint: Checkpoint) -> CheckpointProblem:
    return CheckpointProblem(
        "rewritten",
        checkpoint.line,
        checkpoint.event_id,
        f"re-chained: event {checkpoint.event_id} no longer has the hash checkpoint line "
        f"{checkpoint.line} ({checkpoint.at}) signed: the log was rewritten at or before it "
        "and its hashes recomputed (or truncated and written again)",
    )


def _miscounted(checkpoint: Checkpoint, count: int) -> CheckpointProblem:
    return CheckpointProblem(
        "count",
        checkpoint.line,
        checkpoint.event_id,
        f"miscounted: checkpoint line {checkpoint.line} ({checkpoint.at}) counted "
        f"{checkpoint.events} events up to event {checkpoint.event_id}; the log holds {count}",
    )


#: The audit action recorded when a checkpoint's line could not be appended.
FAILED_ACTION = "audit.checkpoint_failed"


def _missing_lines(
    session: Session, file: str, named: set[int], settled_before: datetime | None
) -> list[CheckpointProblem]:
    query = select(AuditEvent.id, AuditEvent.details, AuditEvent.occurred_at).where(
        AuditEvent.action == CHECKPOINT_ACTION
    )
    failed = {
        (details or {}).get("checkpoint_event_id")
        for details in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == FAILED_ACTION)
        )
    }
    missing = []
    for event_id, details, occurred_at in session.execute(query.order_by(AuditEvent.id)):
        if (details or {}).get("file") != file or event_id in named or event_id in failed:
            continue
        if settled_before is not None and occurred_at >= settled_before:
            continue  # committed a moment ago: its line may still be on its way
        missing.append(
            CheckpointProblem(
                "missing-line",
                0,
                int(event_id),
                f"missing: the log records checkpoint event {event_id} "
                f"({occurred_at.isoformat(timespec='seconds')}) written to {file}, which has "
                "no line for it: the checkpoint file was truncated or replaced",
            )
        )
    return missing
