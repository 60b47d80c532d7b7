"""Scaling of bulk enrolment's analysis on a Dask cluster: 1 and 2 workers, and local processes.

Enrolment stores each image in its own commit on the client; the expensive
part, detection and embedding, is what `gallery enroll --dask` sends to the
cluster (``faces.batch_runner.analyse_files`` with a scheduler address). This
bench times that part on the first N LFW images with the deployment's default
engine on a ``distributed.LocalCluster`` of one and of two single-threaded
worker processes, and on the local process pool, and prints images per second
and the scaling efficiency (rate with 2 workers / (2 x rate with 1)). On a
real cluster the same code runs; only the address changes.

    python bench/dask_scaling.py [--images 200] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from distributed import LocalCluster

from retroface.faces import EngineSpec
from retroface.faces.batch_runner import analyse_files, worker_pool
from retroface.media import MediaLimits

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(paths: list[Path], spec: EngineSpec, **where: object) -> tuple[float, int]:
    """Seconds to analyse ``paths`` and the number of faces found (a model warm-up excluded
    by analysing the first chunk once before the clock starts)."""
    list(analyse_files(paths[:16], spec, MediaLimits(), **where))  # type: ignore[arg-type]
    started = time.perf_counter()
    faces = sum(len(r.faces) for r in analyse_files(paths, spec, MediaLimits(), **where))  # type: ignore[arg-type]
    return time.perf_counter() - started, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    paths = sorted((args.data / "lfw").glob("*/*.jpg"))[: args.images]
    if not paths:
        raise SystemExit(f"no LFW images under {args.data / 'lfw'}")
    spec = EngineSpec()
    rates: dict[str, float] = {}
    for workers in (1, 2):
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            seconds, faces = timed(
                paths, spec, workers=workers, dask_address=cluster.scheduler_address
            )
        rates[f"dask{workers}"] = len(paths) / seconds
        print(f"dask {workers} worker(s): {len(paths)} images, {faces} faces in {seconds:.1f} s")
    with worker_pool(spec, MediaLimits(), 2) as pool:  # warm, as a cluster's workers are
        seconds, _ = timed(paths, spec, workers=2, pool=pool)
    rates["local2"] = len(paths) / seconds
    print(
        "images/s: "
        + " ".join(f"{name}={rate:.2f}" for name, rate in rates.items())
        + f" scaling_efficiency={rates['dask2'] / (2 * rates['dask1']):.2f}"
        + f" dask2_vs_local2={rates['dask2'] / rates['local2']:.2f}"
    )


if __name__ == "__main__":
    main()
