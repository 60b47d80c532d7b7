"""Fit the open-set decision rule (faces/open_set.py) from labelled templates.

Three measured pieces: the cohort's mean and covariance (from gallery-like
templates of many people), the survival of non-mated pair z-scores, and its
log-linear extension beyond the range the data can measure. The extension is
fitted to the last two measured decades: a straight line on a log scale is
a heavier tail than a Gaussian's, so extrapolated bars err on the strict side.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from retroface.faces.open_set import ImpostorTail, OpenSetModel, ProbeNorm

#: Fewest exceedances a measured survival point may rest on.
MIN_EXCEEDANCES = 25
#: Survival levels are measured every quarter decade.
STEP_DECADES = 0.25
#: Decades at the measured end that the extension is fitted to.
FIT_DECADES = 2.0


def fit_probe_norm(cohort: NDArray[np.floating]) -> ProbeNorm:
    """Mean and covariance of one template per person (several per person would
    under-state how different people differ)."""
    if len(cohort) < 50:
        raise ValueError(f"a cohort needs at least 50 people's templates, got {len(cohort)}")
    c = np.asarray(cohort, dtype=np.float64)
    return ProbeNorm(mean=c.mean(axis=0), covariance=np.cov(c, rowvar=False))


def non_mated_z(
    norm: ProbeNorm,
    probes: NDArray[np.floating],
    probe_ids: NDArray[np.integer],
    gallery: NDArray[np.floating],
    gallery_ids: NDArray[np.integer],
    *,
    chunk: int = 512,
) -> Iterator[NDArray[np.float64]]:
    """z-scores of every probe against every gallery template of a *different* person,
    in chunks (millions of pairs need not be held at once)."""
    g = np.asarray(gallery, dtype=np.float64)
    for start in range(0, len(probes), chunk):
        p = np.asarray(probes[start : start + chunk], dtype=np.float64)
        mu, sigma = norm.stats(p)
        z = (p @ g.T - mu[:, None]) / sigma[:, None]
        different = probe_ids[start : start + chunk, None] != gallery_ids[None, :]
        yield z[different]


def fit_tail(z_chunks: Iterator[NDArray[np.floating]], *, keep_above: float = 1.5) -> ImpostorTail:
    """Survival table of non-mated z-scores and its log-linear extension."""
    total = 0
    kept: list[NDArray[np.floating]] = []
    for z in z_chunks:
        total += len(z)
        kept.append(z[z >= keep_above])
    if total == 0:
        raise ValueError("no non-mated pairs to fit the impostor tail on")
    high = np.sort(np.concatenate(kept))[::-1]
    # Survival levels from the share kept down to MIN_EXCEEDANCES pairs.
    top_level = math.log10(max(len(high), 1) / total)
    bottom_level = math.log10(MIN_EXCEEDANCES / total)
    if len(high) < MIN_EXCEEDANCES or bottom_level >= top_level:
        raise ValueError(
            f"{total} non-mated pairs are too few to measure the impostor tail; "
            "use more people (a few hundred at least)"
        )
    levels = np.arange(top_level, bottom_level - 1e-9, -STEP_DECADES)
    zs = [float(high[max(0, round(10**lv * total) - 1)]) for lv in levels]
    z_arr, lv_arr = _monotone(np.array(zs), levels)
    fit = lv_arr <= lv_arr[-1] + FIT_DECADES
    if fit.sum() >= 2 and np.ptp(z_arr[fit]) > 0:
        slope, intercept = np.polyfit(z_arr[fit], lv_arr[fit], 1)
    else:  # too little range: a steep default that still rises monotonically
        slope, intercept = -1.0, float(lv_arr[-1] + z_arr[-1])
    slope = min(float(slope), -1e-3)
    return ImpostorTail(
        z=tuple(float(v) for v in z_arr),
        log10_survival=tuple(float(v) for v in lv_arr),
        slope=slope,
        intercept=float(intercept),
    )


def _monotone(
    z: NDArray[np.floating], levels: NDArray[np.floating]
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Drop points where z does not rise (ties in the scores): interpolation needs order."""
    keep = [0]
    for i in range(1, len(z)):
        if z[i] > z[keep[-1]]:
            keep.append(i)
    return z[keep], levels[keep]


def fit_open_set(
    model: str,
    cohort: NDArray[np.floating],
    probes: NDArray[np.floating],
    probe_ids: NDArray[np.integer],
    gallery: NDArray[np.floating],
    gallery_ids: NDArray[np.integer],
) -> OpenSetModel:
    norm = fit_probe_norm(cohort)
    tail = fit_tail(non_mated_z(norm, probes, probe_ids, gallery, gallery_ids))
    return OpenSetModel(model=model, norm=norm, tail=tail)
