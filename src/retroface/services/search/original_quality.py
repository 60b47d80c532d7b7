"""An enhanced probe is gated on the quality of its face in the original evidence.

Why: the quality floor keeps faces too poor to search reliably out of a search
unless the operator records a justification (services/deployment/decision_rule.py).
Matchability was calibrated on unenhanced faces, and enhancement adds no detail:
sharpening a blurred still raises its sharpness part, enlarging a tiny face raises
its size, but not the chance of finding the person (half the enhancements measured
made it worse, docs/probe_preparation.md). Gating the enhanced image would let an
operator walk a poor probe past the floor, and past the warning its candidates
must carry, by enhancing it. So the face searched is measured a second time where
it lies in the original image (media/enhancement_geometry.py carries its box or
marked points back through the steps) and the lower of the two qualities decides.
A face the detector finds only after enhancement scores 0 in the original.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retroface.errors import InvalidInputError
from retroface.faces import AnalysedFace, Box, Detection
from retroface.faces.face_choice import overlap
from retroface.faces.manual_alignment import MANUAL_DETECTOR, ManualMark
from retroface.faces.types import Quality
from retroface.media.enhancement import Step
from retroface.media.enhancement_geometry import (
    box_in_original,
    points_in_original,
    scale_to_original,
)
from retroface.services.app import App

#: The overlap (IoU) at which a face found in the original is the enhanced face's own.
SAME_FACE_IOU = 0.3


def gate_on_original(
    app: App,
    original: NDArray[np.uint8],
    steps: tuple[Step, ...],
    faces: list[AnalysedFace],
    mark: ManualMark | None,
) -> list[AnalysedFace]:
    """``faces`` (analysed in the enhanced image) with the lower of their enhanced and
    original qualities; the parts say which one it was and hold the other's score."""
    size = (int(original.shape[1]), int(original.shape[0]))
    found: list[Detection] | None = None
    out = []
    for face in faces:
        if face.detection.detector == MANUAL_DETECTOR and mark is not None:
            measured = _marked_in_original(app, original, steps, mark, face)
        else:
            if found is None:
                found = app.engine.detect(original)
            measured = _detected_in_original(app, original, steps, size, face, found)
        out.append(replace(face, quality=_lower(face.quality, measured)))
    return out


def _lower(enhanced: Quality, original: Quality) -> Quality:
    if original.overall < enhanced.overall:
        parts = {**original.parts, "enhanced_overall": enhanced.overall, "on_original": 1.0}
        return Quality(overall=original.overall, parts=parts)
    return Quality(
        overall=enhanced.overall, parts={**enhanced.parts, "original_overall": original.overall}
    )


def _detected_in_original(
    app: App,
    original: NDArray[np.uint8],
    steps: tuple[Step, ...],
    size: tuple[int, int],
    face: AnalysedFace,
    found: list[Detection],
) -> Quality:
    box = face.detection.box
    x, y, w, h = box_in_original((box.x, box.y, box.w, box.h), steps, size)
    if w > 0 and h > 0:
        mapped = Box(x, y, w, h)
        best = max(found, key=lambda d: overlap(d.box, mapped), default=None)
        if best is not None and overlap(best.box, mapped) >= SAME_FACE_IOU:
            return app.engine.assess(original, [best])[0].quality
    return _not_found(face, scale_to_original(steps, size))


def _not_found(face: AnalysedFace, scale: float) -> Quality:
    """The original holds no detectable face there: matchability 0, with the size the face
    has in the original so the reasons can name it."""
    parts: dict[str, Any] = dict(face.quality.parts)
    parts["detector"] = 0.0
    if "inter_eye_px" in parts:
        parts["inter_eye_px"] = round(float(parts["inter_eye_px"]) * scale, 2)
        parts["size"] = round(float(parts.get("size", 1.0)) * min(scale, 1.0), 4)
    return Quality(overall=0.0, parts=parts)


def _marked_in_original(
    app: App,
    original: NDArray[np.uint8],
    steps: tuple[Step, ...],
    mark: ManualMark,
    face: AnalysedFace,
) -> Quality:
    size = (int(original.shape[1]), int(original.shape[0]))
    box = mark.box
    x, y, w, h = box_in_original((box.x, box.y, box.w, box.h), steps, size)
    eyes = points_in_original(list(mark.eyes), steps, size)
    nose = points_in_original([mark.nose], steps, size)[0] if mark.nose else None
    mouth = points_in_original(list(mark.mouth), steps, size) if mark.mouth else None
    try:
        moved = ManualMark(
            Box(x, y, w, h),
            (eyes[0], eyes[1]),
            nose=nose,
            mouth=(mouth[0], mouth[1]) if mouth else None,
        )
        return app.engine.analyse_marked(original, moved).quality
    except InvalidInputError:  # the mark falls outside the original or collapses
        return _not_found(face, scale_to_original(steps, size))
