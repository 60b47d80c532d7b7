"""Rank the gallery for one probe face under the deployment's decision rule.

The rule (services/deployment/decision_rule.py) says whether the face is searched
and the bar its candidates must clear; the ranking is the exact top subjects at
or above that bar (search/ranking.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from retroface.index import VectorIndex
from retroface.services.deployment.decision_rule import DecisionRule, ProbeDecision, decide
from retroface.services.search.ranking import RankedSubject, rank_subjects
from retroface.store.unit_of_work import UnitOfWork


def decide_and_rank(
    rule: DecisionRule,
    uow: UnitOfWork,
    index: VectorIndex,
    embedding: NDArray[np.floating],
    quality: float,
    parts: dict[str, Any],
    cap: int,
    agreement: float | None = None,
) -> tuple[ProbeDecision, list[RankedSubject]]:
    """Decide whether the face is searched and at what bar, then rank the gallery.
    ``agreement``: a sighting's views' agreement (its fused template's bar rises)."""
    decision = decide(rule, embedding, quality, parts, len(index), agreement)
    if not decision.searched or decision.threshold is None:
        return decision, []
    ranked = rank_subjects(
        index,
        embedding,
        uow.templates.subjects_of,
        max_candidates=cap,
        threshold=decision.threshold,
    )
    return decision, ranked
