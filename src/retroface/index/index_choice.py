"""Which index a gallery gets: exact up to a size, IVF beyond, with parameters chosen by size.

Exact search is the reference and costs ~4 ms per query at 100,000
templates on one core (bench/index_flat.py); past ``exact_max`` an IVF index
takes over. ``nlist`` grows with the square root of the gallery (about √n
clusters: FAISS suggests 4-16·√n for the fastest queries, but on two cores
assigning ten million vectors to 16k centroids takes longer than the whole
rest of a build, and √n lists already meet the latency goals, see
bench/index.py), trained on a sample of 40 vectors per cluster with 10
k-means rounds; ``nprobe`` is then tuned on the gallery itself: the smallest
number of lists whose top ten agree with exact search on at least
``target_recall`` of sampled queries. The chosen configuration is recorded
with every search (``config``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.index.faiss_io import read_index_file, read_meta
from retroface.index.file_lock import index_folder_lock
from retroface.index.flat_index import FlatIndex
from retroface.index.ivf_index import IvfIndex
from retroface.index.vector_index import BlobCipher

EXACT_MAX = 200_000
TARGET_RECALL = 0.99
TUNING_QUERIES = 200
#: Per-dimension noise that moves a unit 128-d template to cosine ~0.92 of itself.
PROBE_SHIFT = 0.035

#: One FAISS-backed index (a base segment, or a whole index before segments).
SingleIndex = FlatIndex | IvfIndex


def ivf_lists(n: int) -> int:
    """About √n clusters, a power of two between 64 and 65,536."""
    wanted = math.sqrt(max(n, 1))
    return int(min(65_536, max(64, 2 ** round(math.log2(wanted)))))


def build_index(
    ids: NDArray[np.integer],
    vectors: NDArray[np.floating],
    dimension: int,
    *,
    exact_max: int = EXACT_MAX,
    target_recall: float = TARGET_RECALL,
    seed: int = 0,
) -> SingleIndex:
    """An index holding ``vectors`` under ``ids``: exact when small, tuned IVF when large."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
    if len(vectors) <= exact_max:
        flat = FlatIndex(dimension)
        flat.add(ids, vectors)
        return flat
    rng = np.random.default_rng(seed)
    nlist = min(ivf_lists(len(vectors)), max(1, len(vectors) // 40))  # >= 40 points a list
    index = IvfIndex(dimension, nlist, nprobe=max(1, nlist // 64))
    sample = rng.choice(len(vectors), size=min(len(vectors), 40 * nlist), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(ids, vectors)
    tune_nprobe(index, ids, vectors, target_recall, rng)
    return index


def tune_nprobe(
    index: IvfIndex,
    ids: NDArray[np.integer],
    vectors: NDArray[np.floating],
    target_recall: float,
    rng: np.random.Generator,
    k: int = 10,
) -> float:
    """Smallest power-of-two ``nprobe`` reaching ``target_recall`` at ``k``; returns the recall.

    The tuning queries are gallery templates moved as far as another photo of
    the same person would move them (cosine ~0.92 to the original), since
    real probes are never in the gallery themselves and an exact copy is
    always found.
    """
    from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

    picks = rng.choice(len(vectors), size=min(TUNING_QUERIES, len(vectors)), replace=False)
    queries = vectors[picks] + rng.normal(0.0, PROBE_SHIFT, (len(picks), index.dimension))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    _, truth_rows = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    truth = np.asarray(ids, dtype=np.int64)[truth_rows]
    nprobe, recall = 1, 0.0
    while True:
        index.nprobe = nprobe
        found = index.search(queries, k).ids
        recall = float(
            np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)])
        )
        if recall >= target_recall or nprobe >= index.nlist:
            return recall
        nprobe *= 2


def load_index(
    path: Path, dimension: int, cipher: BlobCipher | None = None
) -> tuple[SingleIndex, str] | None:
    """Whatever index was saved at ``path`` (exact or IVF), with its state token, or None.
    Plaintext IVF files are memory-mapped; sealed ones (``cipher``) are read into memory."""
    with index_folder_lock(path.parent, shared=True):
        meta = read_meta(path)
        ivf = meta is not None and str(meta.get("config", "")).startswith("IVF")
        raw = None if meta is None else read_index_file(path, meta, cipher, mmap=ivf)
    if meta is None or raw is None:
        return None
    if not ivf:
        return FlatIndex.from_faiss(raw, meta, dimension)
    if raw.d != dimension or raw.ntotal != meta.get("n"):
        return None
    return IvfIndex.from_faiss(raw, dimension, int(meta.get("nprobe", 1))), str(meta["state"])
