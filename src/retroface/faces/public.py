"""Face biometrics as plain functions, in the spirit of face_recognition's ``api.py``.

No governance and no storage: load a photo, find its faces, make their
templates and compare two templates. Nothing is audited or kept, so these
are for research, testing and building tools; searching people against a
watchlist goes through a deployment (:class:`retroface.scripting.Deployment`),
where every rule is enforced::

    import retroface

    image = retroface.load_image("obama.jpg")
    known = retroface.face_templates(image)[0]
    other = retroface.face_templates(retroface.load_image("unknown.jpg"))[0]
    retroface.compare(known, other) >= retroface.DEFAULT_THRESHOLD  # probably the same person

Templates come from the default engine, ``EngineSpec()`` (HOG detection with
the CNN where HOG finds nobody, dlib's ResNet, 5- and 68-point alignments,
10 jittered copies of each chip): the configuration :data:`DEFAULT_THRESHOLD`
was measured with. It is built on first use (about a second; the models are
packaged, nothing is downloaded) and shared by every call in the process.
Pass ``engine=`` to use another :class:`FaceEngine`; its templates are then
comparable only with each other, and the threshold must be measured for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.errors import InvalidInputError
from retroface.faces.engine import FaceEngine
from retroface.faces.engine_spec import DEFAULT_THRESHOLD, EngineSpec
from retroface.faces.types import Box, Detection, Landmarks, Quality
from retroface.media import image_loader

__all__ = [
    "DEFAULT_THRESHOLD",
    "FoundFace",
    "compare",
    "default_engine",
    "face_templates",
    "find_faces",
    "load_image",
]

_default: list[FaceEngine] = []
_default_lock = threading.Lock()


@dataclass(frozen=True)
class FoundFace:
    """One face :func:`find_faces` found: where it is and how usable it is."""

    #: Pixel box in the image as loaded (EXIF orientation applied): x, y, width, height.
    box: Box
    #: Five points (x, y) in image pixels: the two corners of each eye, then the base of
    #: the nose (a 68-point alignment gives the same five of its points).
    landmarks: Landmarks
    #: 0..1, higher is better (size, sharpness, frontalness, detector confidence), with the
    #: parts it was made from; a score to sort or filter faces by, not a probability.
    quality: Quality
    #: The detector's own confidence, on its own scale (not comparable between detectors).
    detector_score: float
    #: Which detector found the face (``hog``, ``cnn``...).
    detector: str


def load_image(path: str | PathLike[str]) -> NDArray[np.uint8]:
    """The photo at ``path`` as RGB pixels, turned upright as its EXIF orientation says.

    Returns an array of shape (height, width, 3), dtype uint8, C-contiguous. Any
    format Pillow reads that evidence comes in (JPEG, PNG, GIF, WebP, BMP, TIFF,
    PPM/PGM, and HEIC/AVIF where the plug-in is installed); 16-bit and
    transparent images are converted to 8-bit RGB on white.

    Raises :class:`~retroface.errors.MediaError` for a missing, unreadable,
    corrupt or unsupported file, and its subclass
    :class:`~retroface.errors.MediaTooLargeError` for one over 200 MB or
    100 megapixels (a possible decompression bomb).
    """
    return image_loader.load_image(Path(path)).pixels


def default_engine() -> FaceEngine:
    """The process's engine built from ``EngineSpec()``, made on first call, then reused.

    Raises :class:`~retroface.errors.ModelError` if a packaged model file is
    missing or unreadable.
    """
    with _default_lock:
        if not _default:
            _default.append(FaceEngine.from_spec(EngineSpec()))
        return _default[0]


def find_faces(image: NDArray[np.uint8], *, engine: FaceEngine | None = None) -> list[FoundFace]:
    """Every face in ``image``, largest first, with its box, landmarks and quality.

    ``image`` is RGB pixels of shape (height, width, 3), dtype uint8, as
    :func:`load_image` returns. Faces smaller than the engine's smallest face
    (about 40 px across for the default engine) are not looked for. No
    template is made, so this costs a fraction of :func:`face_templates`.

    Raises :class:`~retroface.errors.InvalidInputError` when ``image`` is not
    such an array.
    """
    pixels = _checked_pixels(image)
    engine = engine or default_engine()
    faces: list[FoundFace] = []
    for detection in _largest_first(engine.detector.detect(pixels)):
        aligned = engine.aligner.align(pixels, detection.box)
        faces.append(
            FoundFace(
                box=detection.box,
                landmarks=aligned.landmarks,
                quality=engine.quality.assess(detection, aligned.landmarks, aligned.chip),
                detector_score=detection.score,
                detector=detection.detector,
            )
        )
    return faces


def face_templates(
    image: NDArray[np.uint8],
    *,
    faces: Sequence[FoundFace] | None = None,
    engine: FaceEngine | None = None,
) -> list[NDArray[np.float32]]:
    """One template per face in ``image``, largest face first (the order of :func:`find_faces`).

    ``image``: RGB pixels of shape (height, width, 3), dtype uint8. ``faces``:
    the faces to make templates of (from :func:`find_faces` on the same image),
    so that a face is not detected twice; None finds them. Each template is
    an array of shape (128,) for the default engine (``engine.model.dimension``
    in general), dtype float32, of unit length (L2-normalised); compare two
    with :func:`compare`. An image without a face gives an empty list.

    Raises :class:`~retroface.errors.InvalidInputError` when ``image`` is not
    such an array.
    """
    pixels = _checked_pixels(image)
    engine = engine or default_engine()
    if faces is None:
        analysed = engine.analyse(pixels)
    else:
        detections = [Detection(f.box, f.detector_score, f.detector) for f in faces]
        analysed = engine.analyse_detections(pixels, detections)
    return [np.asarray(face.embedding, dtype=np.float32) for face in analysed]


def compare(template_a: NDArray[np.floating], template_b: NDArray[np.floating]) -> float:
    """The cosine similarity of two templates: -1..1, higher is more alike.

    This is the score :data:`DEFAULT_THRESHOLD` (and a deployment's threshold)
    applies to: at or above it, the two faces are probably the same person;
    an investigative lead for a trained person to check, never an
    identification. Templates must come from the same engine; both are 1-D
    arrays of the same length (128 for the default engine).

    Raises :class:`~retroface.errors.InvalidInputError` for arrays of other
    shapes, of different lengths, of zero length or holding NaN or infinity.
    """
    a = np.asarray(template_a, dtype=np.float64)
    b = np.asarray(template_b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise InvalidInputError(
            f"compare needs two 1-D templates of the same length, got shapes {a.shape} "
            f"and {b.shape}"
        )
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if not np.isfinite(norms) or norms == 0.0:
        raise InvalidInputError("a template is all zeros or holds NaN or infinity")
    return float(np.dot(a, b) / norms)


def _checked_pixels(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = getattr(image, "dtype", type(image).__name__)
        raise InvalidInputError(
            f"an image is an RGB uint8 array of shape (height, width, 3), as load_image "
            f"returns; got {kind}"
        )
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidInputError(
            f"an image is an RGB uint8 array of shape (height, width, 3), as load_image "
            f"returns; got shape {image.shape}"
        )
    return np.ascontiguousarray(image)


def _largest_first(detections: list[Detection]) -> list[Detection]:
    """The order :meth:`FaceEngine.analyse` gives faces in."""
    return sorted(detections, key=lambda d: -d.box.w * d.box.h)
