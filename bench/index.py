"""Large-gallery search: 1M and 10M templates, exact vs the IVF index retroface builds.

Queries and their mates are real: LFW images of people with two or more
photos are embedded with retroface's engine (in memory only; nothing is
written), one photo of each person is enrolled as the mate and another is
the query. The distractors are synthetic, drawn to match the real
templates' distribution: a Gaussian mixture with diagonal covariances is
fitted to the LFW templates (64 components, by k-means then per-component
mean and standard deviation), sampled, and L2-normalised like real
templates. The gallery index is built with ``retroface.index.build_index``
(as a gallery rebuild does), saved, and then served from a fresh process
that memory-maps it, so the RAM figure is what a server needs.

Printed per size: build time, index file size, serving RSS, p50/p99
single-query latency (one thread), batch throughput, recall@10 against
exact search (200 queries), and how often the true mate is rank 1.

Usage: python bench/index.py [--sizes 1000000,10000000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from retroface.faces import EngineSpec, analyse_files
from retroface.index import build_index, load_index
from retroface.media import MediaLimits

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DIM = 128
COMPONENTS = 64


def real_pairs(data: Path, people: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """(mates, queries): two templates of each of ``people`` LFW identities."""
    folders = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())
    chosen = [sorted(f.glob("*.jpg"))[:2] for f in folders if len(list(f.glob("*.jpg"))) >= 2]
    files = [p for pair in chosen[:people] for p in pair]
    spec = EngineSpec(jitters=1, alignments=(5,), min_face_px=80)
    found: dict[Path, np.ndarray] = {}
    for result in analyse_files(files, spec, MediaLimits(), workers):
        if result.faces:
            centre = min(
                result.faces,
                key=lambda f: (
                    abs(f.detection.box.x + f.detection.box.w / 2 - 125)
                    + abs(f.detection.box.y + f.detection.box.h / 2 - 125)
                ),
            )
            found[result.path] = centre.embedding
    pairs = [(found[a], found[b]) for a, b in chosen[:people] if a in found and b in found]
    return np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])


def fit_mixture(templates: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kmeans = faiss.Kmeans(DIM, COMPONENTS, niter=20, seed=seed, spherical=True)
    kmeans.train(templates.astype(np.float32))
    _, labels = kmeans.index.search(templates.astype(np.float32), 1)
    weights, means, stds = [], [], []
    for c in range(COMPONENTS):
        members = templates[labels[:, 0] == c]
        if len(members) < 2:
            continue
        weights.append(len(members))
        means.append(members.mean(axis=0))
        stds.append(members.std(axis=0) + 1e-3)
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum(), np.stack(means), np.stack(stds)


def distractors(
    n: int, mixture: tuple[np.ndarray, np.ndarray, np.ndarray], seed: int
) -> np.ndarray:
    weights, means, stds = mixture
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 1_000_000):
        size = min(1_000_000, n - start)
        comp = rng.choice(len(weights), size=size, p=weights)
        block = means[comp] + stds[comp] * rng.standard_normal((size, DIM))
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def serve(path: Path, queries_path: Path) -> dict[str, float]:
    """In a fresh process: memory-map the saved index, time queries, report RSS."""
    code = f"""
import json, time, numpy as np, faiss
faiss.omp_set_num_threads(1)
from pathlib import Path
from retroface.index import load_index
index, _ = load_index(Path({str(path)!r}), {DIM})
q = np.load({str(queries_path)!r})
index.search(q[:5], 10)
lat = []
for row in q:
    t = time.perf_counter(); index.search(row[None], 10); lat.append(time.perf_counter() - t)
# VmHWM: this process's peak since exec (ru_maxrss would carry the parent's from fork)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
faiss.omp_set_num_threads(2)
t = time.perf_counter(); index.search(q, 10); batch = time.perf_counter() - t
print(json.dumps({{"p50_ms": 1000 * float(np.percentile(lat, 50)), "p99_ms": 1000 * float(np.percentile(lat, 99)),
                  "batch_qps": len(q) / batch, "rss_mb": rss}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    started = time.perf_counter()
    mates, queries = real_pairs(args.data, args.people, args.workers)
    print(
        f"real LFW pairs: {len(mates)} ({time.perf_counter() - started:.0f} s to embed)", flush=True
    )
    mixture = fit_mixture(np.vstack([mates, queries]), seed=0)

    for size in (int(s) for s in args.sizes.split(",")):
        gallery = distractors(size - len(mates), mixture, seed=size)
        vectors = np.vstack([mates, gallery]).astype(np.float32)
        del gallery
        ids = np.arange(len(vectors), dtype=np.int64)  # mates are ids 0..len(mates)-1
        started = time.perf_counter()
        index = build_index(ids, vectors, DIM)
        build_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            path, qpath = Path(tmp) / "gallery.faiss", Path(tmp) / "queries.npy"
            index.save(path, "bench")
            np.save(qpath, queries[:200])
            served = serve(path, qpath)
            file_mb = path.stat().st_size / 2**20
            loaded, _ = load_index(path, DIM)  # type: ignore[misc]
            found = loaded.search(queries[:200], 10).ids
        _, truth = faiss.knn(queries[:200], vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        recall = float(
            np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        )
        mate_rank1 = float(np.mean(found[:, 0] == np.arange(len(found))))
        del vectors
        print(
            f"size={size} index={index.config} build_s={build_s:.0f} file_mb={file_mb:.0f} "
            f"serving_rss_mb={served['rss_mb']:.0f} p50_ms={served['p50_ms']:.2f} "
            f"p99_ms={served['p99_ms']:.2f} batch_qps={served['batch_qps']:.0f} "
            f"recall_at_10={recall:.3f} mate_rank1={mate_rank1:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
