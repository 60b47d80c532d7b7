"""Subjects are ranked by their best template, capped, thresholded and exact."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retroface.index import FlatIndex
from retroface.services.search.ranking import rank_subjects


def _setup(templates_per_subject: int, subjects: int, dim: int = 8):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(subjects * templates_per_subject, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(len(vectors))
    owner = {int(i): int(i) // templates_per_subject for i in ids}
    index = FlatIndex(dim)
    index.add(ids, vectors)

    def subjects_of(tids: Sequence[int]) -> dict[int, int]:
        return {t: owner[t] for t in tids}

    return index, vectors, owner, subjects_of


def test_many_templates_per_subject_still_yield_distinct_top_subjects() -> None:
    index, vectors, owner, subjects_of = _setup(templates_per_subject=20, subjects=30)
    query = vectors[0]
    ranked = rank_subjects(index, query, subjects_of, max_candidates=5, threshold=-1.0)
    best = {}
    for tid, score in enumerate(vectors @ query):
        best[owner[tid]] = max(best.get(owner[tid], -2.0), float(score))
    expected = sorted(best, key=lambda s: -best[s])[:5]
    assert [r.subject_id for r in ranked] == expected
    assert all(abs(r.score - best[r.subject_id]) < 1e-5 for r in ranked)


def test_threshold_filters_and_cap_limits() -> None:
    index, vectors, _, subjects_of = _setup(templates_per_subject=2, subjects=40)
    ranked = rank_subjects(index, vectors[0], subjects_of, max_candidates=3, threshold=-1.0)
    assert len(ranked) == 3
    strict = rank_subjects(index, vectors[0], subjects_of, max_candidates=3, threshold=0.999)
    assert [r.subject_id for r in strict] == [0]
