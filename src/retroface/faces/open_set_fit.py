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

from retroface.faces.matchability import MatchabilityModel, fit_matchability
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
    if len(cohort) < 30:
        raise ValueError(f"a cohort needs at least 30 people's templates, got {len(cohort)}")
    c = np.asarray(cohort, dtype=np.float64)
    return ProbeNorm(mean=c.mean(axis=0), covariance=np.cov(c, rowvar=False))


def non_mated_z(
    norm: ProbeNorm | None,
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
        z = p @ g.T
        if norm is not None:
            mu, sigma = norm.stats(p)
            z = (z - mu[:, None]) / sigma[:, None]
        different = probe_ids[start : start + chunk, None] != gallery_ids[None, :]
        yield z[different]


def fit_tail(z_chunks: Iterator[NDArray[np.floating]], *, keep_share: float = 0.05) -> ImpostorTail:
    """Survival table of non-mated z-scores and its log-linear extension. Only scores at
    or above the first chunk's top ``keep_share`` are kept (memory): the bar of any
    search lies far out in the tail."""
    total = 0
    kept: list[NDArray[np.floating]] = []
    keep_above: float | None = None
    for z in z_chunks:
        if keep_above is None and len(z):
            keep_above = float(np.quantile(z, 1 - keep_share))
        total += len(z)
        if keep_above is not None:
            kept.append(z[z >= keep_above])
    if total == 0 or not kept:
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
    *,
    normalise: bool = False,
) -> OpenSetModel:
    """``normalise``: T-norm the scores against ``cohort`` (see faces/open_set.py)."""
    norm = fit_probe_norm(cohort) if normalise else None
    tail = fit_tail(non_mated_z(norm, probes, probe_ids, gallery, gallery_ids))
    return OpenSetModel(model=model, norm=norm, tail=tail)


#: What a "successful mated search" means for the matchability model: rank 1 at the bar
#: of a gallery of this many templates at this FPIR.
REFERENCE_GALLERY = 1000
REFERENCE_FPIR = 0.01


def fit_decision_rule(
    model: str,
    gallery: NDArray[np.floating],
    gallery_ids: NDArray[np.integer],
    probes: NDArray[np.floating],
    probe_ids: NDArray[np.integer],
    probe_parts: list[dict[str, float]],
    *,
    normalise: bool = False,
) -> tuple[OpenSetModel, MatchabilityModel]:
    """The open-set rule and the matchability model from one labelled set.

    ``gallery`` holds one reference per person (the cohort too); ``probes`` are
    other images of people, clean and degraded, ``probe_ids`` saying whose (an id
    not in ``gallery_ids``: someone not enrolled). Every probe is a non-mated probe
    against everyone else's reference; a probe whose person is enrolled is also a
    mated search for the matchability model.
    """
    open_set = fit_open_set(
        model, gallery, probes, probe_ids, gallery, gallery_ids, normalise=normalise
    )
    enrolled = np.isin(probe_ids, gallery_ids)
    rows = np.flatnonzero(enrolled)
    if len(rows) < 20:
        raise ValueError("fitting matchability needs at least 20 mated probes")
    sims = np.asarray(probes[rows], dtype=np.float64) @ np.asarray(gallery, dtype=np.float64).T
    mu, sigma = open_set.stats(probes[rows])
    top = sims.argmax(axis=1)
    # The reference gallery is no larger than the data's own: a small calibration set says
    # nothing about a bar far beyond what it measured (the record states which it used).
    reference_size = min(REFERENCE_GALLERY, len(gallery))
    z_ref = open_set.z_bar(REFERENCE_FPIR, reference_size)
    success = (gallery_ids[top] == probe_ids[rows]) & (
        (sims[np.arange(len(rows)), top] - mu) / sigma >= z_ref
    )
    matchability = fit_matchability(
        [probe_parts[i] for i in rows],
        success.tolist(),
        reference=f"rank 1 at the bar of a {reference_size}-template gallery at FPIR "
        f"{REFERENCE_FPIR:g}",
    )
    return open_set, matchability
