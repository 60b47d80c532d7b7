"""What the FAISS-backed indexes share: checking inputs, empty results, atomic saving."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from retroface.index.vector_index import SearchHits

META_SUFFIX = ".json"


def checked_batch(
    ids: np.ndarray, vectors: np.ndarray, dimension: int
) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
    ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    if len(ids) != len(vectors):
        raise ValueError("ids and vectors differ in length")
    return ids, vectors


def no_hits(queries: int) -> SearchHits:
    empty = np.full((queries, 1), -1, dtype=np.int64)
    return SearchHits(np.full(empty.shape, -np.inf, dtype=np.float32), empty)


def save_atomically(index: faiss.Index, path: Path, meta: dict[str, Any]) -> None:
    """Write the index and its metadata (with the state token); a crash leaves the old pair
    or none. The old token goes first: an index file without a token is rebuilt, never trusted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    faiss.write_index(index, str(tmp))
    meta_tmp = tmp.with_suffix(META_SUFFIX)
    meta_tmp.write_text(json.dumps(meta))
    path.with_suffix(META_SUFFIX).unlink(missing_ok=True)
    os.replace(tmp, path)
    os.replace(meta_tmp, path.with_suffix(META_SUFFIX))
