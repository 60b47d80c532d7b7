"""Five-point landmarks and the aligned chip the embedder expects.

The chip is dlib's 150x150 face chip with 0.25 padding: the exact
geometry the ResNet was trained on, so any other embedder backend that
reuses dlib's weights must receive the same chip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retroface.faces.model_files import LANDMARKS_5_FILE, packaged_model_path
from retroface.faces.types import Box, Landmarks

CHIP_SIZE_PX = 150
CHIP_PADDING = 0.25


@dataclass
class AlignedFace:
    landmarks: Landmarks
    chip: np.ndarray  # CHIP_SIZE_PX x CHIP_SIZE_PX x 3 uint8 RGB


class Aligner:
    """dlib's 5-point shape predictor followed by a similarity-transform crop."""

    name = "dlib_5point"

    def __init__(self, model_path: Path | None = None) -> None:
        import dlib

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(
            str(model_path or packaged_model_path(LANDMARKS_5_FILE))
        )

    def align(self, pixels: np.ndarray, box: Box) -> AlignedFace:
        rect = self._dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        shape = self._predictor(pixels, rect)
        points = tuple((float(p.x), float(p.y)) for p in shape.parts())
        chip = self._dlib.get_face_chip(pixels, shape, size=CHIP_SIZE_PX, padding=CHIP_PADDING)
        return AlignedFace(landmarks=Landmarks(points), chip=np.ascontiguousarray(chip))
