"""The data cipher: AES-256-GCM with a fresh nonce per message, a recognisable versioned header,
associated data that binds each blob to its place, and wrapped data keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from retroface.errors import DataIntegrityError, DataKeyError
from retroface.index import FlatIndex, IvfIndex, load_index
from retroface.store.data_protection import (
    CONVERTING,
    ENCRYPTED,
    HEADER_BYTES,
    MAGIC,
    NONCE_BYTES,
    OVERHEAD_BYTES,
    VERSION,
    DataCipher,
    KeyEncryptionKey,
    ProtectionRecord,
    is_sealed,
    load_key_encryption_key,
    new_data_key,
    new_key_text,
    open_template,
    seal_template,
    sealed_key_id,
)


def _cipher(state: str = ENCRYPTED, kek: KeyEncryptionKey | None = None) -> DataCipher:
    kek = kek or KeyEncryptionKey(bytes(range(32)))
    key_id, _, entry = new_data_key(kek, datetime.now(UTC))
    cipher = DataCipher(kek)
    cipher.sync(ProtectionRecord(state, 1, key_id, kek.key_id, {key_id: entry}))
    return cipher


def test_every_message_gets_a_fresh_nonce() -> None:
    cipher = _cipher()
    blobs = [cipher.encrypt(b"same plaintext", b"template:face=1") for _ in range(200)]
    nonces = {b[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES] for b in blobs}
    assert len(nonces) == len(blobs) and len(set(blobs)) == len(blobs)
    assert all(cipher.decrypt(b, b"template:face=1") == b"same plaintext" for b in blobs)


def test_ciphertext_carries_magic_version_and_key_id() -> None:
    cipher = _cipher()
    blob = cipher.encrypt(b"x" * 512, b"template:face=7")
    assert blob.startswith(MAGIC) and blob[len(MAGIC)] == VERSION
    assert sealed_key_id(blob) == cipher.key_id and is_sealed(blob)
    assert len(blob) == 512 + OVERHEAD_BYTES
    # A unit-norm float32 template can never be mistaken for a sealed blob.
    vector = np.ones(128, dtype=np.float32) / np.sqrt(128)
    assert not is_sealed(vector.tobytes())


def test_a_blob_moved_to_another_record_is_refused() -> None:
    cipher = _cipher()
    vector = np.linspace(-1, 1, 128, dtype=np.float32)
    blob = seal_template(cipher, 3, vector)
    assert np.array_equal(open_template(cipher, 3, blob), vector)
    with pytest.raises(DataIntegrityError, match="face 4 failed its integrity check"):
        open_template(cipher, 4, blob)


def test_altered_ciphertext_or_header_or_version_is_refused() -> None:
    cipher = _cipher()
    blob = bytearray(cipher.encrypt(b"template bytes", b"file:exports/a.png"))
    flipped = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
    with pytest.raises(DataIntegrityError, match=r"exports/a\.png failed its integrity check"):
        cipher.decrypt(flipped, b"file:exports/a.png")
    other_version = bytes(blob[: len(MAGIC)]) + bytes([VERSION + 1]) + bytes(blob[len(MAGIC) + 1 :])
    with pytest.raises(DataIntegrityError, match="format"):
        cipher.decrypt(other_version, b"file:exports/a.png")
    with pytest.raises(DataIntegrityError, match="truncated"):
        cipher.decrypt(bytes(blob[: OVERHEAD_BYTES - 1]), b"file:exports/a.png")


def test_plaintext_mode_passes_data_through_and_refuses_sealed_blobs() -> None:
    plain = DataCipher.plaintext()
    assert not plain.enabled and plain.encrypt(b"abc", b"template:face=1") == b"abc"
    assert plain.decrypt(b"abc", b"template:face=1") == b"abc"
    sealed = _cipher().encrypt(b"abc", b"template:face=1")
    with pytest.raises(DataKeyError, match="RETROFACE_KEY_FILE"):
        plain.decrypt(sealed, b"template:face=1")


def test_an_encrypted_store_refuses_plaintext_a_converting_one_reads_it() -> None:
    with pytest.raises(DataIntegrityError, match="stored unencrypted"):
        _cipher(ENCRYPTED).decrypt(b"\x00" * 512, b"template:face=1")
    assert _cipher(CONVERTING).decrypt(b"\x00" * 512, b"template:face=1") == b"\x00" * 512


def test_a_data_key_opens_only_with_its_key_encryption_key() -> None:
    right, wrong = KeyEncryptionKey(b"\x01" * 32), KeyEncryptionKey(b"\x02" * 32)
    key_id, data_key, entry = new_data_key(right, datetime.now(UTC))
    assert right.unwrap(key_id, entry["wrapped"]) == data_key
    with pytest.raises(DataKeyError, match="does not open"):
        wrong.unwrap(key_id, entry["wrapped"])
    record = ProtectionRecord(ENCRYPTED, 1, key_id, right.key_id, {key_id: entry})
    with pytest.raises(DataKeyError, match="is encrypted"):
        DataCipher(None).sync(record)
    assert "\\x01" not in repr(right) and right.key_id in repr(right)


def test_key_files_hold_32_bytes_raw_or_base64(tmp_path: Path) -> None:
    text = tmp_path / "kek.b64"
    text.write_bytes(new_key_text())
    raw = tmp_path / "kek.raw"
    raw.write_bytes(b"\x07" * 32)
    assert load_key_encryption_key(text, None) is not None
    assert load_key_encryption_key(raw, None) is not None
    assert load_key_encryption_key(None, None) is None
    short = tmp_path / "short"
    short.write_text("c2hvcnQ=")
    with pytest.raises(DataKeyError, match="32 random bytes"):
        load_key_encryption_key(short, None)
    with pytest.raises(DataKeyError, match="only one"):
        load_key_encryption_key(text, "AAAA")
    with pytest.raises(DataKeyError, match="cannot read"):
        load_key_encryption_key(tmp_path / "absent", None)


def test_sealed_index_files_load_only_with_their_key_and_never_in_clear(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(300, dtype=np.int64)
    flat = FlatIndex(16)
    flat.add(ids, vectors)
    ivf = IvfIndex(16, nlist=4, nprobe=4)
    ivf.train(vectors)
    ivf.add(ids, vectors)
    cipher, stranger = _cipher(), _cipher()
    for name, index in (("flat.faiss", flat), ("ivf.faiss", ivf)):
        path = tmp_path / name
        index.save(path, "state-1", cipher)
        assert is_sealed(path.read_bytes()) and vectors[0].tobytes()[:16] not in path.read_bytes()
        loaded = load_index(path, 16, cipher)
        assert loaded is not None and loaded[1] == "state-1"
        assert np.array_equal(
            loaded[0].search(vectors[:5], 1).ids, index.search(vectors[:5], 1).ids
        )
        assert load_index(path, 16, stranger) is None  # another deployment's key: rebuilt
        assert load_index(path, 16) is None  # no key: rebuilt, never trusted
        index.save(path, "state-2")  # a plaintext file where the directory is encrypted
        assert load_index(path, 16, cipher) is None
