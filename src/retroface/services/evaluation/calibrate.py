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
from retroface.faces.matchability import MatchabilityModel
from retroface.faces.open_set import OpenSetModel, model_to_document
from retroface.faces.open_set_fit import fit_decision_rule
from retroface.governance.calibration_policy import sign_calibration
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.evaluation.degraded import score_degraded
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
    open_set: bool = True,
) -> dict[str, Any]:
    """A signed calibration record (a JSON-ready dict) for the running model on ``dataset``.

    With ``open_set`` (the default) the record also holds the decision rule searches use
    (faces/open_set.py: cohort statistics and impostor tail) and the matchability model
    (faces/matchability.py), fitted on the degraded-probe protocol of the same dataset
    (services/evaluation/degraded.py): a second pass over it, about ten analyses a probe.

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
    if open_set:
        rule, matchability = fitted_decision_rule(app, dataset, held_out_share, progress)
        body["open_set"] = model_to_document(rule)
        body["matchability"] = {
            "intercept": matchability.intercept,
            "weights": matchability.weights,
            "reference": matchability.reference,
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


def fitted_decision_rule(
    app: App, dataset: Path, held_out_share: float, progress: Progress | None
) -> tuple[OpenSetModel, MatchabilityModel]:
    """The open-set rule and matchability model fitted on the dataset's degraded protocol."""
    scores = score_degraded(app, dataset, held_out_share=held_out_share, progress=progress)
    column = {name: i for i, name in enumerate(scores.gallery_names)}
    probes = [p for p in scores.probes if p.template is not None]
    try:
        return fit_decision_rule(
            scores.model,
            scores.gallery,
            np.arange(len(scores.gallery_names)),
            np.stack([p.template for p in probes if p.template is not None]),
            np.array([column.get(p.truth, -1) if p.truth else -1 for p in probes]),
            [p.parts for p in probes],
        )
    except ValueError as exc:
        raise InvalidInputError(
            f"{dataset}: cannot fit the decision rule: {exc} (or calibrate the threshold "
            "alone with --no-open-set)"
        ) from None
