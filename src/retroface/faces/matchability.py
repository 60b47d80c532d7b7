"""Face quality as matchability: the chance that a search of this face finds its mate.

Why not a hand-weighted blend: a quality score is only useful if it predicts
recognition error (ISO/IEC 29794-5; NIST FATE Quality), and the weights of
such a blend are guesses. Here the overall score is a logistic model of the
measurable parts (inter-eye distance, sharpness, how frontal, detector
confidence) fitted on the degraded-probe protocol (faces/degraded_probes.py):
the probability that a mated probe of that quality clears the reference bar
of the calibrated decision rule (rank 1, at the bar of a 1,000-template gallery
at FPIR 1%). The parts are still shown so a low score says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The detector part of a typical clean, frontal photo (LFW's median): used for a face marked
#: by hand, which has no detector confidence.
TYPICAL_DETECTOR = 0.8
#: Sharpness part below which a face's detail is lost (see ``features``).
BLUR_STEP = 0.05


def features(parts: dict[str, float]) -> dict[str, float]:
    """The model's inputs from a face's quality parts (faces/quality.py)."""
    eye = max(float(parts.get("inter_eye_px", 0.0)), 1.0)
    sharp = min(max(float(parts.get("sharpness", 0.0)), 1e-4), 1 - 1e-4)
    # Absent for a face marked by hand: the typical value of a detected clean photo.
    detector = min(max(float(parts.get("detector", TYPICAL_DETECTOR)), 0.0), 1.0)
    return {
        "log_eye_px": math.log(eye),
        "sharpness_logit": math.log(sharp / (1 - sharp)),
        # Measured on the degraded-probe protocol: mated searches succeed about a third as
        # often below a sharpness part of 0.05 as above it, and hardly differ above it, a
        # step a single logit term cannot follow: this term is 0 above the step.
        "blur_below_step": math.log(min(sharp, BLUR_STEP) / BLUR_STEP),
        "frontal": float(parts.get("frontal", 0.0)),
        "detector": detector,
    }


@dataclass(frozen=True)
class MatchabilityModel:
    """Logistic regression over :func:`features`; ``reference`` says what "a match" meant."""

    intercept: float
    weights: dict[str, float]
    reference: str

    def probability(self, parts: dict[str, float]) -> float:
        x = features(parts)
        logit = self.intercept + sum(w * x[k] for k, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, logit))))


#: What limits a face, named the way an investigator would act on it.
REASONS = {
    "size": "the face is too small ({eye:.0f} pixels between the eyes)",
    "sharpness": "the face is blurred",
    "frontal": "the face is turned too far from the camera",
    "detector": "the face is barely recognisable as a face (occluded or poorly lit)",
}


def limiting_reasons(parts: dict[str, float], *, below: float = 0.5) -> list[str]:
    """Plain-language reasons for a poor face: each part under ``below``, worst first."""
    scored = sorted((float(parts.get(name, 1.0)), name) for name in REASONS if name in parts)
    out = []
    for value, name in scored:
        if value < below:
            out.append(REASONS[name].format(eye=float(parts.get("inter_eye_px", 0.0))))
    return out or ["its overall quality is low"]


def fit_matchability(
    parts: list[dict[str, float]], matched: list[bool], *, reference: str, ridge: float = 1e-3
) -> MatchabilityModel:
    """Logistic regression by iteratively reweighted least squares (a few dozen numbers:
    no library needed), with every weight kept non-negative: a larger, sharper, more
    frontal, more confidently detected face is never scored *less* matchable. A feature
    whose fitted weight comes out negative (noise, or a protocol that cannot vary it)
    is dropped and the rest refitted; its weight is recorded as 0."""
    if len(parts) != len(matched) or len(parts) < 20:
        raise ValueError("fitting matchability needs at least 20 labelled faces")
    if all(matched) or not any(matched):
        raise ValueError("fitting matchability needs both matched and missed faces")
    names = list(features(parts[0]))
    x = np.array([[features(p)[k] for k in names] for p in parts], dtype=np.float64)
    y = np.asarray(matched, dtype=np.float64)
    active = list(range(len(names)))
    while True:
        intercept, weights = _logistic(x[:, active], y, ridge)
        negative = [active[i] for i, w in enumerate(weights) if w < 0]
        if not negative:
            break
        active = [i for i in active if i not in negative]
    full = dict.fromkeys(names, 0.0)
    for i, w in zip(active, weights, strict=True):
        full[names[i]] = round(float(w), 6)
    return MatchabilityModel(intercept=round(intercept, 6), weights=full, reference=reference)


def _logistic(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[float, list[float]]:
    """(intercept, weights) of a ridge-regularised logistic fit; features are standardised
    while fitting for a stable solve, the result is on the original scale."""
    if x.shape[1] == 0:
        share = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        return math.log(share / (1 - share)), []
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -40, 40)))
        w = np.maximum(p * (1 - p), 1e-9)
        hessian = design.T @ (design * w[:, None]) + ridge * np.eye(design.shape[1])
        step = np.linalg.solve(hessian, design.T @ (y - p) - ridge * beta)
        beta += step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    weights = beta[1:] / scale
    return float(beta[0] - np.sum(weights * mean)), [float(w) for w in weights]
