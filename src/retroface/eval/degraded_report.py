"""The degraded-probe protocol's figures as a folder: a CSV of every rate, plots, one page.

Aggregates only (rates per gallery size, condition and quality band), never a
template or an image, so the folder may go to an oversight body.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from retroface.eval.plots import _new_figure, _prepare, _save_png, _write_csv
from retroface.eval.summary_page import SummaryTable, write_summary_page


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def write_degraded_report(
    out_dir: Path, report: dict[str, Any], created_at: datetime
) -> list[Path]:
    """``rates.csv``, ``fnir_by_condition.png``, ``fpir_by_condition.png``, ``edc.png``
    (+ ``edc.csv``) and ``index.html``."""
    folder = _prepare(out_dir)
    rows = report["rows"]
    columns = ["gallery_size", "group", "mated", "non_mated", "fnir", "fpir", "not_searched",
               "fnir_at_fixed_fpir"]  # fmt: skip
    files = [
        _write_csv(
            folder / "rates.csv",
            columns,
            [
                np.array([("" if r[c] is None else r[c]) for r in rows], dtype=object)
                for c in columns
            ],
        )
    ]
    sizes = sorted({r["gallery_size"] for r in rows})
    conditions = [r["group"] for r in rows if r["gallery_size"] == sizes[0]]
    conditions = [c for c in conditions if c != "all" and not c.startswith("quality")]
    for metric, name in (("fnir", "fnir_by_condition.png"), ("fpir", "fpir_by_condition.png")):
        figure, axes = _new_figure()
        width = 0.8 / max(1, len(sizes))
        for k, size in enumerate(sizes):
            values = {r["group"]: r[metric] for r in rows if r["gallery_size"] == size}
            heights = [values.get(c) or 0.0 for c in conditions]
            axes.bar(np.arange(len(conditions)) + k * width, heights, width, label=f"N={size}")
        if metric == "fpir":
            axes.axhline(report["target_fpir"], color="black", linestyle="--", label="target")
        axes.set_xticks(np.arange(len(conditions)) + width * (len(sizes) - 1) / 2)
        axes.set_xticklabels(conditions, rotation=45, ha="right", fontsize=8)
        axes.set_ylabel(metric.upper() + " under the deployment's decision rule")
        axes.legend(fontsize=8)
        files.append(_save_png(figure, folder / name))
    edc = report["error_versus_discard"]
    if edc:
        shares = np.array([e[0] for e in edc])
        fnirs = np.array([e[1] for e in edc])
        files.append(_write_csv(folder / "edc.csv", ["discarded_share", "fnir"], [shares, fnirs]))
        figure, axes = _new_figure()
        axes.plot(shares, fnirs, marker="o")
        axes.set_xlabel("share of mated probes discarded, lowest quality first")
        axes.set_ylabel("FNIR of the rest (floor threshold)")
        axes.grid(True, alpha=0.3)
        files.append(_save_png(figure, folder / "edc.png"))
    facts = [
        ("dataset", report["dataset"]),
        ("dataset SHA-256", report["dataset_sha256"]),
        ("model", report["model"]),
        ("written", created_at.isoformat()),
        ("decision rule", report["decision_rule"]),
        ("target FPIR", f"{report['target_fpir']:g}"),
        ("probe quality floor", f"{report['probe_quality_floor']:g}"),
        ("identities enrolled / held out",
         f"{report['identities_enrolled']} / {report['identities_held_out']}"),
        ("footage sightings (non-mated)", str(report["footage_sightings"])),
        ("probes without a detectable face", str(report["probes_without_face"])),
    ]  # fmt: skip
    tables = [
        SummaryTable(
            f"Gallery of {size} subjects: rates under the decision rule",
            ["group", "mated", "non-mated", "FNIR", "FPIR", "not searched", "FNIR at FPIR 1%"],
            [
                [r["group"], str(r["mated"]), str(r["non_mated"]), _fmt(r["fnir"]),
                 _fmt(r["fpir"]), f"{r['not_searched']:.3f}", _fmt(r["fnir_at_fixed_fpir"])]
                for r in rows
                if r["gallery_size"] == size
            ],
        )
        for size in sizes
    ]  # fmt: skip
    images = [p.name for p in files if p.suffix == ".png"]
    page = write_summary_page(folder, "Degraded-probe protocol", facts, tables, images)
    return [*files, page]
