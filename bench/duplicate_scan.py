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
from retroface.services import open_app
from retroface.services.galleries.bench_import import bench_import_templates
from retroface.services.galleries.duplicates import find_duplicates
from retroface.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=150, help="real LFW people, twice each")
    parser.add_argument("--target-fpir", type=float, default=1e-4)
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
        del synthetic
        print(f"bulk_import_s={time.perf_counter() - started:.0f}", flush=True)

        started = time.perf_counter()
        report = find_duplicates(supervisor, scale.GALLERY, target_fpir=args.target_fpir)
        scan_s = time.perf_counter() - started
        planted = {frozenset((n, f"{n} (alias)")) for n, *_ in twice}
        reported = {frozenset((p.subject_a, p.subject_b)) for p in report.pairs}
        print(
            f"duplicate_scan_s={scan_s:.1f} templates={report.templates} "
            f"bar={report.threshold:.4f} pairs={len(report.pairs)}"
        )
        print(
            f"planted_aliases={len(planted)} found={len(planted & reported)} "
            f"recall={len(planted & reported) / len(planted):.3f} "
            f"other_pairs={len(reported - planted)} "
            f"expected_by_chance={report.expected_false_pairs:g}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
