"""1:1 verification metrics: k-fold accuracy with the threshold fitted on the other folds.

This is the LFW "unrestricted, labeled outside data" protocol as published
results (dlib's 99.38%) use it: for each fold, choose the threshold that
maximises accuracy on the other nine, then measure accuracy on the fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class FoldedAccuracy:
    mean: float
    std: float
    fold_accuracies: list[float]
    fold_thresholds: list[float]


def best_threshold(scores: NDArray[np.floating], same: NDArray[np.bool_]) -> float:
    """The similarity threshold that maximises accuracy (midpoint between sorted scores)."""
    order = np.argsort(scores)
    s, y = scores[order], same[order].astype(bool)
    # Threshold just above s[i]: pairs 0..i are called "different", the rest "same".
    correct_below = np.cumsum(~y)  # different pairs at or below i
    correct_above = y[::-1].cumsum()[::-1]  # same pairs at or above i
    acc = np.empty(len(s) + 1)
    acc[0] = correct_above[0] if len(s) else 0
    acc[1:] = correct_below + np.append(correct_above[1:], 0)
    i = int(np.argmax(acc))
    if i == 0:
        return float(s[0] - 1e-6)
    if i == len(s):
        return float(s[-1] + 1e-6)
    return float((s[i - 1] + s[i]) / 2)


def accuracy_at(scores: NDArray[np.floating], same: NDArray[np.bool_], threshold: float) -> float:
    return float(np.mean((scores >= threshold) == same.astype(bool)))


def k_fold_accuracy(
    scores: NDArray[np.floating], same: NDArray[np.bool_], folds: NDArray[np.integer]
) -> FoldedAccuracy:
    """``folds`` gives each pair's fold number; each fold is tested with the others' threshold."""
    accs, thresholds = [], []
    for fold in np.unique(folds):
        test = folds == fold
        threshold = best_threshold(scores[~test], same[~test])
        thresholds.append(threshold)
        accs.append(accuracy_at(scores[test], same[test], threshold))
    return FoldedAccuracy(
        mean=float(np.mean(accs)),
        std=float(np.std(accs)),
        fold_accuracies=accs,
        fold_thresholds=thresholds,
    )
