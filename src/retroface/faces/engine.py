"""The face engine: detect → align → assess quality → embed, in one call.

Backends are chosen by name from registries so that a deployment can swap
the detector or plug in a licensed embedder without touching callers, and so
that the choice travels as a small picklable :class:`EngineSpec` to worker
processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from retroface.errors import InvalidInputError
from retroface.faces.aligner import Aligner
from retroface.faces.detector import Detector, HogDetector
from retroface.faces.embedder import DlibResNetEmbedder, Embedder
from retroface.faces.quality import QualityAssessor
from retroface.faces.types import AnalysedFace, Box, Detection, ModelInfo


@dataclass(frozen=True)
class EngineSpec:
    """Which backends to build, with their tunables; cheap to pickle to workers."""

    detector: str = "hog"
    embedder: str = "dlib"
    min_face_px: int = 40
    max_detect_pixels: int = 9_000_000


DetectorFactory = Callable[[EngineSpec], Detector]
EmbedderFactory = Callable[[EngineSpec], Embedder]

DETECTORS: dict[str, DetectorFactory] = {
    "hog": lambda spec: HogDetector(spec.min_face_px, spec.max_detect_pixels),
}
EMBEDDERS: dict[str, EmbedderFactory] = {
    "dlib": lambda spec: DlibResNetEmbedder(),
}


_T = TypeVar("_T")


class FaceEngine:
    """Composes the four stages; one instance per process (models are loaded once)."""

    def __init__(
        self,
        detector: Detector,
        aligner: Aligner,
        quality: QualityAssessor,
        embedder: Embedder,
    ) -> None:
        self.detector = detector
        self.aligner = aligner
        self.quality = quality
        self.embedder = embedder

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> FaceEngine:
        detector = _lookup(DETECTORS, spec.detector, "detector")(spec)
        embedder = _lookup(EMBEDDERS, spec.embedder, "embedder")(spec)
        return cls(detector, Aligner(), QualityAssessor(), embedder)

    @property
    def model(self) -> ModelInfo:
        return self.embedder.model

    def analyse(self, pixels: np.ndarray) -> list[AnalysedFace]:
        """Every face in an RGB uint8 image, largest first."""
        detections = sorted(self.detector.detect(pixels), key=lambda d: -d.box.w * d.box.h)
        return self.analyse_detections(pixels, detections)

    def analyse_box(self, pixels: np.ndarray, box: Box) -> AnalysedFace:
        """A face at a box a person (or a dataset's protocol) supplies, skipping detection.

        Investigators draw boxes around faces the detector misses; the
        detector score of such a face is recorded as 0.
        """
        return self.analyse_detections(pixels, [Detection(box, 0.0, "manual")])[0]

    def analyse_detections(
        self, pixels: np.ndarray, detections: list[Detection]
    ) -> list[AnalysedFace]:
        if not detections:
            return []
        aligned = [self.aligner.align(pixels, d.box) for d in detections]
        embeddings = self.embedder.embed([a.chip for a in aligned])
        return [
            AnalysedFace(
                detection=d,
                landmarks=a.landmarks,
                quality=self.quality.assess(d, a.landmarks, a.chip),
                embedding=embeddings[i],
                model=self.model,
            )
            for i, (d, a) in enumerate(zip(detections, aligned, strict=True))
        ]


def _lookup(registry: dict[str, _T], name: str, kind: str) -> _T:
    key = name.split(":", 1)[0]
    if key not in registry:
        raise InvalidInputError(
            f"unknown {kind} {name!r} (available: {', '.join(sorted(registry))})"
        )
    return registry[key]
