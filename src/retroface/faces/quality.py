"""Face quality: one 0..1 score from parts a reviewer can understand.

Why parts: a low score must say *why* (too small, blurred, turned away, weak
detection) so an investigator can choose a better frame. The mapping of each
part to 0..1 is a documented heuristic. The overall score is the face's
*matchability* (faces/matchability.py): the calibrated probability that a
mated search of a face like it succeeds, fitted on the degraded-probe protocol
and shipped with the package. Without that calibration (a source tree that has
not made it) the overall score falls back to the weighted geometric mean of
the parts, so one very poor part pulls the whole score down.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from retroface.faces.manual_alignment import MANUAL_DETECTOR
from retroface.faces.matchability import MatchabilityModel
from retroface.faces.shipped_calibration import shipped_document
from retroface.faces.types import Detection, Landmarks, Quality

#: Inter-eye distance (eye centres, pixels) at which size stops limiting accuracy.
FULL_SIZE_EYE_PX = 40.0
MIN_EYE_PX = 6.0
#: Laplacian variance of the grey chip at which sharpness scores 0.5.
SHARPNESS_HALF = 60.0
#: Nose offset from the eye midpoint, in inter-eye distances, that means a profile view.
PROFILE_OFFSET = 0.5
#: HOG score at which detector confidence scores 0.5.
DETECTOR_HALF = 0.5

WEIGHTS = {"size": 0.35, "sharpness": 0.25, "frontal": 0.25, "detector": 0.15}


class QualityAssessor:
    """Scores one aligned face from its landmarks, chip and detection."""

    def __init__(self, matchability: MatchabilityModel | None = None) -> None:
        self.matchability = matchability or shipped_matchability()
        self.name = "retroface_matchability_v2" if self.matchability else "retroface_quality_v1"

    def assess(
        self, detection: Detection, landmarks: Landmarks, chip: NDArray[np.uint8]
    ) -> Quality:
        parts = {
            "size": size_score(landmarks),
            "sharpness": sharpness_score(chip),
            "frontal": frontal_score(landmarks),
        }
        if detection.detector != MANUAL_DETECTOR:
            # A face a person marked by hand has no detector confidence: the part is left
            # out (not 0), and matchability uses a detected clean photo's typical value.
            parts["detector"] = (
                detection.score / (detection.score + DETECTOR_HALF) if detection.score > 0 else 0.0
            )
        rounded = {k: round(v, 4) for k, v in parts.items()}
        rounded["inter_eye_px"] = round(inter_eye_px(landmarks), 2)
        if self.matchability is not None:
            overall = self.matchability.probability(rounded)
        else:
            present = {k: w for k, w in WEIGHTS.items() if k in parts}
            overall = math.exp(
                sum(w * math.log(max(parts[k], 1e-3)) for k, w in present.items())
                / sum(present.values())
            )
        return Quality(overall=round(overall, 4), parts=rounded)


def shipped_matchability() -> MatchabilityModel | None:
    document = shipped_document()
    if document is None or "matchability" not in document:
        return None
    m = document["matchability"]
    return MatchabilityModel(
        intercept=float(m["intercept"]),
        weights={k: float(v) for k, v in m["weights"].items()},
        reference=str(m["reference"]),
    )


def inter_eye_px(landmarks: Landmarks) -> float:
    (lx, ly), (rx, ry) = landmarks.eye_centres
    return math.hypot(rx - lx, ry - ly)


def size_score(landmarks: Landmarks) -> float:
    eye = inter_eye_px(landmarks)
    return float(np.clip((eye - MIN_EYE_PX) / (FULL_SIZE_EYE_PX - MIN_EYE_PX), 0.0, 1.0))


def sharpness_score(chip: NDArray[np.uint8]) -> float:
    """Variance of a 4-neighbour Laplacian over the chip's central region."""
    h, w = chip.shape[:2]
    # Crop first, then convert: the same values at half the work (it runs on every face).
    core = chip[h // 6 : h - h // 6, w // 6 : w - w // 6].astype(np.float32).mean(axis=2)
    lap = 4 * core[1:-1, 1:-1] - core[:-2, 1:-1] - core[2:, 1:-1] - core[1:-1, :-2] - core[1:-1, 2:]
    var = float(lap.var())
    return var / (var + SHARPNESS_HALF)


def frontal_score(landmarks: Landmarks) -> float:
    """How far the nose sits from the eyes' midpoint along the eye line (yaw proxy)."""
    (lx, ly), (rx, ry) = landmarks.eye_centres
    nx, ny = landmarks.nose
    ex, ey = rx - lx, ry - ly
    eye = math.hypot(ex, ey)
    if eye < 1e-6:
        return 0.0
    mx, my = (lx + rx) / 2, (ly + ry) / 2
    along = ((nx - mx) * ex + (ny - my) * ey) / (eye * eye)
    return float(np.clip(1.0 - abs(along) / PROFILE_OFFSET, 0.0, 1.0))
