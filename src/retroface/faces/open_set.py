"""Open-set decisions that hold a false-positive identification rate at any gallery size.

Why: a fixed cosine threshold fixes the *pair* false-match rate, but a 1:N
search makes N comparisons, so the chance that someone who is not enrolled
gets a candidate (FPIR) grows with N; and low-quality faces sit close to
everyone, so their scores run high against every reference.

The rule, fitted by calibration (faces/open_set_fit.py): a threshold per
search from the gallery's size. The calibrated survival ``S(z)`` of non-mated
pair scores gives ``FPIR(z, N) = 1 - (1 - S(z))^N``; the search's bar is the
``z`` at which that equals the target. Beyond the measured range the tail is
extrapolated by the straight line its last measured decades follow on a log
scale (documented in the calibration). Low-quality probes are kept out by the
quality floor (services/deployment/decision_rule.py), not by the bar.

``z`` is the raw cosine by default. Optionally (``ProbeNorm``) it is the score in
standard deviations above what the probe scores against people in general
(T-norm against a fixed cohort: ``z = (s - mu_p) / sigma_p``, ``mu_p = p . m``,
``sigma_p^2 = p' C p`` for a cohort's mean ``m`` and covariance ``C``), which
raises the bar of a face that sits close to everyone. Measured on LFW with CCTV
degradations (bench/trust.py, docs/trust.md), T-norm held FPIR a little closer
to the target but missed far more mates at it, so the shipped rule uses raw
scores. Either way ``z`` is increasing in ``s`` for a given probe, so the bar is
a raw-score threshold per search, ``mu_p + z * sigma_p``: ranking is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retroface.faces.probe_fusion import LENGTH_EXPONENT
from retroface.faces.shipped_calibration import shipped_document


@dataclass(frozen=True)
class ImpostorTail:
    """Survival of non-mated pair z-scores: measured points, then a log-linear extension.

    ``z`` ascending with ``log10_survival`` descending; beyond the last point,
    ``log10 S(z) = intercept + slope * z`` (slope < 0).
    """

    z: tuple[float, ...]
    log10_survival: tuple[float, ...]
    slope: float
    intercept: float

    def survival(self, z: float) -> float:
        """Share of non-mated pairs scoring at least ``z``."""
        if z <= self.z[0]:
            return 10 ** self.log10_survival[0]
        if z <= self.z[-1]:
            return float(10 ** np.interp(z, self.z, self.log10_survival))
        return float(10 ** min(self.log10_survival[-1], self.intercept + self.slope * z))

    def z_at(self, survival: float) -> float:
        """The lowest z whose survival is at most ``survival``."""
        target = math.log10(max(survival, 1e-300))
        if target >= self.log10_survival[0]:
            return self.z[0]
        if target >= self.log10_survival[-1]:
            # interp needs ascending x: survival falls as z rises.
            return float(np.interp(-target, [-v for v in self.log10_survival], self.z))
        return max(self.z[-1], (target - self.intercept) / self.slope)


@dataclass(frozen=True)
class ProbeNorm:
    """Cohort statistics: mean template and covariance of many different people's templates."""

    mean: NDArray[np.float64]
    covariance: NDArray[np.float64]

    def stats(
        self, probes: NDArray[np.floating]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(mu, sigma) of each probe row's scores against the cohort."""
        p = np.atleast_2d(probes).astype(np.float64)
        mu = p @ self.mean
        sigma = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", p, self.covariance, p), 1e-12))
        return mu, sigma


@dataclass(frozen=True)
class SearchBar:
    """What one probe's search must clear, and what that means."""

    threshold: float  # raw cosine a candidate must reach (floor included)
    z: float  # the normalised bar
    floor: float  # the deployment's own minimum raw score
    gallery_templates: int
    expected_fpir: float  # at this gallery size, with the bar actually used
    probe_mu: float
    probe_sigma: float

    def z_of(self, score: float) -> float:
        return (score - self.probe_mu) / self.probe_sigma


@dataclass(frozen=True)
class OpenSetModel:
    """A calibrated decision rule for one model: an impostor tail, on raw scores or (with
    ``norm``) on probe-normalised ones."""

    model: str
    norm: ProbeNorm | None
    tail: ImpostorTail

    def stats(
        self, probes: NDArray[np.floating]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each probe's (mu, sigma): (0, 1) on raw scores, where z is the cosine itself."""
        if self.norm is None:
            count = len(np.atleast_2d(probes))
            return np.zeros(count), np.ones(count)
        return self.norm.stats(probes)

    def pair_survival_for(self, target_fpir: float, comparisons: int) -> float:
        """Per-comparison false-match rate that gives ``target_fpir`` over ``comparisons``."""
        n = max(1, comparisons)
        return float(-math.expm1(math.log1p(-min(target_fpir, 0.999999)) / n))

    def z_bar(self, target_fpir: float, comparisons: int) -> float:
        return self.tail.z_at(self.pair_survival_for(target_fpir, comparisons))

    def expected_fpir(self, z: float, comparisons: int) -> float:
        survival = self.tail.survival(z)
        return float(-math.expm1(max(1, comparisons) * math.log1p(-min(survival, 0.999999))))

    def fusion_scale(self, agreement: float) -> float:
        """How much lower a re-normalised fused template's scores count (1 for one view).

        Its views' weighted mean has length ``agreement`` < 1 and its scores run
        ``1/agreement`` higher than theirs on average; the tail was measured on single
        images, so the scores are taken at ``agreement ** LENGTH_EXPONENT``, the length at
        which fused stills were measured to raise no more false candidates than one still
        (faces/probe_fusion.py). Probe-normalised (T-norm) scores do not change with a
        probe's length, and the probe's own statistics already see where it sits."""
        if self.norm is not None:
            return 1.0
        return float(min(1.0, max(agreement, 1e-6)) ** LENGTH_EXPONENT)

    def bar(
        self,
        probe: NDArray[np.floating],
        *,
        target_fpir: float,
        comparisons: int,
        floor: float,
        agreement: float = 1.0,
    ) -> SearchBar:
        """The raw threshold for one probe against a gallery of ``comparisons`` templates.

        Templates, not subjects, are counted: each template is a chance of a false
        match, so a gallery with several images per person is (slightly) over-counted,
        never under-counted. ``agreement``: the probe is a re-normalised fusion of views
        that agree this much (sightings); the calibrated bar is raised by
        :meth:`fusion_scale`. The floor applies to the score as shown.
        """
        mu, sigma = (float(v[0]) for v in self.stats(probe))
        scale = self.fusion_scale(agreement)
        z = self.z_bar(target_fpir, comparisons)
        raw = max(floor, (mu + z * sigma) / scale)
        used_z = (raw * scale - mu) / sigma
        return SearchBar(
            threshold=float(raw),
            z=float(used_z),
            floor=floor,
            gallery_templates=comparisons,
            expected_fpir=self.expected_fpir(used_z, comparisons),
            probe_mu=mu,
            probe_sigma=sigma,
        )


def model_to_document(model: OpenSetModel) -> dict[str, Any]:
    """JSON-ready form, as calibration records and the shipped calibration hold it."""
    norm = (
        {
            "cohort_mean": [round(float(v), 7) for v in model.norm.mean],
            "cohort_covariance": [
                [round(float(v), 8) for v in row] for row in model.norm.covariance
            ],
        }
        if model.norm is not None
        else {}
    )
    return {
        "model": model.model,
        "scores": "probe-normalised (T-norm)" if model.norm is not None else "raw cosine",
        **norm,
        "tail": {
            "z": list(model.tail.z),
            "log10_survival": list(model.tail.log10_survival),
            "slope": model.tail.slope,
            "intercept": model.tail.intercept,
        },
    }


def model_from_document(document: dict[str, Any]) -> OpenSetModel:
    tail = document["tail"]
    norm = (
        ProbeNorm(
            mean=np.asarray(document["cohort_mean"], dtype=np.float64),
            covariance=np.asarray(document["cohort_covariance"], dtype=np.float64),
        )
        if "cohort_mean" in document
        else None
    )
    return OpenSetModel(
        model=str(document["model"]),
        norm=norm,
        tail=ImpostorTail(
            z=tuple(float(v) for v in tail["z"]),
            log10_survival=tuple(float(v) for v in tail["log10_survival"]),
            slope=float(tail["slope"]),
            intercept=float(tail["intercept"]),
        ),
    )


def shipped_open_set(model_name: str) -> OpenSetModel | None:
    """The shipped decision rule when ``model_name`` is the model it was measured for."""
    document = shipped_document()
    if document is None or document["open_set"]["model"].split("@")[0] != model_name:
        return None
    return model_from_document(document["open_set"])
