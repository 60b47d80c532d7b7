"""From template hits to a ranked, capped, thresholded list of subjects.

A subject may hold several templates; it is scored by its best one. The
index returns templates, so we widen k until we have enough distinct
subjects, or every remaining hit is below the threshold, or the index is
exhausted: the result is exact, not an approximation of the top subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retroface.index import VectorIndex

_WIDEN = 4


@dataclass(frozen=True)
class RankedSubject:
    subject_id: int
    template_id: int
    score: float


def rank_subjects(
    index: VectorIndex,
    query: np.ndarray,
    subjects_of: Callable[[Sequence[int]], dict[int, int]],
    *,
    max_candidates: int,
    threshold: float,
) -> list[RankedSubject]:
    """Best-first subjects scoring at least ``threshold``, at most ``max_candidates``."""
    total = len(index)
    if total == 0 or max_candidates <= 0:
        return []
    k = min(total, max_candidates * _WIDEN)
    while True:
        hits = index.search(query.reshape(1, -1), k)
        scores, ids = hits.scores[0], hits.ids[0]
        valid = ids >= 0
        scores, ids = scores[valid], ids[valid]
        owner = subjects_of([int(i) for i in ids[scores >= threshold]])
        best: dict[int, RankedSubject] = {}
        for template_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
            if score < threshold:
                break
            subject_id = owner.get(template_id)
            if subject_id is not None and subject_id not in best:
                best[subject_id] = RankedSubject(subject_id, template_id, float(score))
        exhausted = k >= total or (len(scores) > 0 and scores[-1] < threshold)
        if len(best) >= max_candidates or exhausted:
            return list(best.values())[:max_candidates]
        k = min(total, k * _WIDEN)
