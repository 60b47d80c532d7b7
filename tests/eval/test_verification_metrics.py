"""Verification metrics against small cases computed by hand."""

from __future__ import annotations

import numpy as np

from retroface.eval.verification import accuracy_at, best_threshold, k_fold_accuracy


def test_best_threshold_separates_perfectly_separable_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    same = np.array([False, False, False, True, True])
    threshold = best_threshold(scores, same)
    assert 0.3 < threshold < 0.8
    assert accuracy_at(scores, same, threshold) == 1.0


def test_best_threshold_with_overlap_maximises_accuracy() -> None:
    # Sorted: 0.1 d, 0.3 s, 0.5 d, 0.55 d, 0.6 s, 0.7 s. Cutting between 0.55 and 0.6 gets
    # 5/6 right (only 0.3 wrong); every other cut gets at most 4/6.
    scores = np.array([0.6, 0.1, 0.5, 0.7, 0.3, 0.55])
    same = np.array([True, False, False, True, True, False])
    threshold = best_threshold(scores, same)
    assert 0.55 < threshold < 0.6
    assert accuracy_at(scores, same, threshold) == 5 / 6


def test_k_fold_uses_the_other_folds_threshold() -> None:
    # Fold 0 alone would cut at 0.5; folds 1-2 cut between 0.2 and 0.3, misclassifying
    # fold 0's different pair at 0.4 → fold 0 accuracy 1/2, others 1.
    scores = np.array([0.4, 0.9, 0.2, 0.3, 0.1, 0.35])
    same = np.array([False, True, False, True, False, True])
    folds = np.array([0, 0, 1, 1, 2, 2])
    result = k_fold_accuracy(scores, same, folds)
    assert result.fold_accuracies == [0.5, 1.0, 1.0]
    assert abs(result.mean - 2.5 / 3) < 1e-12
