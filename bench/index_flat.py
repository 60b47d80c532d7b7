"""Exact 1:N search: FAISS flat inner product versus NumPy matrix product, same data, same run.

Why: the core engine issue asks for whichever measures faster here. Gallery
vectors are random unit vectors (exact search cost does not depend on the
values). Prints single-query latency (p50) and batch throughput per size.

Usage: python bench/index_flat.py [--sizes 1000,10000,100000] [--k 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import faiss
import numpy as np


def unit(rows: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def numpy_search(gallery: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ gallery.T
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-part, axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(top, order, axis=1)


def _faiss_search(index: faiss.Index, queries: np.ndarray, k: int) -> object:
    return index.search(queries, k)


def p50_ms(fn: Callable[[np.ndarray], object], queries: np.ndarray, repeats: int) -> float:
    times = []
    for i in range(repeats):
        q = queries[i % len(queries) : i % len(queries) + 1]
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="FAISS OpenMP threads")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    queries = unit(256, args.dim, 1)
    for size in (int(s) for s in args.sizes.split(",")):
        gallery = unit(size, args.dim, 0)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(args.dim))
        index.add_with_ids(gallery, np.arange(size, dtype=np.int64))
        faiss_ids = index.search(queries[:8], args.k)[1]
        numpy_ids = numpy_search(gallery, queries[:8], args.k)[1]
        assert np.array_equal(faiss_ids, numpy_ids), "the two exact searches disagree"
        repeats = 200
        f1 = p50_ms(partial(_faiss_search, index, k=args.k), queries, repeats)
        n1 = p50_ms(partial(numpy_search, gallery, k=args.k), queries, repeats)
        start = time.perf_counter()
        index.search(queries, args.k)
        fb = len(queries) / (time.perf_counter() - start)
        start = time.perf_counter()
        numpy_search(gallery, queries, args.k)
        nb = len(queries) / (time.perf_counter() - start)
        print(
            f"size={size} faiss_p50_ms={f1:.3f} numpy_p50_ms={n1:.3f} "
            f"faiss_batch_qps={fb:.0f} numpy_batch_qps={nb:.0f} "
            f"single_query_speedup={n1 / f1:.2f}x"
        )


if __name__ == "__main__":
    main()
