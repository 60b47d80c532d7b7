"""Plain value types that flow out of the face engine (no dlib objects leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Box:
    """Pixel box in the original (oriented) image: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Detection:
    """A face found by a detector; ``score`` is the detector's own confidence scale."""

    box: Box
    score: float
    detector: str


@dataclass(frozen=True)
class Landmarks:
    """Five points (x, y) in image pixels: two corners of each eye, then the nose base."""

    points: tuple[tuple[float, float], ...]

    @property
    def eye_centres(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = self.points[:4]
        return ((ax + bx) / 2, (ay + by) / 2), ((cx + dx) / 2, (cy + dy) / 2)

    @property
    def nose(self) -> tuple[float, float]:
        return self.points[4]

    def as_list(self) -> list[list[float]]:
        return [[round(x, 2), round(y, 2)] for x, y in self.points]


@dataclass(frozen=True)
class Quality:
    """One 0..1 quality plus the parts it was made from, so a reviewer can see why."""

    overall: float
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    """Identifies the model that produced a template, stored with every template and search."""

    name: str
    version: str
    dimension: int

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class AnalysedFace:
    """Everything the engine learned about one face in one image."""

    detection: Detection
    landmarks: Landmarks
    quality: Quality
    embedding: NDArray[np.float32]  # (dimension,), float32, L2-normalised
    model: ModelInfo
    #: The aligned chip the embedding came from; callers that keep faces drop it (memory).
    chip: NDArray[np.uint8] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ListedFace:
    """A detected face as listed for a person to choose from: no template was made of it."""

    detection: Detection
    landmarks: Landmarks
    quality: Quality
