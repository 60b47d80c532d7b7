"""N:N self-search: every vector's nearest neighbours among the same vectors.

Why a separate index from the gallery's: the duplicate and alias scan searches
every template of a gallery against the gallery itself, a million queries at a
million subjects. The gallery's own index is built for one probe at a time (exact,
or IVF with fp16 codes and an ``nprobe`` tuned for a probe's top ten), and a
million exact queries cost N² dot products: 54 s at 100,000 subjects, ~100 times
that at a million. The scan needs only a few neighbours per template and only
those close enough to be the same person, and such neighbours sit in the same or a
neighbouring IVF cell. So past ``SCAN_EXACT_MAX`` vectors this builds a scan-only
IVF index with float32 codes (no quantisation error on the scores compared with the
bar), trained on the vectors themselves with about 4·√n cells, and searches
``SCAN_NPROBE`` cells per query: each query reads ~``nprobe / nlist`` of the
gallery, not all of it. Below that size the scan is exact (the reference; small
galleries cost little).

Queries run in batches on a thread pool, one per core: FAISS is set to one OpenMP
thread for the server's single queries (``faiss_lib``) and releases the GIL while it
searches, so threads over batches use every core without changing that setting for
searches running beside the scan. ``bench/duplicate_scan.py --compare-exact`` measures
what the approximation costs in recall against the exact scan.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Up to this many vectors the self-search is exact (every pair compared).
SCAN_EXACT_MAX = 50_000
#: IVF cells read per query: measured on 100,000 subjects (bench/duplicate_scan.py).
SCAN_NPROBE = 16
#: Queries per FAISS call (one task of the thread pool).
QUERY_BATCH = 8_192
#: Training points per IVF cell (FAISS warns below 39).
TRAIN_PER_CELL = 40


@dataclass(frozen=True)
class SelfNeighbours:
    """Each vector's ``k`` nearest among all (itself usually first), best first."""

    #: (n, k) inner products; rows with fewer neighbours found are padded with -inf.
    scores: NDArray[np.float32]
    #: (n, k) row numbers of the neighbours in the input; -1 where none was found.
    rows: NDArray[np.int64]
    #: How it was searched, recorded with the scan: "exact" or the IVF configuration.
    config: str


def scan_cells(n: int) -> int:
    """About 4·√n IVF cells, a power of two, with at least ``TRAIN_PER_CELL`` vectors each."""
    wanted = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    return int(max(1, min(wanted, 16_384, n // TRAIN_PER_CELL)))


def self_neighbours(
    vectors: NDArray[np.floating],
    k: int,
    *,
    exact: bool | None = None,
    nprobe: int = SCAN_NPROBE,
    workers: int | None = None,
    batch: int = QUERY_BATCH,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SelfNeighbours:
    """The ``k`` nearest neighbours (inner product) of every row of ``vectors`` among them.

    ``exact``: None decides by size (exact up to ``SCAN_EXACT_MAX``). ``workers``: threads
    searching batches of ``batch`` queries (default: the machine's cores). ``progress`` is called with the
    number of queries each finished batch held.
    """
    from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

    data = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dimension = (int(data.shape[0]), int(data.shape[1])) if data.ndim == 2 else (0, 0)
    k = max(1, min(k, n))
    if n == 0:
        return SelfNeighbours(np.zeros((0, k), np.float32), np.zeros((0, k), np.int64), "exact")
    if exact is None:
        exact = n <= SCAN_EXACT_MAX
    index: faiss.Index
    if exact:
        index = faiss.IndexFlatIP(dimension)
        index.add(data)
        config = "exact"
    else:
        nlist = scan_cells(n)
        quantizer = faiss.IndexFlatIP(dimension)
        ivf = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()  # type: ignore[attr-defined]  # the IVF index frees its quantizer
        ivf.cp.niter = 10  # enough rounds for cells; a third of FAISS's default cost
        sample = np.random.default_rng(seed).choice(
            n, size=min(n, TRAIN_PER_CELL * nlist), replace=False
        )
        ivf.train(data[np.sort(sample)])
        ivf.add(data)
        ivf.nprobe = max(1, min(nprobe, nlist))
        index = ivf
        config = f"IVF{nlist},Flat,IP,nprobe={ivf.nprobe}"

    scores = np.empty((n, k), np.float32)
    rows = np.empty((n, k), np.int64)

    def search(start: int) -> int:
        stop = min(n, start + batch)
        found_scores, found_rows = index.search(data[start:stop], k)
        scores[start:stop], rows[start:stop] = found_scores, found_rows
        return stop - start

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for done in pool.map(search, range(0, n, batch)):
            if progress is not None:
                progress(done)
    return SelfNeighbours(scores, rows, config)
