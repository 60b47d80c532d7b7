"""1:N identification metrics as NIST FRTE reports them, with bootstrap confidence intervals.

Input is a score matrix: one row per probe search, one column per gallery
subject (a subject's score is its best template's). A *mated* probe's true
subject is in the gallery; a *non-mated* probe's is not (a distractor).

* CMC(r): share of mated searches whose true subject is ranked r or better.
* FPIR(t): share of non-mated searches returning anyone at or above t.
* FNIR(t): share of mated searches whose true subject is not the rank-1
  candidate at or above t.
* FNIR at FPIR x: FNIR at the lowest threshold whose FPIR is at most x.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FPIR_POINTS = (0.003, 0.01, 0.1)


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


@dataclass
class IdentificationMetrics:
    mated: int
    non_mated: int
    cmc: dict[int, Interval]
    fnir_at_fpir: dict[float, Interval]
    thresholds_at_fpir: dict[float, float]
    extra: dict[str, float] = field(default_factory=dict)


def true_ranks(scores: NDArray[np.floating], truth: NDArray[np.integer]) -> NDArray[np.integer]:
    """1-based rank of each mated probe's true subject (ties count against it)."""
    true_scores = scores[np.arange(len(truth)), truth]
    ranks: NDArray[np.integer] = (
        1
        + (scores > true_scores[:, None]).sum(axis=1)
        + ((scores == true_scores[:, None]).sum(axis=1) - 1)
    )
    return ranks


def cmc_curve(ranks: NDArray[np.integer], max_rank: int = 20) -> NDArray[np.float64]:
    return np.array(
        [float(np.mean(ranks <= r)) if len(ranks) else 0.0 for r in range(1, max_rank + 1)]
    )


def threshold_at_fpir(non_mated_top: NDArray[np.floating], fpir: float) -> float:
    """Lowest threshold whose FPIR is at most ``fpir`` (scores strictly above every
    non-mated top score but the allowed share)."""
    if len(non_mated_top) == 0:
        return float("-inf")
    ordered = np.sort(non_mated_top)[::-1]
    allowed = int(np.floor(fpir * len(ordered)))
    if allowed >= len(ordered):
        return float(ordered[-1])
    return float(np.nextafter(ordered[allowed], np.inf))


def fnir_at(
    mated_scores: NDArray[np.floating], mated_truth: NDArray[np.integer], threshold: float
) -> float:
    if len(mated_truth) == 0:
        return 0.0
    top = mated_scores.argmax(axis=1)
    hit = (top == mated_truth) & (mated_scores.max(axis=1) >= threshold)
    return float(1.0 - np.mean(hit))


def fpir_at(non_mated_top: NDArray[np.floating], threshold: float) -> float:
    return float(np.mean(non_mated_top >= threshold)) if len(non_mated_top) else 0.0


def identification_metrics(
    mated_scores: NDArray[np.floating],
    mated_truth: NDArray[np.integer],
    non_mated_scores: NDArray[np.floating],
    *,
    max_rank: int = 20,
    bootstrap: int = 1000,
    seed: int = 0,
) -> IdentificationMetrics:
    """CMC and FNIR at the FPIR points, each with a 95% bootstrap interval (probes resampled)."""
    ranks = true_ranks(mated_scores, mated_truth)
    non_top = non_mated_scores.max(axis=1) if non_mated_scores.size else np.zeros(0)

    def point(
        rk: NDArray[np.integer],
        ms: NDArray[np.floating],
        mt: NDArray[np.integer],
        nt: NDArray[np.floating],
    ) -> NDArray[np.float64]:
        values = list(cmc_curve(rk, max_rank))
        for x in FPIR_POINTS:
            values.append(fnir_at(ms, mt, threshold_at_fpir(nt, x)))
        return np.asarray(values)

    estimate = point(ranks, mated_scores, mated_truth, non_top)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(bootstrap):
        m = rng.integers(0, len(ranks), len(ranks)) if len(ranks) else np.zeros(0, int)
        n = rng.integers(0, len(non_top), len(non_top)) if len(non_top) else np.zeros(0, int)
        samples.append(point(ranks[m], mated_scores[m], mated_truth[m], non_top[n]))
    spread = np.asarray(samples) if samples else estimate[None]
    low, high = np.percentile(spread, 2.5, axis=0), np.percentile(spread, 97.5, axis=0)

    def interval(i: int) -> Interval:
        return Interval(float(estimate[i]), float(low[i]), float(high[i]))

    return IdentificationMetrics(
        mated=len(ranks),
        non_mated=len(non_top),
        cmc={r: interval(r - 1) for r in range(1, max_rank + 1)},
        fnir_at_fpir={x: interval(max_rank + i) for i, x in enumerate(FPIR_POINTS)},
        thresholds_at_fpir={x: threshold_at_fpir(non_top, x) for x in FPIR_POINTS},
    )


def tar_at_far(
    genuine: NDArray[np.floating], impostor: NDArray[np.floating], far: float
) -> tuple[float, float]:
    """(TAR, threshold) at the lowest threshold whose false accept rate is at most ``far``."""
    threshold = threshold_at_fpir(impostor, far)
    return float(np.mean(genuine >= threshold)) if len(genuine) else 0.0, threshold
