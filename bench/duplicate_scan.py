"""Duplicate and alias scan of a force-scale gallery: time and what it finds, printed.

In a fresh temporary data directory (nothing is written elsewhere), a gallery of
``--subjects`` is built with the BENCH-ONLY bulk import (bench/gallery_scale.py's set-up):
``--people`` real LFW people enrolled twice, under their name and under an alias (their
first photo and their second: real aliases), among synthetic distractors drawn from a
Gaussian mixture fitted to the real templates. Then a supervisor runs the real scan
(services/galleries/duplicates.py: every template searched against the gallery's own
index, the open-set bar at the scan's target FPIR) and the bench prints the wall time,
the pairs reported, how many of the planted aliases were found (recall), and how many
reported pairs are not planted (chance pairs against the expected N x target).

    python bench/duplicate_scan.py [--subjects 1000000] [--people 150] [--target-fpir 1e-4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gallery_scale as scale
import index as index_bench
from retroface.faces import analyse_files
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.index.self_search import SCAN_NPROBE, SelfNeighbours, self_neighbours
from retroface.services import open_app
from retroface.services.galleries.bench_import import bench_import_templates
from retroface.services.galleries.duplicates import NEIGHBOURS, find_duplicates
from retroface.settings import Settings


def neighbour_recall(vectors: np.ndarray, people: int, floor: float, nprobes: list[int]) -> None:
    """What the approximate self-search misses, whatever the bar, at each of ``nprobes``:
    the planted aliases (rows i and i + ``people``) among each other's nearest neighbours,
    and every neighbour pair scoring at least ``floor`` (the lowest bar scanned) in the
    exact search, found again by the approximate one."""
    n = len(vectors)

    def timed(exact: bool, nprobe: int = SCAN_NPROBE) -> SelfNeighbours:
        started = time.perf_counter()
        hits = self_neighbours(vectors, NEIGHBOURS, exact=exact, nprobe=nprobe)
        print(f"self_neighbours {hits.config}: {time.perf_counter() - started:.1f} s", flush=True)
        return hits

    def pairs(hits: SelfNeighbours) -> np.ndarray:
        mine = np.broadcast_to(np.arange(n)[:, None], hits.rows.shape)
        keep = (hits.rows >= 0) & (hits.rows != mine) & (hits.scores >= floor)
        low = np.minimum(mine[keep], hits.rows[keep])
        return np.unique(low * n + np.maximum(mine[keep], hits.rows[keep]))

    def planted(hits: SelfNeighbours) -> int:
        first = np.arange(people)
        return int(
            np.sum(
                (hits.rows[first] == (first + people)[:, None]).any(axis=1)
                | (hits.rows[first + people] == first[:, None]).any(axis=1)
            )
        )

    exact = timed(True)
    exact_pairs = pairs(exact)
    print(f"neighbour_recall exact: planted aliases among each other's {NEIGHBOURS} nearest: "
          f"{planted(exact)}/{people}", flush=True)  # fmt: skip
    for nprobe in nprobes:
        approx = timed(False, nprobe)
        common = len(np.intersect1d(exact_pairs, pairs(approx), assume_unique=True))
        print(
            f"neighbour_recall {approx.config}: planted aliases among each other's {NEIGHBOURS} "
            f"nearest: {planted(approx)}/{people}; neighbour pairs scoring >= {floor}: found "
            f"{common} of the exact {len(exact_pairs)} "
            f"(recall {common / max(1, len(exact_pairs)):.4f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=150, help="real LFW people, twice each")
    parser.add_argument(
        "--target-fpir",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[1e-4],
        help="one or more, comma-separated: a scan at each",
    )
    parser.add_argument(
        "--compare-exact",
        action="store_true",
        help="scan both ways (scan-only IVF and exact) and print the approximation's recall",
    )
    parser.add_argument(
        "--nprobe",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[SCAN_NPROBE],
        help="with --compare-exact: the cells read a template, one or more, comma-separated",
    )
    parser.add_argument("--data", type=Path, default=scale.DEFAULT_DATA)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="retroface-dups-"))
    home = work / "data"
    try:
        print(f"subjects={args.subjects} cores={os.cpu_count()} (a shared machine)", flush=True)
        scale.set_up(home, None, args.subjects)
        app = open_app(Settings(home=home))
        supervisor = app.acting_as(Principal(scale.SUPERVISOR, Role.SUPERVISOR))
        people = scale.lfw_people(args.data, args.people)
        files = [p for _, photos in people for p in photos[:2]]
        found = {
            r.path: scale.centre_template(r)
            for r in analyse_files(files, app.engine_spec, app.limits, app.settings.workers)
        }
        twice = [
            (name, found[a], found[b])
            for name, (a, b, _) in people
            if found.get(a) is not None and found.get(b) is not None
        ]
        real = np.vstack([np.stack([t[1] for t in twice]), np.stack([t[2] for t in twice])])
        names = [n for n, *_ in twice] + [f"{n} (alias)" for n, *_ in twice]
        index_bench.COMPONENTS = max(4, min(64, len(real) // 8))
        mixture = index_bench.fit_mixture(real, seed=0)
        synthetic = index_bench.distractors(args.subjects - len(real), mixture, seed=1)
        names += [f"synthetic-{i:08d}" for i in range(len(synthetic))]
        started = time.perf_counter()
        bench_import_templates(
            supervisor, scale.GALLERY, names, np.vstack([real, synthetic]), scale.PROVENANCE
        )
        print(f"bulk_import_s={time.perf_counter() - started:.0f}", flush=True)

        planted = {frozenset((n, f"{n} (alias)")) for n, *_ in twice}
        exact_choices: list[bool | None] = [False, True] if args.compare_exact else [None]
        reported_by: dict[bool | None, dict[float, set[frozenset[str]]]] = {}
        bars: list[float] = []
        for exact in exact_choices:
            for target in args.target_fpir:
                started = time.perf_counter()
                report = find_duplicates(supervisor, scale.GALLERY, target_fpir=target, exact=exact)
                scan_s = time.perf_counter() - started
                reported = {frozenset((p.subject_a, p.subject_b)) for p in report.pairs}
                reported_by.setdefault(exact, {})[target] = reported
                bars.append(report.threshold)
                print(
                    f"duplicate_scan_s={scan_s:.1f} scan={report.scan} target_fpir={target:g} "
                    f"templates={report.templates} bar={report.threshold:.4f} "
                    f"pairs={len(report.pairs)}",
                    flush=True,
                )
                print(
                    f"  planted_aliases={len(planted)} found={len(planted & reported)} "
                    f"recall={len(planted & reported) / len(planted):.3f} "
                    f"other_pairs={len(reported - planted)} "
                    f"expected_by_chance={report.expected_false_pairs:g}",
                    flush=True,
                )
        if args.compare_exact:
            for target in args.target_fpir:
                exact_pairs, approx_pairs = reported_by[True][target], reported_by[False][target]
                share = len(exact_pairs & approx_pairs) / max(1, len(exact_pairs))
                print(
                    f"approximate_vs_exact target_fpir={target:g}: the approximate scan reported "
                    f"{len(exact_pairs & approx_pairs)} of the exact scan's {len(exact_pairs)} "
                    f"pairs (recall {share:.4f}), {len(approx_pairs - exact_pairs)} others",
                    flush=True,
                )
            neighbour_recall(np.vstack([real, synthetic]), len(twice), min(bars), args.nprobe)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
