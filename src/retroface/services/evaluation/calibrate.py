"""Measure a threshold on a labelled dataset and sign it, so it can be registered.

The deployment's own engine scores a folder-per-identity dataset (as
``eval identification`` does) and the lowest threshold whose false-positive
identification rate meets the target in every operator-labelled group is
chosen; the record is signed with the deployment's key. Registering it is
``deployment.calibrations``' job: measuring and trusting are kept apart.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from retroface.errors import InvalidInputError
from retroface.eval.calibration import threshold_for_target_fpir
from retroface.eval.identification import fnir_at, fpir_at
from retroface.governance.calibration_policy import sign_calibration
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.evaluation.identification import (
    group_rates,
    read_group_labels,
    record_evaluation,
    score_dataset,
)
from retroface.services.progress import Progress


def calibrate(
    app: App,
    dataset: Path,
    *,
    target_fpir: float,
    key: bytes,
    labels: Path | None = None,
    enrol: int = 1,
    held_out_share: float = 0.25,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A signed calibration record (a JSON-ready dict) for the running model on ``dataset``.

    Role: supervisor, admin or auditor. Writes ``evaluation.run`` (the threshold chosen).
    """
    app.require(Action.EVALUATION_RUN)
    if not 0.0 < target_fpir <= 1.0:
        raise InvalidInputError(f"the target FPIR is a share in (0, 1], got {target_fpir}")
    scored = score_dataset(
        app, dataset, enrol=enrol, held_out_share=held_out_share, progress=progress
    )
    group_of = read_group_labels(labels) if labels else {}
    if not scored.non_mated_names:
        raise InvalidInputError(
            f"{dataset}: calibration needs non-mated probes; hold out a share of identities"
        )
    groups = np.array([group_of.get(n, "") for n in scored.non_mated_names]) if group_of else None
    if groups is not None and not all(groups):
        unlabelled = sorted({n for n in scored.non_mated_names if n not in group_of})
        raise InvalidInputError(
            f"{labels}: {len(unlabelled)} held-out identities have no group "
            f"(first: {unlabelled[0]}); label every identity or none"
        )
    chosen = threshold_for_target_fpir(scored.non_mated_top, groups, target_fpir)
    threshold = chosen.threshold
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "model": scored.model,
        "detector": app.engine_spec.detector,
        "dataset": str(dataset),
        "dataset_sha256": scored.dataset_sha256,
        "labels": str(labels) if labels else None,
        "created_at": app.now().isoformat(),
        "created_by": app.actor,
        "target_fpir": target_fpir,
        "threshold": threshold,
        "worst_group": chosen.worst_group,
        "figures": {
            "identities_enrolled": len(scored.enrolled),
            "identities_held_out": len(scored.held_out),
            "mated_probes": len(scored.mated_names),
            "non_mated_probes": len(scored.non_mated_names),
            "fnir": fnir_at(scored.mated_scores, scored.mated_truth, threshold),
            "fpir": fpir_at(scored.non_mated_top, threshold),
            "groups": [g.model_dump() for g in group_rates(scored, group_of, threshold)],
            "group_thresholds": chosen.per_group,
        },
    }
    record_evaluation(
        app,
        "calibration",
        dataset,
        scored.dataset_sha256,
        target_fpir=target_fpir,
        threshold=threshold,
        worst_group=chosen.worst_group,
    )
    return sign_calibration(body, key)
