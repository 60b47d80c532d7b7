"""Choose a working threshold from measured false positives, judged on the worst group.

A threshold that meets a false-positive target on average can miss it badly
for one demographic group (NIST IR 8280), so the threshold is the highest of
the per-group thresholds: every group with non-mated probes meets the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retroface.eval.identification import threshold_at_fpir

#: Every cosine similarity is at least this: a threshold here passes everything.
LOWEST_SCORE = -1.0


@dataclass(frozen=True)
class ChosenThreshold:
    threshold: float
    worst_group: str | None  # None when no group labels were given
    per_group: dict[str, float]  # each group's own threshold at the target


def threshold_for_target_fpir(
    non_mated_top: NDArray[np.floating], groups: NDArray[np.generic] | None, target_fpir: float
) -> ChosenThreshold:
    """The lowest threshold at which FPIR <= ``target_fpir`` overall and in every group.

    ``non_mated_top`` holds each non-mated search's best score; ``groups`` (same
    length, or None) the operator's group label of each. A target of 1 or more
    accepts any false-positive rate, so the threshold is the lowest possible score.
    """
    if not 0.0 < target_fpir <= 1.0:
        raise ValueError(f"a target FPIR is in (0, 1], got {target_fpir}")
    if len(non_mated_top) == 0:
        raise ValueError("calibration needs non-mated searches (people not in the gallery)")

    def at_target(scores: NDArray[np.floating]) -> float:
        if target_fpir >= 1.0:
            return LOWEST_SCORE
        return max(threshold_at_fpir(scores, target_fpir), LOWEST_SCORE)

    overall = at_target(non_mated_top)
    if groups is None:
        return ChosenThreshold(overall, None, {})
    per_group = {
        str(g): at_target(non_mated_top[groups == g]) for g in sorted(set(groups.tolist()))
    }
    worst = max(per_group, key=lambda g: per_group[g])
    return ChosenThreshold(max(overall, per_group[worst]), worst, per_group)
