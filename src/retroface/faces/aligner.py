"""Five-point landmarks and the aligned chip the embedder expects.

The chip is dlib's 150x150 face chip with 0.25 padding: the exact
geometry the ResNet was trained on, so any other embedder backend that
reuses dlib's weights must receive the same chip.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.faces.model_files import LANDMARKS_5_FILE, LANDMARKS_68_FILE, packaged_model_path
from retroface.faces.types import Box, Landmarks

CHIP_SIZE_PX = 150
CHIP_PADDING = 0.25


@dataclass
class AlignedFace:
    landmarks: Landmarks
    chip: NDArray[np.uint8]  # CHIP_SIZE_PX x CHIP_SIZE_PX x 3 uint8 RGB


#: The 68-point points that correspond to the 5-point model's (eye corners, nose base).
_FIVE_OF_68 = (36, 39, 42, 45, 33)


class Aligner:
    """dlib's shape predictor (5 points by default, or 68) then a similarity-transform crop."""

    def __init__(self, points: int = 5, model_path: Path | None = None) -> None:
        import dlib  # noqa: PLC0415 - dlib (and its models) load only when this backend is used

        if points not in (5, 68):
            raise ValueError("the aligner uses dlib's 5- or 68-point shape predictor")
        self._dlib = dlib
        self.points = points
        self.name = f"dlib_{points}point"
        default = LANDMARKS_5_FILE if points == 5 else LANDMARKS_68_FILE
        self._predictor = dlib.shape_predictor(str(model_path or packaged_model_path(default)))
        self._lock = threading.Lock()  # one call at a time in the model (faces/detector.py)

    def align(self, pixels: NDArray[np.uint8], box: Box) -> AlignedFace:
        rect = self._dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        with self._lock:
            shape = self._predictor(pixels, rect)
        parts = shape.parts()
        if self.points == 68:
            parts = [parts[i] for i in _FIVE_OF_68]
        points = tuple((float(p.x), float(p.y)) for p in parts)
        chip = self._dlib.get_face_chip(pixels, shape, size=CHIP_SIZE_PX, padding=CHIP_PADDING)
        return AlignedFace(landmarks=Landmarks(points), chip=np.ascontiguousarray(chip))
