"""Accuracy plots as PNG files, each next to a CSV with the exact numbers behind it.

Readers of an evaluation want the picture; anyone checking or re-plotting it
wants the numbers, so every plot has its CSV. Figures are built with
``matplotlib.figure.Figure`` on an Agg canvas, never ``pyplot``, because pyplot
keeps global state and the server may draw from several threads at once.
PNGs carry no software/version metadata, so the same numbers give the same
bytes, and files are replaced atomically, so a reader never sees half a file.
Zero rates cannot sit on a log axis: the plots clip them to a floor below the
smallest non-zero rate; the CSVs keep the true zeros.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from retroface.eval.curves import ErrorTradeoff, RocCurve, ScoreHistogram
from retroface.media.csv_sheets import SafeCsvWriter

FIGURE_SIZE_INCHES = (6.4, 4.8)
FIGURE_DPI = 100
# The log-axis floor when no rate is positive (otherwise half the smallest positive rate).
DEFAULT_LOG_FLOOR = 1e-6
# Which CSV holds the numbers of each PNG these writers produce (others: same stem).
_DATA_FILE_OF_PLOT = {"det.png": "roc.csv"}


def data_file_for(png_name: str) -> str:
    """The CSV next to ``png_name`` that holds its numbers (the DET plot shares ``roc.csv``)."""
    return _DATA_FILE_OF_PLOT.get(png_name, str(Path(png_name).with_suffix(".csv")))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_csv(path: Path, header: Sequence[str], columns: Sequence[NDArray[np.generic]]) -> Path:
    """One column per array; floats as their shortest exact text, integer arrays as integers."""
    text = io.StringIO()
    writer = SafeCsvWriter(text, lineterminator="\n")
    writer.writerow(header)
    # tolist() gives Python ints and floats, which csv writes as str(): exact and fast.
    writer.writerows(zip(*(np.asarray(c).tolist() for c in columns), strict=True))
    write_atomically(path, text.getvalue().encode("utf-8"))
    return path


def _corners(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The points of a polyline that are not in the middle of a horizontal or vertical run.

    Dropping them changes nothing drawn (on linear or log axes alike) but turns a
    million-point ROC into a few thousand points, which matters for drawing time.
    """
    if len(x) < 3:
        return x, y
    middle = ((x[:-2] == x[1:-1]) & (x[1:-1] == x[2:])) | ((y[:-2] == y[1:-1]) & (y[1:-1] == y[2:]))
    keep = np.concatenate([[True], ~middle, [True]])
    return x[keep], y[keep]


def _new_figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGURE_SIZE_INCHES, dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save_png(figure: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    write_atomically(path, buffer.getvalue())
    return path


def _log_floor(rates: NDArray[np.float64]) -> float:
    """A floor for a log axis: half the smallest positive rate (the axis spans a decade or more)."""
    positive = rates[rates > 0]
    return min(float(positive.min()) / 2, 0.1) if len(positive) else DEFAULT_LOG_FLOOR


def _plot_rates(axes: Axes, x: NDArray[np.float64], y: NDArray[np.float64], log_y: bool) -> None:
    """Draw y against x with a log x axis (and log y if asked), zeros clipped to each floor."""
    x_floor = _log_floor(x)
    x = np.clip(x, x_floor, None)
    axes.set_xscale("log")
    axes.set_xlim(x_floor, 1.0)
    if log_y:
        y_floor = _log_floor(y)
        y = np.clip(y, y_floor, None)
        axes.set_yscale("log")
        axes.set_ylim(y_floor, 1.0)
    else:
        axes.set_ylim(0.0, 1.02)
    axes.plot(*_corners(x, y))
    axes.grid(True, which="both", alpha=0.3)


def _prepare(out_dir: Path | str) -> Path:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_roc_det(out_dir: Path | str, roc: RocCurve) -> list[Path]:
    """``roc.png`` (TAR vs FAR, log FAR), ``det.png`` (FNMR vs FMR, log-log), ``roc.csv``."""
    folder = _prepare(out_dir)
    far, tar, fnmr = np.asarray(roc.far), np.asarray(roc.tar), np.asarray(roc.fnmr)

    figure, axes = _new_figure()
    _plot_rates(axes, far, tar, log_y=False)
    axes.set_xlabel("FAR (share of impostor pairs accepted)")
    axes.set_ylabel("TAR (share of genuine pairs accepted)")
    axes.set_title("ROC: 1:1 verification")
    roc_png = _save_png(figure, folder / "roc.png")

    figure, axes = _new_figure()
    _plot_rates(axes, far, fnmr, log_y=True)
    axes.set_xlabel("FMR (false match rate)")
    axes.set_ylabel("FNMR (false non-match rate)")
    axes.set_title("DET: 1:1 verification")
    det_png = _save_png(figure, folder / "det.png")

    roc_csv = _write_csv(folder / "roc.csv", ("threshold", "far", "tar"), (roc.threshold, far, tar))
    return [roc_png, det_png, roc_csv]


def write_identification_tradeoff(out_dir: Path | str, curve: ErrorTradeoff) -> list[Path]:
    """``fnir_fpir.png`` (FNIR vs FPIR, log-log, DET style) and ``fnir_fpir.csv``."""
    folder = _prepare(out_dir)
    fpir, fnir = np.asarray(curve.fpir), np.asarray(curve.fnir)
    figure, axes = _new_figure()
    _plot_rates(axes, fpir, fnir, log_y=True)
    axes.set_xlabel("FPIR (non-mated searches returning a candidate)")
    axes.set_ylabel("FNIR (mated searches missing the true subject)")
    axes.set_title("FNIR vs FPIR: 1:N identification")
    png = _save_png(figure, folder / "fnir_fpir.png")
    table = _write_csv(
        folder / "fnir_fpir.csv", ("threshold", "fpir", "fnir"), (curve.threshold, fpir, fnir)
    )
    return [png, table]


def write_cmc(out_dir: Path | str, cmc: NDArray[np.floating]) -> list[Path]:
    """``cmc.png`` and ``cmc.csv``; ``cmc[i]`` is the identification rate at rank ``i + 1``."""
    folder = _prepare(out_dir)
    rates = np.asarray(cmc, dtype=float).ravel()
    ranks = np.arange(1, len(rates) + 1)
    figure, axes = _new_figure()
    axes.plot(ranks, rates, marker="o", markersize=3)
    axes.set_xlim(0.5, max(len(rates), 1) + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0.0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.set_xlabel("rank")
    axes.set_ylabel("identification rate (true subject at this rank or better)")
    axes.set_title("CMC: 1:N identification")
    png = _save_png(figure, folder / "cmc.png")
    table = _write_csv(folder / "cmc.csv", ("rank", "identification_rate"), (ranks, rates))
    return [png, table]


def write_score_distributions(
    out_dir: Path | str, histogram: ScoreHistogram, threshold: float | None
) -> list[Path]:
    """``scores.png`` (each group's share per bin, a line at ``threshold``) and ``scores.csv``.

    The plot shows shares so that a few thousand mated pairs stay visible next to
    millions of non-mated ones; the CSV has the raw counts.
    """
    folder = _prepare(out_dir)
    edges = np.asarray(histogram.edges, dtype=float)
    mated = np.asarray(histogram.mated)
    non_mated = np.asarray(histogram.non_mated)
    figure, axes = _new_figure()
    for counts, label in ((mated, "mated"), (non_mated, "non-mated")):
        total = counts.sum()
        share = counts / total if total else np.zeros(len(counts))
        axes.stairs(share, edges, fill=True, alpha=0.45, label=f"{label} (n={int(total)})")
    if threshold is not None and np.isfinite(threshold):
        axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    axes.grid(True, alpha=0.3)
    axes.set_xlabel("similarity score")
    axes.set_ylabel("share of the group's scores in the bin")
    axes.set_title("Score distributions")
    axes.legend()
    png = _save_png(figure, folder / "scores.png")
    table = _write_csv(
        folder / "scores.csv",
        ("bin_low", "bin_high", "mated", "non_mated"),
        (edges[:-1], edges[1:], mated, non_mated),
    )
    return [png, table]
