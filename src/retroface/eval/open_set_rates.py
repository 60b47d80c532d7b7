"""Open-set identification rates under a per-search decision rule, by condition and band.

The input is each probe's best gallery score and subject, its true subject
(or -1 when it is not enrolled), the bar its search had to clear and whether
it was searched at all (a probe too poor to search returns nobody: a miss if
mated, no false positive if not). FPIR and FNIR are as NIST FRTE defines them:

* FPIR: share of non-mated searches returning anyone.
* FNIR: share of mated searches whose true subject is not the top candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retroface.eval.identification import threshold_at_fpir

#: Matchability bands the protocol reports (lower bound included, upper excluded; 1.0 in the top).
QUALITY_BANDS = ((0.0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.0))


@dataclass(frozen=True)
class ProbeOutcomes:
    """One row per probe search."""

    top_score: NDArray[np.float64]
    top_subject: NDArray[np.int64]
    truth: NDArray[np.int64]  # -1: not enrolled (non-mated)
    bar: NDArray[np.float64]
    searched: NDArray[np.bool_]

    @property
    def mated(self) -> NDArray[np.bool_]:
        return np.asarray(self.truth >= 0)

    @property
    def hit(self) -> NDArray[np.bool_]:
        """The search returned someone (its best score cleared its bar)."""
        return np.asarray(self.searched & (self.top_score >= self.bar))


@dataclass(frozen=True)
class Rates:
    mated: int
    non_mated: int
    fnir: float | None
    fpir: float | None
    not_searched: float  # share of all probes too poor to search


def rates(outcomes: ProbeOutcomes, select: NDArray[np.bool_] | None = None) -> Rates:
    """FNIR and FPIR of the selected probes (all when ``select`` is None)."""
    chosen = np.ones(len(outcomes.truth), bool) if select is None else select
    mated = chosen & outcomes.mated
    non_mated = chosen & ~outcomes.mated
    found = outcomes.hit & (outcomes.top_subject == outcomes.truth)
    return Rates(
        mated=int(mated.sum()),
        non_mated=int(non_mated.sum()),
        fnir=float(1.0 - found[mated].mean()) if mated.any() else None,
        fpir=float(outcomes.hit[non_mated].mean()) if non_mated.any() else None,
        not_searched=float((~outcomes.searched[chosen]).mean()) if chosen.any() else 0.0,
    )


def fnir_at_fixed_fpir(
    outcomes: ProbeOutcomes, fpir: float, select: NDArray[np.bool_] | None = None
) -> float | None:
    """FNIR at the one raw threshold whose FPIR over the selected non-mated probes is
    ``fpir`` (every probe searched): the model's own trade-off, free of any rule."""
    chosen = np.ones(len(outcomes.truth), bool) if select is None else select
    mated, non_mated = chosen & outcomes.mated, chosen & ~outcomes.mated
    if not mated.any() or not non_mated.any():
        return None
    threshold = threshold_at_fpir(outcomes.top_score[non_mated], fpir)
    found = (outcomes.top_subject == outcomes.truth) & (outcomes.top_score >= threshold)
    return float(1.0 - found[mated].mean())


def error_versus_discard(
    outcomes: ProbeOutcomes,
    quality: NDArray[np.floating],
    threshold: float,
    fractions: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5),
) -> list[tuple[float, float]]:
    """(discarded share, FNIR of the rest) as the lowest-quality mated probes are dropped:
    a quality measure that predicts error makes this fall steeply (ISO/IEC 29794-1's EDC)."""
    mated = np.flatnonzero(outcomes.mated)
    if not len(mated):
        return []
    order = mated[np.argsort(quality[mated], kind="stable")]
    found = (outcomes.top_subject == outcomes.truth) & (outcomes.top_score >= threshold)
    curve = []
    for share in fractions:
        kept = order[round(share * len(order)) :]
        curve.append((share, float(1.0 - found[kept].mean()) if len(kept) else 0.0))
    return curve


def quality_band(quality: float) -> str:
    for low, high in QUALITY_BANDS:
        if low <= quality < high or (high == 1.0 and quality >= 1.0):
            return f"{low:.1f}-{high:.1f}"
    return f"{QUALITY_BANDS[0][0]:.1f}-{QUALITY_BANDS[0][1]:.1f}"
