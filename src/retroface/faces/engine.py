"""The face engine: detect → align → assess quality → embed, in one call.

Backends are chosen by name from registries so that a deployment can swap
the detector or plug in a licensed embedder without touching callers, and so
that the choice travels as a small picklable :class:`EngineSpec` to worker
processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from retroface.errors import InvalidInputError
from retroface.faces.aligner import AlignedFace, Aligner
from retroface.faces.detector import Detector
from retroface.faces.embedder import Embedder
from retroface.faces.engine_spec import (
    DEFAULT_THRESHOLD,
    DETECTORS,
    EMBEDDERS,
    DetectorFactory,
    EmbedderFactory,
    EngineSpec,
)
from retroface.faces.jitter import jittered_chips
from retroface.faces.manual_alignment import MANUAL_DETECTOR, ManualMark, manual_chip
from retroface.faces.quality import QualityAssessor
from retroface.faces.stage_clock import StageClock
from retroface.faces.types import AnalysedFace, Box, Detection, ListedFace, ModelInfo

# The spec, the registries and the default threshold live in engine_spec.py (which loads no
# numpy, for settings and the engine description); callers find them here too.
__all__ = [
    "DEFAULT_THRESHOLD",
    "DETECTORS",
    "EMBEDDERS",
    "DetectorFactory",
    "EmbedderFactory",
    "EngineSpec",
    "FaceEngine",
]

_T = TypeVar("_T")


class FaceEngine:
    """Composes the four stages; one instance per process (models are loaded once)."""

    def __init__(
        self,
        detector: Detector,
        aligner: Aligner,
        quality: QualityAssessor,
        embedder: Embedder,
        jitters: int = 1,
        extra_aligners: tuple[Aligner, ...] = (),
        mirror: bool = False,
    ) -> None:
        self.detector = detector
        self.aligner = aligner
        self.quality = quality
        self.embedder = embedder
        self.jitters = max(1, jitters)
        #: Further alignments whose chips join the first's in each face's template.
        self.extra_aligners = extra_aligners
        #: Embed each chip's mirror image too (one more view per chip).
        self.mirror = mirror

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> FaceEngine:
        detector = _lookup(DETECTORS, spec.detector, "detector")(spec)
        embedder = _lookup(EMBEDDERS, spec.embedder, "embedder")(spec)
        if not spec.alignments:
            raise InvalidInputError("at least one alignment (5 or 68 points) is needed")
        aligner, *extra = (Aligner(points) for points in spec.alignments)
        return cls(
            detector,
            aligner,
            QualityAssessor(),
            embedder,
            jitters=spec.jitters,
            extra_aligners=tuple(extra),
            mirror=spec.mirror,
        )

    @property
    def model(self) -> ModelInfo:
        return self.embedder.model

    def analyse(self, pixels: np.ndarray) -> list[AnalysedFace]:
        """Every face in an RGB uint8 image, largest first."""
        return self.analyse_detections(pixels, self.detect(pixels))

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        """Every face's detection in an RGB uint8 image, largest first (the order in which
        faces are listed and numbered for a person to choose one)."""
        return sorted(self.detector.detect(pixels), key=lambda d: -d.box.w * d.box.h)

    def assess(self, pixels: np.ndarray, detections: list[Detection]) -> list[ListedFace]:
        """Landmarks and quality of detected faces, without embedding them: enough for a
        person to choose which face to search (faces not chosen never become templates)."""
        listed = []
        for detection in detections:
            aligned = self.aligner.align(pixels, detection.box)
            quality = self.quality.assess(detection, aligned.landmarks, aligned.chip)
            listed.append(ListedFace(detection, aligned.landmarks, quality))
        return listed

    def analyse_marked(self, pixels: np.ndarray, mark: ManualMark) -> AnalysedFace:
        """A face a person marked by hand (box and eye centres, see manual_alignment.py):
        chips cut from the points given with each alignment's geometry, then embedded as
        a detected face's; recorded with detector ``manual`` and score 0."""
        mark.check(pixels.shape[1], pixels.shape[0])
        chips = [
            manual_chip(pixels, mark, aligner.points)
            for aligner in (self.aligner, *self.extra_aligners)
        ]
        detection = Detection(mark.box, 0.0, MANUAL_DETECTOR)
        landmarks = mark.landmarks()
        return AnalysedFace(
            detection=detection,
            landmarks=landmarks,
            quality=self.quality.assess(detection, landmarks, chips[0]),
            embedding=self.embed_views([chips])[0],
            model=self.model,
            chip=chips[0],
        )

    def embed_chips(
        self, chips: list[np.ndarray], jitters: int | None = None, *, mirror: bool | None = None
    ) -> np.ndarray:
        """Templates for aligned chips, averaged over jittered (and mirrored) copies when
        enabled; ``jitters`` and ``mirror`` override the engine's own for this call."""
        return self.embed_views([[chip] for chip in chips], jitters, mirror=mirror)

    def embed_views(
        self,
        views: list[list[np.ndarray]],
        jitters: int | None = None,
        *,
        mirror: bool | None = None,
    ) -> np.ndarray:
        """One template per face from its chips (one per alignment), each jittered when
        enabled, all averaged: every face must bring the same number of chips."""
        copies = self.jitters if jitters is None else max(1, jitters)
        flip = self.mirror if mirror is None else mirror
        if not views:
            return self.embedder.embed([])
        if copies == 1 and len(views[0]) == 1 and not flip:
            return self.embedder.embed([chips[0] for chips in views])
        batch = [
            variant
            for chips in views
            for chip in chips
            for variant in (
                *jittered_chips(chip, copies),
                *([np.ascontiguousarray(chip[:, ::-1])] if flip else []),
            )
        ]
        return _fused(self.embedder.embed(batch), len(views)).astype(np.float32)

    def _chips_per_face(
        self, pixels: np.ndarray, detections: list[Detection], aligned: list[AlignedFace]
    ) -> list[list[np.ndarray]]:
        """Each face's chips: the first alignment's, then each further alignment's."""
        return [
            [a.chip, *(extra.align(pixels, d.box).chip for extra in self.extra_aligners)]
            for d, a in zip(detections, aligned, strict=True)
        ]

    def analyse_box(self, pixels: np.ndarray, box: Box) -> AnalysedFace:
        """A face at a box a person (or a dataset's protocol) supplies, skipping detection.

        Investigators draw boxes around faces the detector misses; the
        detector score of such a face is recorded as 0.
        """
        return self.analyse_detections(pixels, [Detection(box, 0.0, MANUAL_DETECTOR)])[0]

    def analyse_many(
        self, images: list[np.ndarray], detections: list[list[Detection]] | None = None
    ) -> list[list[AnalysedFace]]:
        """Every face in each of several images, with one embedding run for all of them;
        or, given ``detections`` (one list per image), only those faces.

        Why: the embedder costs less per face in a batch (ONNX Runtime: 5.2 ms a
        face in 16s against 6.6 ms one at a time), and LFW-like photos hold one
        face each, so batching across images is the only way to fill a batch.
        """
        found = [self.detect(pixels) for pixels in images] if detections is None else detections
        aligned = [
            [self.aligner.align(pixels, d.box) for d in in_image]
            for pixels, in_image in zip(images, found, strict=True)
        ]
        views = [
            view
            for pixels, in_image, faces in zip(images, found, aligned, strict=True)
            for view in self._chips_per_face(pixels, in_image, faces)
        ]
        embeddings = self.embed_views(views)
        results: list[list[AnalysedFace]] = []
        start = 0
        for in_image, faces in zip(found, aligned, strict=True):
            results.append(self._faces(in_image, faces, embeddings[start : start + len(faces)]))
            start += len(faces)
        return results

    def analyse_detections(
        self,
        pixels: np.ndarray,
        detections: list[Detection],
        clock: StageClock | None = None,
        known: Sequence[np.ndarray | None] | None = None,
    ) -> list[AnalysedFace]:
        """Align, assess and embed the given detections; ``clock`` (footage) is told the
        time spent on landmarks and chips, and on embedding. ``known`` (footage: a face
        re-found where its track was) gives some detections a template already: only the
        others are embedded."""
        if not detections:
            return []
        clock = clock or StageClock()
        with clock.stage("landmark"):
            aligned = [self.aligner.align(pixels, d.box) for d in detections]
            views = self._chips_per_face(pixels, detections, aligned)
        with clock.stage("embed"):
            if known is None or all(k is None for k in known):
                embeddings = self.embed_views(views)
            else:
                todo = [i for i, k in enumerate(known) if k is None]
                fresh = dict(zip(todo, self.embed_views([views[i] for i in todo]), strict=True))
                embeddings = np.stack(
                    [fresh[i] if k is None else k for i, k in enumerate(known)]
                ).astype(np.float32)
        with clock.stage("landmark"):
            return self._faces(detections, aligned, embeddings)

    def _faces(
        self, detections: list[Detection], aligned: list[AlignedFace], embeddings: np.ndarray
    ) -> list[AnalysedFace]:
        return [
            AnalysedFace(
                detection=d,
                landmarks=a.landmarks,
                quality=self.quality.assess(d, a.landmarks, a.chip),
                embedding=embeddings[i],
                model=self.model,
                chip=a.chip,
            )
            for i, (d, a) in enumerate(zip(detections, aligned, strict=True))
        ]


def _fused(vectors: NDArray[np.float32], groups: int) -> NDArray[np.floating]:
    """Average each run of ``len(vectors) // groups`` unit vectors and re-normalise."""
    mean = vectors.reshape(groups, -1, vectors.shape[1]).mean(axis=1)
    fused: NDArray[np.floating] = mean / np.maximum(
        np.linalg.norm(mean, axis=1, keepdims=True), 1e-12
    )
    return fused


def _lookup(registry: dict[str, _T], name: str, kind: str) -> _T:
    key = name.split(":", 1)[0]
    if key not in registry:
        raise InvalidInputError(
            f"unknown {kind} {name!r} (available: {', '.join(sorted(registry))})"
        )
    return registry[key]
