"""Encryption at rest, operated by an admin: status, encrypting a directory, rotating keys.

What is sealed (store/data_protection.py): every template in the database,
every gallery index file, and the face files retroface writes (contact
sheets, case reports: services/biometrics/sealed_files.py). The operations:

* ``encrypt_data_directory`` (``retroface keys init``): creates the data key
  (wrapped with the configured KEK) and seals everything already stored in
  clear. Until it has finished the directory is *converting* (both are read);
  then *encrypted* (plaintext biometric data is refused). Each batch of rows
  and each file is its own atomic step, so a killed run is simply run again
  and continues; nothing is ever half-encrypted.
* ``rotate_key_encryption_key`` (``keys rotate --new-key-file``): re-wraps the
  data keys with a new KEK in one transaction; the data is untouched.
* ``rotate_data_key`` (``keys rotate --new-data-key``): a fresh data key seals
  every new write at once; the sweep re-encrypts what the old one sealed, and
  the old key is dropped only when nothing needs it. Killed, it resumes.

Every operation writes audit events (start and finish, with counts; never a
key). Other running processes follow the record in the database at their
next unit of work (see ``UnitOfWork.cipher``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from retroface.errors import DataKeyError, InvalidInputError, RetrofaceError
from retroface.governance.roles import Action
from retroface.index.faiss_io import META_SUFFIX, index_associated
from retroface.index.segments import drop_deltas
from retroface.services.app import App
from retroface.services.biometrics.sealed_files import (
    protected_files,
    read_protected_file,
    write_protected_file,
)
from retroface.store.data_protection import (
    ALGORITHM,
    CONVERTING,
    ENCRYPTED,
    HEADER_BYTES,
    KEY_HELP,
    PLAINTEXT,
    DataCipher,
    KeyEncryptionKey,
    ProtectionRecord,
    alert_crop_associated,
    new_data_key,
    new_key_text,
    read_record,
    sealed_key_id,
    template_associated,
    write_record,
)
from retroface.store.models import LiveAlert, Template
from retroface.store.unit_of_work import UnitOfWork

#: Template rows re-encrypted per transaction.
BATCH_ROWS = 500


class SealedCounts(BaseModel):
    """How many stored items are under the current data key, an older one, or in clear."""

    current_key: int = 0
    older_key: int = 0
    plaintext: int = 0


class DataKeyOut(BaseModel):
    key_id: str
    created_at: str
    current: bool


class KeyStatus(BaseModel):
    """What ``retroface keys status`` shows; never a key."""

    state: str
    encrypted: bool
    algorithm: str | None
    key_id: str | None
    kek_id: str | None
    key_configured: bool
    data_keys: list[DataKeyOut]
    templates: SealedCounts
    index_files: SealedCounts
    files: SealedCounts
    notes: list[str]


class KeyOperationReport(BaseModel):
    """What a key operation did: re-encrypted items per kind, and the resulting status."""

    operation: str
    templates_sealed: int
    index_files_sealed: int
    files_sealed: int
    status: KeyStatus


def key_status(app: App) -> KeyStatus:
    """Whether the directory is encrypted, with which key, and how much is sealed under it."""
    app.require(Action.KEYS_MANAGE)
    return _status(app)


def _status(app: App) -> KeyStatus:
    with app.unit_of_work() as uow:
        record = read_record(uow.session)
        heads = uow.session.scalars(select(func.substr(Template.vector, 1, HEADER_BYTES))).all()
    current = record.current if record else None
    templates = _count(current, (bytes(h) for h in heads))
    index_files = _count(current, (_head(p) for p in _index_files(app)))
    files = _count(current, (_head(p) for p in protected_files(app.settings.home)))
    notes: list[str] = []
    if record is None and app.cipher.kek is not None:
        notes.append("a key is configured but this directory is not encrypted: run 'keys init'")
    if record is not None and record.state == CONVERTING:
        notes.append("encryption is not finished: run 'retroface keys init' again to complete it")
    if record is not None and record.retiring:
        notes.append(
            "a data key rotation is not finished: run 'retroface keys rotate --new-data-key' "
            "again to complete it"
        )
    return KeyStatus(
        state=record.state if record else PLAINTEXT,
        encrypted=record is not None and record.state == ENCRYPTED,
        algorithm=ALGORITHM if record else None,
        key_id=current,
        kek_id=record.kek_id if record else None,
        key_configured=app.cipher.kek is not None,
        data_keys=[
            DataKeyOut(key_id=k, created_at=str(v.get("created_at", "")), current=k == current)
            for k, v in (record.keys.items() if record else [])
        ],
        templates=templates,
        index_files=index_files,
        files=files,
        notes=notes,
    )


def _count(current: str | None, heads: Iterable[bytes]) -> SealedCounts:
    counts = SealedCounts()
    for head in heads:
        key_id = sealed_key_id(head)
        if key_id is None:
            counts.plaintext += 1
        elif key_id == current:
            counts.current_key += 1
        else:
            counts.older_key += 1
    return counts


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(HEADER_BYTES)
    except OSError:
        return b""


def _index_files(app: App) -> list[Path]:
    folder = app.settings.index_dir
    return sorted(folder.glob("*.faiss")) if folder.is_dir() else []


def _configured_kek(app: App) -> KeyEncryptionKey:
    kek = app.cipher.kek
    if kek is None:
        raise DataKeyError(f"no key-encryption key is configured: {KEY_HELP}")
    return kek


def encrypt_data_directory(
    app: App, progress: Callable[[str], None] | None = None
) -> KeyOperationReport:
    """Encrypt this data directory with a new data key wrapped by the configured KEK, sealing
    every template, index file and face file stored so far. Run again to resume or to seal
    leftovers; on an encrypted directory with nothing left it changes nothing."""
    app.require(Action.KEYS_MANAGE)
    kek = _configured_kek(app)
    with app.unit_of_work() as uow:
        record = read_record(uow.session)
        if record is None:
            key_id, _, entry = new_data_key(kek, app.now())
            record = ProtectionRecord(
                state=CONVERTING, generation=1, current=key_id, kek_id=kek.key_id, keys={}
            )
            record.keys[key_id] = entry
            write_record(uow.session, record, app.actor)
            app.audit(
                uow,
                action="keys.encryption_started",
                object_type="data_key",
                object_id=key_id,
                algorithm=ALGORITHM,
                kek_id=kek.key_id,
            )
            uow.commit()
    sweep = _seal_everything(app, allow_plaintext=True, progress=progress)
    with app.unit_of_work() as uow:
        record = read_record(uow.session)
        assert record is not None
        if _templates_left(uow, record.current):
            raise DataKeyError(
                "templates were written in clear while encrypting (a process started before "
                "'keys init'?): restart every retroface process, then run 'keys init' again"
            )
        finished = record.state != ENCRYPTED
        if finished or sweep.total:
            record.state = ENCRYPTED
            record.generation += 1
            write_record(uow.session, record, app.actor)
            app.audit(
                uow,
                action="keys.encryption_enabled" if finished else "keys.leftovers_sealed",
                object_type="data_key",
                object_id=record.current,
                templates=sweep.templates,
                index_files=sweep.index_files,
                files=sweep.files,
            )
            uow.commit()
    app.db.compact()  # no plaintext template left behind in free pages or the log
    return _report(app, "encrypt", sweep)


def rotate_key_encryption_key(app: App, new_kek: KeyEncryptionKey) -> KeyOperationReport:
    """Re-wrap the data keys with ``new_kek`` in one transaction: from its commit on, only the
    new key opens the directory. The data itself is not touched (cheap, atomic)."""
    app.require(Action.KEYS_MANAGE)
    old_kek = _configured_kek(app)
    with app.unit_of_work() as uow:
        record = _encrypted_record(uow)
        if new_kek.key_id == record.kek_id:
            raise InvalidInputError("the new key-encryption key is the one already in use")
        for key_id, entry in record.keys.items():
            data_key = old_kek.unwrap(key_id, str(entry["wrapped"]))
            entry["wrapped"] = new_kek.wrap(key_id, data_key)
        previous = record.kek_id
        record.kek_id = new_kek.key_id
        record.generation += 1
        write_record(uow.session, record, app.actor)
        app.audit(
            uow,
            action="keys.kek_rotated",
            object_type="data_key",
            object_id=record.current,
            previous_kek_id=previous,
            kek_id=new_kek.key_id,
        )
        uow.commit()
    return _report(app, "rotate-kek", _Sweep())


def rotate_data_key(app: App, progress: Callable[[str], None] | None = None) -> KeyOperationReport:
    """Seal everything with a fresh data key; the old key stays (wrapped) until nothing needs
    it. A rotation that was interrupted is resumed, not started again."""
    app.require(Action.KEYS_MANAGE)
    kek = _configured_kek(app)
    with app.unit_of_work() as uow:
        record = _encrypted_record(uow)
        if not record.retiring:
            key_id, _, entry = new_data_key(kek, app.now())
            record.keys[key_id] = entry
            previous, record.current = record.current, key_id
            record.generation += 1
            write_record(uow.session, record, app.actor)
            app.audit(
                uow,
                action="keys.data_key_rotation_started",
                object_type="data_key",
                object_id=key_id,
                previous_key_id=previous,
            )
            uow.commit()
    sweep = _seal_everything(app, allow_plaintext=False, progress=progress)
    with app.unit_of_work() as uow:
        record = _encrypted_record(uow)
        if _templates_left(uow, record.current):
            raise DataKeyError(
                "templates under the old data key remain (written by a process that has not "
                "seen the rotation?): run 'keys rotate --new-data-key' again"
            )
        retired = record.retiring
        record.keys = {record.current: record.keys[record.current]}
        record.generation += 1
        write_record(uow.session, record, app.actor)
        app.audit(
            uow,
            action="keys.data_key_rotated",
            object_type="data_key",
            object_id=record.current,
            retired_key_ids=retired,
            templates=sweep.templates,
            index_files=sweep.index_files,
            files=sweep.files,
        )
        uow.commit()
    app.db.compact()  # nor ciphertexts of the retired key
    return _report(app, "rotate-data-key", sweep)


def _encrypted_record(uow: UnitOfWork) -> ProtectionRecord:
    record = read_record(uow.session)
    if record is None:
        raise InvalidInputError("this data directory is not encrypted: run 'retroface keys init'")
    if record.state != ENCRYPTED:
        raise InvalidInputError(
            "encrypting this data directory has not finished: run 'retroface keys init' again"
        )
    return record


def _templates_left(uow: UnitOfWork, current: str) -> int:
    """Templates not sealed under ``current`` (checked in the transaction that finishes)."""
    heads = uow.session.scalars(select(func.substr(Template.vector, 1, HEADER_BYTES))).all()
    return sum(1 for h in heads if sealed_key_id(bytes(h)) != current)


@dataclass
class _Sweep:
    templates: int = 0
    index_files: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.templates + self.index_files + self.files


def _seal_everything(
    app: App, *, allow_plaintext: bool, progress: Callable[[str], None] | None
) -> _Sweep:
    """Re-encrypt under the current data key whatever is not: template rows in batches (one
    transaction each), then index files and face files (each replaced atomically)."""
    say = progress or (lambda _: None)
    sweep = _Sweep()
    sweep.templates = _seal_templates(app, allow_plaintext, say)
    with app.unit_of_work() as uow:
        cipher = uow.cipher
    sweep.index_files = sum(_seal_index_file(cipher, p, allow_plaintext) for p in _index_files(app))
    # Delta segments are dropped, not resealed: each index catches up by one sealed delta.
    sweep.index_files += sum(drop_deltas(p) for p in _index_files(app))
    say(f"index files: {sweep.index_files} sealed")
    home = app.settings.home
    for path in protected_files(home):
        if cipher.needs_sealing(_head(path)):
            plain = read_protected_file(cipher, home, path, allow_plaintext=allow_plaintext)
            write_protected_file(cipher, home, path, plain)
            sweep.files += 1
    say(f"face files: {sweep.files} sealed")
    sweep.files += _seal_alert_crops(app, allow_plaintext, say)
    return sweep


def _seal_templates(app: App, allow_plaintext: bool, say: Callable[[str], None]) -> int:
    return _seal_column(
        app, allow_plaintext, say, "templates", Template.face_id, Template.vector,
        template_associated,
    )  # fmt: skip


def _seal_alert_crops(app: App, allow_plaintext: bool, say: Callable[[str], None]) -> int:
    return _seal_column(
        app, allow_plaintext, say, "live alert crops", LiveAlert.id, LiveAlert.crop_jpeg,
        alert_crop_associated,
    )  # fmt: skip


def _seal_column(
    app: App,
    allow_plaintext: bool,
    say: Callable[[str], None],
    label: str,
    bound_to: InstrumentedAttribute[int],
    blob_column: InstrumentedAttribute[bytes] | InstrumentedAttribute[bytes | None],
    associated: Callable[[int], bytes],
) -> int:
    """Re-seal one column's blobs in id order, a batch per transaction (resumable if killed)."""
    model = blob_column.class_
    sealed, last_id = 0, 0
    while True:
        with app.unit_of_work() as uow:
            cipher = uow.cipher
            rows = uow.session.execute(
                select(model.id, bound_to, blob_column)
                .where(model.id > last_id, blob_column.is_not(None))
                .order_by(model.id)
                .limit(BATCH_ROWS)
            ).all()
            if not rows:
                return sealed
            for row_id, bound, blob in rows:
                if not cipher.needs_sealing(blob):
                    continue
                binding = associated(bound)
                plain = cipher.decrypt(blob, binding, allow_plaintext=allow_plaintext)
                uow.session.execute(
                    update(model)
                    .where(model.id == row_id)
                    .values({blob_column.key: cipher.encrypt(plain, binding)})
                )
                sealed += 1
            uow.commit()
            last_id = rows[-1][0]
        say(f"{label}: {sealed} sealed (up to id {last_id})")


def _seal_index_file(cipher: DataCipher, path: Path, allow_plaintext: bool) -> int:
    """Seal one index file under the current key (1 if it was rewritten). An index file that
    cannot be opened is deleted: it is derived data, rebuilt from the database when used."""
    meta_path = path.with_suffix(META_SUFFIX)
    blob = path.read_bytes()
    if not cipher.needs_sealing(blob[:HEADER_BYTES]):
        return 0
    try:
        meta = json.loads(meta_path.read_text())
        plain = cipher.decrypt(
            blob, index_associated(path), allow_plaintext=allow_plaintext or not meta.get("sealed")
        )
    except (OSError, ValueError, RetrofaceError):  # unreadable, altered or of a dropped key
        path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        return 1
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(cipher.encrypt(plain, index_associated(path)))
    meta_path.unlink(missing_ok=True)  # as faiss_io: an index without metadata is never trusted
    os.replace(tmp, path)
    meta_path.write_text(json.dumps({**meta, "sealed": True}))
    return 1


def _report(app: App, operation: str, sweep: _Sweep) -> KeyOperationReport:
    return KeyOperationReport(
        operation=operation,
        templates_sealed=sweep.templates,
        index_files_sealed=sweep.index_files,
        files_sealed=sweep.files,
        status=_status(app),
    )


def write_new_key_file(path: Path, home: Path) -> Path:
    """Write a new random key-encryption key (base64, owner-only) for ``RETROFACE_KEY_FILE``.
    Refused inside the data directory: a copy of the directory must never carry its key."""
    if path.resolve().is_relative_to(home.resolve()):
        raise InvalidInputError(
            f"{path} is inside the data directory {home}: keep the key elsewhere "
            "(a copied data directory must not carry its own key)"
        )
    if path.exists():
        raise InvalidInputError(f"{path} exists: choose a new file (keys are never overwritten)")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(new_key_text())
    return path
