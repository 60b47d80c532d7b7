"""Make and analyse the degraded copies of one probe photo, inside a worker process.

The clean photo's face (the largest) fixes where the face is and how large;
each degradation is applied to the whole image and the degraded image goes
through the full engine, detection included, because a face the detector
no longer finds is a miss an investigator would suffer too. Pixels never
leave the worker: only templates and quality figures come back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.errors import RetrofaceError
from retroface.faces.engine import FaceEngine
from retroface.faces.face_choice import overlap as box_overlap
from retroface.faces.quality import inter_eye_px
from retroface.faces.types import AnalysedFace, Box
from retroface.media import MediaLimits, load_image
from retroface.media.degrade import Degradation, degrade

CLEAN = "clean"


@dataclass
class ProbeView:
    """One version of a probe (clean or degraded): its template, or None if no face was found."""

    condition: str
    template: NDArray[np.float32] | None
    quality: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)


@dataclass
class DegradedProbe:
    path: Path
    views: list[ProbeView]
    error: str | None = None


@dataclass(frozen=True)
class ProbeTask:
    path: Path
    degradations: tuple[Degradation, ...]


def analyse_degraded(engine: FaceEngine, task: ProbeTask) -> DegradedProbe:
    """The clean view and one view per degradation of ``task.path``'s largest face."""
    try:
        pixels = load_image(task.path, MediaLimits()).pixels
    except RetrofaceError as exc:
        return DegradedProbe(task.path, [], error=str(exc))
    faces = engine.analyse(pixels)
    if not faces:
        return DegradedProbe(task.path, [ProbeView(CLEAN, None)])
    clean = faces[0]
    views = [_view(CLEAN, clean)]
    eyes = inter_eye_px(clean.landmarks)
    seed = int.from_bytes(hashlib.sha256(task.path.name.encode()).digest()[:4], "big")
    for degradation in task.degradations:
        degraded = degrade(pixels, degradation, inter_eye_px=eyes, seed=seed)
        found = _same_face(engine.analyse(degraded), clean.detection.box)
        views.append(_view(degradation.name, found) if found else ProbeView(degradation.name, None))
    return DegradedProbe(task.path, views)


def _view(condition: str, face: AnalysedFace) -> ProbeView:
    return ProbeView(condition, face.embedding, face.quality.overall, dict(face.quality.parts))


def _same_face(faces: list[AnalysedFace], box: Box) -> AnalysedFace | None:
    """The detected face that overlaps the clean face most (another face is not a hit)."""
    best, best_overlap = None, 0.3
    for face in faces:
        overlap = box_overlap(face.detection.box, box)
        if overlap >= best_overlap:
            best, best_overlap = face, overlap
    return best
