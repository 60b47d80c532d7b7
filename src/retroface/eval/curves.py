"""Whole accuracy curves (ROC, FNIR/FPIR, score histograms) as plain arrays.

The metric functions in ``verification`` and ``identification`` answer one
question at one operating point; plots and their CSVs need every operating
point. These functions compute all of them in one vectorised pass (sort once,
then count with ``searchsorted``) so that 100k probes take well under a second,
and they use the same definitions as the point functions, so a curve and a
reported number never disagree. No plotting here: ``plots`` draws these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class RocCurve:
    """1:1 verification trade-off; one entry per distinct score, thresholds descending.

    ``far[i]``: share of impostor scores >= ``threshold[i]``;
    ``tar[i]``: share of genuine scores >= ``threshold[i]`` (FNMR is ``1 - tar``).
    """

    threshold: NDArray[np.float64]
    far: NDArray[np.float64]
    tar: NDArray[np.float64]

    @property
    def fnmr(self) -> NDArray[np.float64]:
        return 1.0 - self.tar


@dataclass(frozen=True, eq=False)
class ErrorTradeoff:
    """1:N identification trade-off; one entry per relevant score, thresholds descending.

    ``fpir[i]``: share of non-mated searches whose top score is >= ``threshold[i]``;
    ``fnir[i]``: share of mated searches whose rank-1 candidate is not the true
    subject or scores below ``threshold[i]``.
    """

    threshold: NDArray[np.float64]
    fpir: NDArray[np.float64]
    fnir: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ScoreHistogram:
    """Counts of mated and non-mated scores in the same bins.

    ``edges`` has one more entry than each count array; bin ``i`` is
    ``[edges[i], edges[i + 1])``, the last bin also holds its upper edge.
    """

    edges: NDArray[np.float64]
    mated: NDArray[np.intp]
    non_mated: NDArray[np.intp]


def _share_at_or_above(
    ascending: NDArray[np.floating], thresholds: NDArray[np.float64]
) -> NDArray[np.float64]:
    """For each threshold, the share of the (sorted ascending) scores that are >= it."""
    if len(ascending) == 0:
        return np.zeros(len(thresholds))
    below = np.searchsorted(ascending, thresholds, side="left")
    return (len(ascending) - below) / len(ascending)


def _descending_distinct(*scores: NDArray[np.floating]) -> NDArray[np.float64]:
    return np.unique(np.concatenate([np.asarray(s, dtype=float).ravel() for s in scores]))[::-1]


def roc_points(genuine: NDArray[np.floating], impostor: NDArray[np.floating]) -> RocCurve:
    """FAR and TAR at every distinct score of either set (1-D arrays of similarity scores).

    An empty set has a rate of 0 at every threshold, as ``tar_at_far`` treats it.
    """
    genuine = np.sort(np.asarray(genuine, dtype=float).ravel())
    impostor = np.sort(np.asarray(impostor, dtype=float).ravel())
    thresholds = _descending_distinct(genuine, impostor)
    return RocCurve(
        threshold=thresholds,
        far=_share_at_or_above(impostor, thresholds),
        tar=_share_at_or_above(genuine, thresholds),
    )


def identification_error_curve(
    mated_scores: NDArray[np.floating],
    mated_truth: NDArray[np.integer],
    non_mated_top: NDArray[np.floating],
) -> ErrorTradeoff:
    """FNIR and FPIR at every threshold where either changes.

    ``mated_scores`` is (mated probes x gallery subjects), ``mated_truth`` the
    column of each mated probe's true subject, ``non_mated_top`` each non-mated
    probe's best score. FNIR only changes at the top scores of correct rank-1
    hits and FPIR only at non-mated top scores, so those are the thresholds.
    Matches ``identification.fnir_at`` / ``fpir_at`` exactly, ties included
    (the rank-1 candidate is ``argmax``'s, the first of equal scores).
    """
    mated_scores = np.asarray(mated_scores, dtype=float)
    mated_truth = np.asarray(mated_truth).ravel()
    non_mated_top = np.sort(np.asarray(non_mated_top, dtype=float).ravel())
    if mated_scores.ndim != 2 or len(mated_scores) != len(mated_truth):
        raise ValueError(
            f"mated_scores must be (probes x subjects) with one truth per probe; got shape "
            f"{mated_scores.shape} and {len(mated_truth)} truths"
        )
    if len(mated_truth) and mated_scores.shape[1]:
        top = mated_scores.argmax(axis=1)
        top_score = mated_scores[np.arange(len(top)), top]
        hit_scores = np.sort(top_score[top == mated_truth])
    else:
        hit_scores = np.zeros(0)
    thresholds = _descending_distinct(hit_scores, non_mated_top)
    if len(mated_truth):
        hits_at_or_above = len(hit_scores) - np.searchsorted(hit_scores, thresholds, side="left")
        fnir = 1.0 - hits_at_or_above / len(mated_truth)
    else:
        fnir = np.zeros(len(thresholds))
    return ErrorTradeoff(
        threshold=thresholds,
        fpir=_share_at_or_above(non_mated_top, thresholds),
        fnir=fnir,
    )


def score_histogram(
    mated: NDArray[np.floating], non_mated: NDArray[np.floating], bins: int = 50
) -> ScoreHistogram:
    """Counts of both score sets over ``bins`` equal-width bins spanning all their scores."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    mated = np.asarray(mated, dtype=float).ravel()
    non_mated = np.asarray(non_mated, dtype=float).ravel()
    edges = np.histogram_bin_edges(np.concatenate([mated, non_mated]), bins=bins)
    return ScoreHistogram(
        edges=edges,
        mated=np.histogram(mated, bins=edges)[0],
        non_mated=np.histogram(non_mated, bins=edges)[0],
    )
