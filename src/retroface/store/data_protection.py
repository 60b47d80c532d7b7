"""Encryption at rest of biometric data: a data key per deployment, wrapped by a key it never sees.

Why two keys: the data-encryption key (DEK, 256 random bits) encrypts every
template, index file and face file; it is stored only *wrapped* (AES-256-GCM
under the key-encryption key, KEK) in the database's ``deployment_settings``
table, next to the data it protects, so a backup or a PostgreSQL deployment
with many servers always carries the one key its ciphertexts need. The KEK
comes from outside the data directory (``RETROFACE_KEY_FILE`` or
``RETROFACE_MASTER_KEY``), so a copied disk or database file holds only
ciphertext and a wrapped key nobody can open. Rotating the KEK re-wraps one
small record; rotating the DEK re-encrypts everything, resumably, because
every ciphertext names the key that made it.

Ciphertext format (version 1)::

    b"\\x89RFE" | version (1 byte) | key id (8 bytes) | nonce (12 bytes) | AES-GCM ciphertext+tag

The header is authenticated with the caller's *associated data* (what the
blob is: ``template:face=12``, ``index:gallery-3-....faiss``, ``file:exports/...``),
so a blob moved to another row or file fails its check instead of being
believed. The magic is chosen so that a plaintext template can never look
encrypted: read as the first float32 of a template it is about 3173, and
templates are unit vectors.

A deployment without a key runs in plaintext mode (the same calls, no
encryption). States, stored in the record: ``converting`` (``retroface keys
init`` is encrypting existing plaintext: both are read) and ``encrypted``
(plaintext biometric data is refused: it can only have been put there
outside retroface). Nothing here logs or puts key material in a message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from retroface.errors import DataIntegrityError, DataKeyError
from retroface.store.models import DeploymentSetting

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: The deployment_settings row that holds the wrapped data keys and the state.
SETTING_KEY = "data_protection"
ALGORITHM = "AES-256-GCM"
WRAP_ALGORITHM = "AES-256-GCM key wrap"
MAGIC = b"\x89RFE"
VERSION = 1
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + KEY_ID_BYTES
#: Bytes a sealed blob adds to its plaintext.
OVERHEAD_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
KEY_BYTES = 32

PLAINTEXT = "plaintext"
CONVERTING = "converting"
ENCRYPTED = "encrypted"

KEY_HELP = "set RETROFACE_KEY_FILE to the key file (or RETROFACE_MASTER_KEY to its base64 text)"


def alert_crop_associated(alert_id: int) -> bytes:
    """What a live alert's face crop is bound to: its alert."""
    return f"live-alert:{int(alert_id)}".encode()


def template_associated(face_id: int) -> bytes:
    """What a template blob is bound to: its face (templates cannot be swapped between faces)."""
    return f"template:face={int(face_id)}".encode()


def file_associated(relative: str) -> bytes:
    """What a protected file is bound to: its path inside the data directory."""
    return f"file:{relative}".encode()


def is_sealed(blob: bytes) -> bool:
    """Whether a blob (or just its first ``HEADER_BYTES``) carries the sealed header."""
    return len(blob) >= HEADER_BYTES and blob[: len(MAGIC)] == MAGIC


def sealed_key_id(blob: bytes) -> str | None:
    """The key id in a sealed blob's header (None for plaintext)."""
    if not is_sealed(blob):
        return None
    start = len(MAGIC) + 1
    return blob[start : start + KEY_ID_BYTES].hex()


class KeyEncryptionKey:
    """The KEK held in memory; its repr and id never reveal it."""

    def __init__(self, material: bytes) -> None:
        if len(material) != KEY_BYTES:
            raise DataKeyError(f"a key-encryption key must be {KEY_BYTES} bytes")
        self._material = material

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(id={self.key_id})"

    @property
    def key_id(self) -> str:
        """A fingerprint (HMAC of a constant), so a wrong key can be named without storing it."""
        return hmac.new(self._material, b"retroface kek id", hashlib.sha256).hexdigest()[:16]

    def wrap(self, key_id: str, data_key: bytes) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._material).encrypt(nonce, data_key, _wrap_associated(key_id))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        raw = base64.b64decode(wrapped)
        try:
            return AESGCM(self._material).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _wrap_associated(key_id)
            )
        except InvalidTag as exc:
            raise DataKeyError(
                "the key-encryption key given does not open this data directory's data key "
                f"(given key id {self.key_id}): {KEY_HELP} of the key this directory was "
                "encrypted or last rotated with"
            ) from exc


def _wrap_associated(key_id: str) -> bytes:
    return f"retroface data key {key_id}".encode()


def parse_key_text(raw: bytes, source: str) -> KeyEncryptionKey:
    """A KEK from 32 raw bytes or from base64 text of 32 bytes (what ``keys generate`` writes)."""
    if len(raw) == KEY_BYTES:
        return KeyEncryptionKey(raw)
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != KEY_BYTES:
        raise DataKeyError(
            f"{source} must hold {KEY_BYTES} random bytes, raw or base64-encoded "
            "(make one with 'retroface keys generate PATH')"
        )
    return KeyEncryptionKey(decoded)


def load_key_encryption_key(
    key_file: Path | None, master_key: str | None
) -> KeyEncryptionKey | None:
    """The KEK the settings name, or None when neither source is set."""
    if key_file is not None and master_key:
        raise DataKeyError("set only one of RETROFACE_KEY_FILE and RETROFACE_MASTER_KEY")
    if key_file is not None:
        try:
            raw = key_file.read_bytes()
        except OSError as exc:
            raise DataKeyError(
                f"cannot read the key file {key_file} ({exc.strerror or 'unreadable'})"
            ) from exc
        return parse_key_text(raw, f"the key file {key_file}")
    if master_key:
        return parse_key_text(master_key.encode("ascii", "replace"), "RETROFACE_MASTER_KEY")
    return None


def new_key_text() -> bytes:
    """Base64 text of 32 random bytes: the content of a new key file."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"


@dataclass
class ProtectionRecord:
    """The ``data_protection`` row: state, wrapped data keys, which one encrypts."""

    state: str
    generation: int
    current: str
    kek_id: str
    #: key id → {"wrapped", "created_at", "retiring"}
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ProtectionRecord:
        return cls(
            state=str(value["state"]),
            generation=int(value["generation"]),
            current=str(value["current"]),
            kek_id=str(value["kek_id"]),
            keys={str(k): dict(v) for k, v in value["keys"].items()},
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "generation": self.generation,
            "algorithm": ALGORITHM,
            "wrap": WRAP_ALGORITHM,
            "current": self.current,
            "kek_id": self.kek_id,
            "keys": self.keys,
        }

    @property
    def retiring(self) -> list[str]:
        return [k for k in self.keys if k != self.current]


def new_data_key(kek: KeyEncryptionKey, now: datetime) -> tuple[str, bytes, dict[str, Any]]:
    """A fresh DEK: its id, its bytes (kept only in memory) and its wrapped record entry."""
    key_id = secrets.token_bytes(KEY_ID_BYTES).hex()
    data_key = AESGCM.generate_key(bit_length=256)
    entry = {"wrapped": kek.wrap(key_id, data_key), "created_at": now.isoformat()}
    return key_id, data_key, entry


def read_record(session: Session) -> ProtectionRecord | None:
    row = session.get(DeploymentSetting, SETTING_KEY)
    return ProtectionRecord.from_json(row.value) if row is not None else None


def write_record(session: Session, record: ProtectionRecord, actor: str) -> None:
    """Store the record (the caller commits it with its audit event)."""
    row = session.get(DeploymentSetting, SETTING_KEY)
    if row is None:
        session.add(DeploymentSetting(key=SETTING_KEY, value=record.as_json(), set_by=actor))
    else:
        row.value = record.as_json()
        row.set_by = actor
        row.set_at = datetime.now(UTC)
    session.flush()


class DataCipher:
    """Seals and opens biometric blobs with the deployment's data keys (or passes plaintext).

    One per process (held by the database handle). ``sync`` brings it in line
    with the record in the database, so a process keeps working across a data
    key rotation or a conversion that another process ran: it unwraps new
    keys with the KEK it was started with, or refuses clearly.
    """

    def __init__(self, kek: KeyEncryptionKey | None = None) -> None:
        self._kek = kek
        self._lock = threading.Lock()
        self._keys: dict[str, AESGCM] = {}
        self._state = PLAINTEXT
        self._current: str | None = None
        self._generation: int | None = None

    def __repr__(self) -> str:
        return f"DataCipher(state={self._state}, key_id={self._current})"

    @classmethod
    def plaintext(cls) -> DataCipher:
        return cls()

    @property
    def state(self) -> str:
        return self._state

    @property
    def enabled(self) -> bool:
        """Whether new data is encrypted (converting or encrypted)."""
        return self._state != PLAINTEXT

    @property
    def key_id(self) -> str | None:
        return self._current

    @property
    def kek(self) -> KeyEncryptionKey | None:
        return self._kek

    @property
    def generation(self) -> int | None:
        return self._generation

    def sync(self, record: ProtectionRecord | None) -> None:
        """Adopt the database's record (a no-op when this process already has it)."""
        with self._lock:
            if record is None:
                if self._state != PLAINTEXT:
                    raise DataKeyError(
                        "the data-protection record has disappeared from the database of an "
                        "encrypted data directory: restore it from a backup before going on"
                    )
                return
            if record.generation == self._generation:
                return
            keys: dict[str, AESGCM] = {}
            for key_id, entry in record.keys.items():
                held = self._keys.get(key_id)
                keys[key_id] = held if held is not None else AESGCM(self._unwrap(key_id, entry))
            self._keys = keys
            self._state = record.state
            self._current = record.current
            self._generation = record.generation

    def _unwrap(self, key_id: str, entry: dict[str, Any]) -> bytes:
        if self._kek is None:
            raise DataKeyError(f"this data directory is encrypted: {KEY_HELP}")
        return self._kek.unwrap(key_id, str(entry["wrapped"]))

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        """Seal with the current data key (plaintext mode: the plaintext itself)."""
        with self._lock:
            if self._state == PLAINTEXT or self._current is None:
                return plaintext
            key_id, aead = self._current, self._keys[self._current]
        header = MAGIC + bytes([VERSION]) + bytes.fromhex(key_id)
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + aead.encrypt(nonce, plaintext, header + b"|" + associated)

    def decrypt(self, blob: bytes, associated: bytes, *, allow_plaintext: bool = False) -> bytes:
        """Open a sealed blob. Plaintext passes only where the directory is not (yet) encrypted,
        or for ``allow_plaintext`` (``keys init`` sealing leftovers an admin asked it to)."""
        if not is_sealed(blob):
            if self._state == ENCRYPTED and not allow_plaintext:
                raise DataIntegrityError(
                    f"{_what(associated)} is stored unencrypted in an encrypted data directory "
                    "(written outside retroface?): run 'retroface keys init' to encrypt it, "
                    "and find out how it got there"
                )
            return blob
        if blob[len(MAGIC)] != VERSION:
            raise DataIntegrityError(
                f"{_what(associated)} uses encryption format {blob[len(MAGIC)]}, which this "
                "version of retroface cannot read"
            )
        key_id = sealed_key_id(blob)
        if key_id is None or len(blob) < OVERHEAD_BYTES:
            raise DataIntegrityError(f"{_what(associated)} is truncated: restore it from a backup")
        with self._lock:
            aead = self._keys.get(key_id)
        if aead is None:
            if self._state == PLAINTEXT:
                raise DataKeyError(f"{_what(associated)} is encrypted: {KEY_HELP}")
            raise DataKeyError(
                f"{_what(associated)} is encrypted with data key {key_id}, which this "
                "deployment's key record does not hold (a rotation finished elsewhere, or the "
                "data comes from another deployment): restart retroface, or restore the "
                "matching backup"
            )
        header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return aead.decrypt(
                nonce, blob[HEADER_BYTES + NONCE_BYTES :], header + b"|" + associated
            )
        except InvalidTag as exc:
            raise DataIntegrityError(
                f"{_what(associated)} failed its integrity check: it was altered, or copied "
                "from another record; restore it from a backup"
            ) from exc

    def needs_sealing(self, blob_head: bytes) -> bool:
        """Whether a stored blob (its first bytes suffice) is not under the current data key."""
        return self.enabled and sealed_key_id(blob_head) != self._current


def _what(associated: bytes) -> str:
    """A readable name for a blob in messages (ids and paths only, never content)."""
    kind, _, rest = associated.decode("utf-8", "replace").partition(":")
    if kind == "template":
        return f"the template of face {rest.removeprefix('face=')}"
    if kind == "index":
        return f"the index file {rest}"
    if kind == "live-alert":
        return f"the face crop of live alert {rest}"
    return f"the file {rest}"


def seal_template(cipher: DataCipher, face_id: int, vector: NDArray[np.floating]) -> bytes:
    import numpy as np  # noqa: PLC0415 - numpy loads with the first template, not with every command

    return cipher.encrypt(
        np.asarray(vector, dtype=np.float32).tobytes(), template_associated(face_id)
    )


def open_template(cipher: DataCipher, face_id: int, blob: bytes) -> NDArray[np.float32]:
    import numpy as np  # noqa: PLC0415 - numpy loads with the first template, not with every command

    return np.frombuffer(cipher.decrypt(blob, template_associated(face_id)), dtype=np.float32)


def key_ids_of(blobs: Iterable[bytes]) -> dict[str | None, int]:
    """How many blobs each key id sealed (None: plaintext)."""
    counts: dict[str | None, int] = {}
    for blob in blobs:
        key = sealed_key_id(bytes(blob))
        counts[key] = counts.get(key, 0) + 1
    return counts
