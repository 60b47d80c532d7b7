"""Approximate inner-product search for large galleries: FAISS IVF with fp16 codes.

Why IVF + SQfp16: a custody gallery of ten million templates is 5 GB as
float32; fp16 codes halve that (2.6 GB) while keeping scores within ~1e-3 of
exact, so the top ten agree with exact search; the inverted file (``nlist``
clusters, ``nprobe`` of them scanned per query) cuts the work per query by
``nlist / nprobe``. Adds and deletes are incremental (no retraining); a
delete removes the codes at once, which retention and erasure depend on. An
ID hash table makes deletes cheap. Files are read memory-mapped, so a server
starts without copying the whole gallery into RAM first (not where the data
directory is encrypted: a sealed file is decrypted into memory, see faiss_io).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from retroface.index.faiss_io import checked_batch, no_hits, save_atomically
from retroface.index.vector_index import BlobCipher, SearchHits

if TYPE_CHECKING:
    import faiss


class IvfIndex:
    """IVF(nlist) with fp16 scalar-quantised codes, searching ``nprobe`` lists per query."""

    def __init__(self, dimension: int, nlist: int, nprobe: int) -> None:
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        self.dimension = dimension
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        index.own_fields = True
        quantizer.this.disown()  # type: ignore[attr-defined]  # the IVF index owns and frees its quantizer
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.cp.niter = 10  # k-means rounds: enough for IVF, a third of FAISS's default cost
        index.nprobe = nprobe
        self._index = index

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._index.nprobe = max(1, min(int(value), self.nlist))

    @property
    def config(self) -> str:
        return f"IVF{self.nlist},SQfp16,IP,nprobe={self.nprobe}"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def train(self, vectors: NDArray[np.floating]) -> None:
        self._index.train(np.ascontiguousarray(vectors, dtype=np.float32))

    def ids(self) -> NDArray[np.int64]:
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        invlists = self._index.invlists
        assert invlists is not None  # an IVF index always has its inverted lists
        found = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(self.nlist)
            if invlists.list_size(i)
        ]
        return np.concatenate(found).astype(np.int64) if found else np.zeros(0, np.int64)

    def add(self, ids: NDArray[np.integer], vectors: NDArray[np.floating]) -> None:
        ids, vectors = checked_batch(ids, vectors, self.dimension)
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: NDArray[np.integer]) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return 0
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        return int(self._index.remove_ids(faiss.IDSelectorArray(ids)))

    def search(
        self, queries: NDArray[np.floating], k: int, excluding: faiss.IDSelector | None = None
    ) -> SearchHits:
        """Top ``k`` per query; ``excluding`` (a FAISS selector of ids to skip): tombstones."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0:
            return no_hits(len(queries))
        k = max(1, min(k, len(self)))
        if excluding is None:
            scores, ids = self._index.search(queries, k)
        else:
            from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

            params = faiss.SearchParametersIVF()
            params.sel, params.nprobe = excluding, self.nprobe
            scores, ids = self._index.search(queries, k, params=params)
        return SearchHits(scores.astype(np.float32), ids.astype(np.int64))

    def copy(self) -> IvfIndex:
        """An independent, changeable copy in memory (also of a memory-mapped index)."""
        from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

        twin = IvfIndex.__new__(IvfIndex)
        twin.dimension = self.dimension
        # FAISS's wrappers return the concrete class (its stubs say only Index)
        try:
            clone = faiss.clone_index(self._index)
        except RuntimeError:  # memory-mapped lists cannot be cloned: copy through a buffer
            clone = faiss.deserialize_index(faiss.serialize_index(self._index))
        twin._index = cast("faiss.IndexIVFScalarQuantizer", clone)
        return twin

    def save(self, path: Path, state: str, cipher: BlobCipher | None = None) -> None:
        """Write the index and its state token (sealed with an enabled ``cipher``); a crash
        leaves the old pair or none."""
        meta = {"state": state, "config": "IVF,SQfp16,IP", "n": len(self), "nprobe": self.nprobe}
        save_atomically(self._index, path, meta, cipher)

    @classmethod
    def from_faiss(cls, raw: faiss.Index, dimension: int, nprobe: int) -> IvfIndex:
        index = cls.__new__(cls)
        index.dimension = dimension
        # read_index already returns the concrete class; re-wrapping it (downcast_index)
        # would leave the owning wrapper to be collected and free the index under us.
        index._index = cast("faiss.IndexIVFScalarQuantizer", raw)
        index._index.nprobe = nprobe
        return index
