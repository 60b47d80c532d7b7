"""Per probe face: search it or not (quality), and the bar its candidates must clear.

Two rules hold the false-positive identification rate at the deployment's
target whatever the probe and the gallery (see faces/open_set.py):

* a face whose calibrated matchability is below the deployment's probe floor
  is "too poor to search reliably" and is not searched, with the reasons
  (size, blur, pose), unless the operator recorded a justification for the
  search; its candidates are then flagged low-quality wherever they appear;
* a searched face's candidates must clear a bar derived from the target FPIR,
  the probe and the gallery's current size; the bar and the FPIR it implies
  are recorded on the face (``faces.decision``) and shown with the candidates.

Searches (services/search) and the degraded-probe protocol (services/evaluation)
decide with the same rule, so the protocol measures what searches do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retroface.faces.matchability import limiting_reasons
from retroface.faces.open_set import OpenSetModel
from retroface.services.app import App
from retroface.services.deployment.calibrations import open_set_model
from retroface.store.unit_of_work import UnitOfWork

#: Inter-eye distance (pixels in the evidence) under which a face is too poor to search.
MIN_SEARCH_EYE_PX = 10.0

#: What a search that met a too-poor probe says instead of candidates.
TOO_POOR = "too poor to search reliably"


@dataclass(frozen=True)
class DecisionRule:
    """What a search decides with: fixed at its start, recorded in its parameters."""

    open_set: OpenSetModel | None
    target_fpir: float
    floor: float  # the raw-score threshold the gate allowed (the deployment's minimum)
    quality_floor: float
    justification: str | None  # the operator's reason to search faces below quality_floor
    #: The operator chose the threshold for this search: it is the bar as given (still
    #: above the deployment's floor), and the FPIR it implies is shown, not held.
    fixed: bool = False

    def parameters(self) -> dict[str, Any]:
        if self.fixed:
            rule = "fixed threshold chosen for this search"
        elif self.open_set:
            rule = "open-set: probe z-norm against a cohort, bar from target FPIR and gallery size"
        else:
            rule = "fixed threshold (no open-set calibration for this model)"
        return {
            "decision_rule": rule,
            "target_fpir": self.target_fpir,
            "probe_quality_floor": self.quality_floor,
            "low_quality_justification": self.justification,
        }


def decision_rule(
    app: App, uow: UnitOfWork, floor: float, justification: str | None, *, fixed: bool = False
) -> DecisionRule:
    """The rule a search started now decides with (the running model's calibration).
    ``fixed``: ``floor`` is a threshold the operator chose for this search."""
    reason = (justification or "").strip() or None
    return DecisionRule(
        open_set=open_set_model(uow, app.engine.model.tag),
        target_fpir=app.settings.target_fpir,
        floor=floor,
        quality_floor=app.settings.probe_quality_floor,
        justification=reason,
        fixed=fixed,
    )


@dataclass
class ProbeDecision:
    searched: bool
    threshold: float | None = None
    expected_fpir: float | None = None
    gallery_templates: int = 0
    low_quality: bool = False
    reasons: list[str] = field(default_factory=list)
    #: A fused sighting's views' agreement (its bar rises with it); None for one face.
    agreement: float | None = None

    def record(self) -> dict[str, Any]:
        """The JSON stored on the face row (``faces.decision``)."""
        return {
            "searched": self.searched,
            "threshold": None if self.threshold is None else round(self.threshold, 4),
            "expected_fpir": None
            if self.expected_fpir is None
            else float(f"{self.expected_fpir:.3g}"),
            "gallery_templates": self.gallery_templates,
            "low_quality": self.low_quality,
            "reasons": self.reasons,
            **({} if self.agreement is None else {"views_agreement": round(self.agreement, 4)}),
        }

    @property
    def warning(self) -> str | None:
        if not self.searched:
            return f"{TOO_POOR}: " + "; ".join(self.reasons)
        if self.low_quality:
            return "low-quality probe searched on a recorded justification: " + "; ".join(
                self.reasons
            )
        return None


def decide(
    rule: DecisionRule,
    embedding: NDArray[np.floating],
    quality: float,
    parts: dict[str, Any],
    gallery_templates: int,
    agreement: float | None = None,
) -> ProbeDecision:
    """Whether the face is searched and the raw score its candidates must reach.
    ``agreement``: the probe is a sighting's fused template whose views agree this much
    (its bar is raised to hold the same FPIR, faces/open_set.py ``fusion_scale``)."""
    # Below the smallest face the protocol measured, matchability is an extrapolation:
    # such a face is too poor whatever its score says.
    tiny = float(parts.get("inter_eye_px", MIN_SEARCH_EYE_PX)) < MIN_SEARCH_EYE_PX
    below = quality < rule.quality_floor or tiny
    reasons = limiting_reasons(parts) if below else []
    if below and parts.get("on_original"):
        # An enhanced probe is judged by its face in the original evidence
        # (services/search/original_quality.py): say so, or the reasons read as wrong.
        reasons.append("measured in the original image, before enhancement")
    if below and not rule.justification:
        return ProbeDecision(
            searched=False,
            gallery_templates=gallery_templates,
            reasons=reasons,
            agreement=agreement,
        )
    threshold, expected = rule.floor, None
    fused = 1.0 if agreement is None else agreement  # one face: nothing fused
    if rule.open_set is not None and rule.fixed:
        mu, sigma = (float(v[0]) for v in rule.open_set.stats(embedding))
        scale = rule.open_set.fusion_scale(fused)
        expected = rule.open_set.expected_fpir((rule.floor * scale - mu) / sigma, gallery_templates)
    elif rule.open_set is not None:
        bar = rule.open_set.bar(
            embedding,
            target_fpir=rule.target_fpir,
            comparisons=gallery_templates,
            floor=rule.floor,
            agreement=fused,
        )
        threshold, expected = bar.threshold, bar.expected_fpir
    return ProbeDecision(
        searched=True,
        threshold=threshold,
        expected_fpir=expected,
        gallery_templates=gallery_templates,
        low_quality=below,
        reasons=reasons,
        agreement=agreement,
    )


def probe_decision_fields(decision: ProbeDecision) -> dict[str, Any]:
    """The decision as the fields a :class:`ProbeOut` shows."""
    record = decision.record()  # the rounding the stored decision has
    return {
        "searched": decision.searched,
        "bar": record["threshold"],
        "expected_fpir": record["expected_fpir"],
        "views_agreement": record.get("views_agreement"),
        "warning": decision.warning,
    }
