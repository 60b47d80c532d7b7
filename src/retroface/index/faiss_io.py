"""What the FAISS-backed indexes share: checking inputs, empty results, atomic saving.

Index files hold every template of a gallery, so where the data directory
is encrypted they are written sealed (the serialised index encrypted as one
blob, bound to its file name) and read back into memory. The price: a sealed
IVF index cannot be memory-mapped, so a server holds the whole gallery in
RAM (and briefly twice while loading) instead of paging it from the file.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from retroface.errors import RetrofaceError
from retroface.index.file_lock import index_folder_lock
from retroface.index.vector_index import BlobCipher, SearchHits

if TYPE_CHECKING:
    import faiss

META_SUFFIX = ".json"


def checked_batch(
    ids: NDArray[np.integer], vectors: NDArray[np.floating], dimension: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
    keys = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    if len(keys) != len(rows):
        raise ValueError("ids and vectors differ in length")
    return keys, rows


def no_hits(queries: int) -> SearchHits:
    empty = np.full((queries, 1), -1, dtype=np.int64)
    return SearchHits(np.full(empty.shape, -np.inf, dtype=np.float32), empty)


def index_associated(path: Path) -> bytes:
    """What a sealed index file is bound to: its name (a gallery and model)."""
    return f"index:{path.name}".encode()


def save_atomically(
    index: faiss.Index, path: Path, meta: dict[str, Any], cipher: BlobCipher | None = None
) -> None:
    """Write the index and its metadata (with the state token); a crash leaves the old pair
    or none. The old token goes first: an index file without a token is rebuilt, never trusted.
    With an enabled ``cipher`` the file is written sealed (and ``meta["sealed"]`` says so)."""
    from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

    path.parent.mkdir(parents=True, exist_ok=True)
    unique = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.name}.{unique}.tmp")
    meta_tmp = path.with_name(f".{path.name}.{unique}.json.tmp")
    try:
        if cipher is not None and cipher.enabled:
            plain = faiss.serialize_index(index).tobytes()
            tmp.write_bytes(cipher.encrypt(plain, index_associated(path)))
            meta = {**meta, "sealed": True}
        else:
            faiss.write_index(index, str(tmp))
        meta_tmp.write_text(json.dumps(meta))
        with index_folder_lock(path.parent, shared=False):
            path.with_suffix(META_SUFFIX).unlink(missing_ok=True)
            os.replace(tmp, path)
            os.replace(meta_tmp, path.with_suffix(META_SUFFIX))
    finally:
        tmp.unlink(missing_ok=True)
        meta_tmp.unlink(missing_ok=True)


def read_meta(path: Path) -> dict[str, Any] | None:
    """The metadata saved beside the index at ``path``, or None if either file is missing
    or the metadata unreadable. Call under the folder's shared lock, with the index read."""
    meta_path = path.with_suffix(META_SUFFIX)
    if not path.is_file() or not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def read_index_file(
    path: Path,
    meta: dict[str, Any],
    cipher: BlobCipher | None,
    *,
    mmap: bool = False,
    bound_to: Path | None = None,
) -> faiss.Index | None:
    """The FAISS index in ``path``, or None if it cannot be trusted: unreadable, sealed without
    a key to open it (or altered), or plaintext where the directory is encrypted (a leftover
    that the next save replaces). ``mmap`` applies to plaintext files only. ``bound_to``: the
    name a sealed file was sealed for, where it is read under another (a kept base)."""
    from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

    encrypted = cipher is not None and cipher.enabled
    try:
        if meta.get("sealed"):
            if cipher is None:
                return None
            plain = cipher.decrypt(path.read_bytes(), index_associated(bound_to or path))
            return faiss.deserialize_index(np.frombuffer(plain, dtype=np.uint8))
        if encrypted:
            return None
        if mmap:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
        return faiss.read_index(str(path))
    except (OSError, ValueError, RuntimeError, RetrofaceError):
        return None
