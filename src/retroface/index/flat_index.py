"""Exact inner-product search with FAISS, persisted atomically with a state token.

Why FAISS flat rather than NumPy: bench/index_flat.py measures both in one
run on this 2-core machine. One query against 100,000 templates: FAISS 4.3 ms,
NumPy 8.0 ms; against 1,000: FAISS 0.04 ms, NumPy 0.11 ms; at 10,000 they are
equal (0.26 vs 0.20 ms). That holds with FAISS on one OpenMP thread: with two,
its per-query threading overhead makes a single query 8x slower (32 ms), so
we use one. Parallelism comes from worker processes, one query per face. The
same library carries the approximate indexes that large galleries need later.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from retroface.index.faiss_io import (
    checked_batch,
    no_hits,
    read_index_file,
    read_meta,
    save_atomically,
)
from retroface.index.file_lock import index_folder_lock
from retroface.index.vector_index import BlobCipher, SearchHits

if TYPE_CHECKING:
    import faiss


class FlatIndex:
    """Exact search over L2-normalised vectors keyed by int64 ids."""

    config = "IDMap2,Flat,IP"

    def __init__(self, dimension: int) -> None:
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        self.dimension = dimension
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> NDArray[np.int64]:
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vectors(self) -> NDArray[np.float32]:
        """Every stored vector, in the order of :meth:`ids` (a copy)."""
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        flat = faiss.downcast_index(self._index.index)
        codes = faiss.vector_to_array(flat.codes)  # type: ignore[attr-defined]
        return codes.view(np.float32).reshape(-1, self.dimension).copy()

    def add(self, ids: NDArray[np.integer], vectors: NDArray[np.floating]) -> None:
        ids, vectors = checked_batch(ids, vectors, self.dimension)
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: NDArray[np.integer]) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return 0
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def copy(self) -> FlatIndex:
        """An independent copy (to change while others still search the original)."""
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        twin = FlatIndex(self.dimension)
        # FAISS's wrappers return the concrete class (its stubs say only Index)
        twin._index = cast("faiss.IndexIDMap2", faiss.clone_index(self._index))
        return twin

    def search(
        self, queries: NDArray[np.floating], k: int, excluding: faiss.IDSelector | None = None
    ) -> SearchHits:
        """Top ``k`` per query; ``excluding`` (a FAISS selector of ids to skip): tombstones."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, len(self))) if len(self) else 1
        if len(self) == 0:
            return no_hits(len(queries))
        if excluding is None:
            scores, ids = self._index.search(queries, k)
        else:
            from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

            params = faiss.SearchParameters()
            params.sel = excluding
            scores, ids = self._index.search(queries, k, params=params)
        return SearchHits(scores.astype(np.float32), ids.astype(np.int64))

    def save(self, path: Path, state: str, cipher: BlobCipher | None = None) -> None:
        """Write the index and its state token (sealed with an enabled ``cipher``); a crash
        leaves the old pair or none."""
        meta = {"state": state, "config": self.config, "n": len(self)}
        save_atomically(self._index, path, meta, cipher)

    @classmethod
    def load(
        cls, path: Path, dimension: int, cipher: BlobCipher | None = None
    ) -> tuple[FlatIndex, str] | None:
        """The index and its state token, or None if absent, unreadable or mismatched."""
        with index_folder_lock(path.parent, shared=True):
            meta = read_meta(path)
            raw = None if meta is None else read_index_file(path, meta, cipher)
        return None if meta is None or raw is None else cls.from_faiss(raw, meta, dimension)

    @classmethod
    def from_faiss(
        cls, raw: faiss.Index, meta: dict[str, Any], dimension: int
    ) -> tuple[FlatIndex, str] | None:
        """A read FAISS index and its metadata as a FlatIndex and its state token, or None
        if they do not describe one exact index of ``dimension`` with ``meta["n"]`` rows."""
        if raw.d != dimension or meta.get("config") != cls.config or raw.ntotal != meta.get("n"):
            return None
        index = cls(dimension)
        # read_index returns the concrete IndexIDMap2, owning its memory
        index._index = cast("faiss.IndexIDMap2", raw)
        return index, str(meta.get("state", ""))
