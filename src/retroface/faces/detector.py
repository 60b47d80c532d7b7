"""Face detectors behind one protocol; dlib's HOG detector is the default.

Why the upsampling policy: dlib's HOG window is 80 px, so a face smaller
than that is only found after the image is doubled (once per halving of the
smallest face). Doubling costs 4x the pixels, so we upsample only as far as
``min_face_px`` needs and only while the work stays under
``max_detect_pixels``; very large photos are instead shrunk so detection time
stays bounded. Faces that fill the whole frame (ID photos, mugshots, tight
crops) defeat a sliding window that needs context around the face, so when
nothing is found we look once more on an edge-padded copy.

Why a coarse pass first on small portraits: the doubled image costs four times
the pixels, and most of a still's detection time (27 of 76 ms a 250x250 LFW
image on one core, against 7 ms without upsampling). A small picture (up to
``COARSE_FIRST_MAX_PIXELS``) in which HOG already finds, without upsampling, a
face at least a third of the picture's shorter side is a portrait or a crop:
the upsampled pass, which is only there for faces of 40-80 px, then runs only
if that coarse pass finds nothing or only faces small for the picture.

Why every dlib model is called under its own lock: dlib's HOG detector releases
the GIL while it runs, yet keeps its working state (the scanner's feature
pyramid) inside the object. Two threads in one detector corrupt each other's
work; a server enrolling while a search job ran crashed with a segfault that
way (tests/faces/test_threads.py crashes without the lock). The CNN, the shape
predictors and the ResNet (dlib-bin 20.0.1) hold the GIL, so Python already runs
them one at a time; they are locked too, so a dlib that released it would not
bring the crash back. A lock per object costs nothing uncontended, and separate
objects (the engine's worker processes) still run in parallel.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.faces.model_files import MMOD_FILE, packaged_model_path
from retroface.faces.types import Box, Detection

HOG_WINDOW_PX = 80
_PAD_FRACTION = 0.25
#: Largest picture (pixels) the coarse-first pass applies to: VGA. Beyond it a face of
#: 80 px or more says little about whether smaller ones stand behind it (a group photo,
#: a street scene), and a missed bystander costs more than the upsampled pass.
COARSE_FIRST_MAX_PIXELS = 640 * 480
#: A coarse-pass face at least this fraction of the shorter side makes the picture a
#: portrait or a crop (LFW's 250x250 images: HOG boxes of 88-180 px, 0.35-0.72). Smaller
#: coarse finds (LFW: 20 of 7,701 images, boxes of 61-75 px) include bystanders found
#: while the portrait's own face was missed (a 75 px face at the edge of Vecdi_Gonul_0001):
#: those pictures get the upsampled pass.
COARSE_FIRST_FACE_FRACTION = 1 / 3


class Detector(Protocol):
    """Finds faces in an RGB uint8 image."""

    name: str

    def detect(self, pixels: NDArray[np.uint8]) -> list[Detection]: ...


class HogDetector:
    """dlib's frontal HOG + linear SVM detector: fast on a CPU, frontal faces only."""

    name = "dlib_hog"

    def __init__(
        self,
        min_face_px: int = 40,
        max_detect_pixels: int = 9_000_000,
        *,
        coarse_first: bool = False,
    ) -> None:
        """``coarse_first``: on pictures up to ``COARSE_FIRST_MAX_PIXELS``, look without
        upsampling first and keep what it finds when it is a portrait's face (module doc)."""
        import dlib  # noqa: PLC0415 - dlib (and its models) load only when this backend is used

        self._detector = dlib.get_frontal_face_detector()
        self._lock = threading.Lock()  # one call at a time in the model (module doc)
        self.min_face_px = max(10, min_face_px)
        self.max_detect_pixels = max_detect_pixels
        self.coarse_first = coarse_first

    def plan(self, height: int, width: int) -> tuple[int, float]:
        """Choose (upsample count, resize factor) for an image of this size.

        A zoom that is a power of two uses dlib's own upsampling (what stills
        have always used); any other zoom (a ``min_face_px`` of 56 wants 1.43x)
        resizes the image once instead, which costs the square of the zoom in
        pixels rather than the next power of four.
        """
        zoom = HOG_WINDOW_PX / self.min_face_px
        pixels = height * width
        if zoom > 1.0 and not math.log2(zoom).is_integer():
            zoom = min(zoom, math.sqrt(self.max_detect_pixels / pixels))
            if zoom > 1.0:
                return 0, zoom
        wanted = max(0, math.ceil(math.log2(zoom)))
        upsample = wanted
        while upsample > 0 and pixels * 4**upsample > self.max_detect_pixels:
            upsample -= 1
        scale = 1.0
        if upsample == 0 and pixels > self.max_detect_pixels:
            scale = math.sqrt(self.max_detect_pixels / pixels)
        return upsample, scale

    def detect(self, pixels: NDArray[np.uint8]) -> list[Detection]:
        height, width = pixels.shape[:2]
        upsample, scale = self.plan(height, width)
        if self.coarse_first and upsample > 0 and height * width <= COARSE_FIRST_MAX_PIXELS:
            coarse = self._run(pixels, 0, offset=0)
            if any(box.w >= COARSE_FIRST_FACE_FRACTION * min(height, width) for box, _ in coarse):
                return [
                    Detection(box=_clip(box, 1.0, width, height), score=score, detector=self.name)
                    for box, score in coarse
                ]
        work = _resize(pixels, scale) if scale != 1.0 else pixels
        found = self._run(work, upsample, offset=0)
        if not found:
            pad = round(max(work.shape[:2]) * _PAD_FRACTION)
            padded = np.pad(work, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            pad_up, _ = self.plan(*padded.shape[:2])
            found = self._run(padded, min(pad_up, upsample), offset=pad)
        return [
            Detection(box=_clip(box, scale, width, height), score=score, detector=self.name)
            for box, score in found
        ]

    def _run(self, image: NDArray[np.uint8], upsample: int, offset: int) -> list[tuple[Box, float]]:
        with self._lock:
            rects, scores, _ = self._detector.run(image, upsample, 0.0)
        return [
            (Box(r.left() - offset, r.top() - offset, r.width(), r.height()), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]


def _resize(pixels: NDArray[np.uint8], scale: float) -> NDArray[np.uint8]:
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def _clip(box: Box, scale: float, width: int, height: int) -> Box:
    """Map a box back to original pixels and clip it to the image."""
    x0 = max(0, round(box.x / scale))
    y0 = max(0, round(box.y / scale))
    x1 = min(width, round((box.x + box.w) / scale))
    y1 = min(height, round((box.y + box.h) / scale))
    return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


class RegionDetector:
    """Re-finds a tracked face in a small region, scaled so the face is ~100 px.

    Why: between full-frame scans a tracker only needs to re-find faces it
    already follows. Scaling each region so its face suits HOG's 80 px
    window replaces a 2x upsampling and the padded retry. Where HOG misses
    (a face turning or looking down), the optional ``fallback`` (the CNN)
    looks only close around where the face was (half a face each side, not
    the whole region HOG searched), and its pyramid need only span faces of
    about the tracked size: footage spends more time here than anywhere but
    the full scans, and this is a fifth of a CNN pass over the whole region.
    """

    name = "dlib_hog_region"
    FACE_PX = 100
    FALLBACK_MARGIN = 0.5

    def __init__(self, fallback: Detector | None = None) -> None:
        import dlib  # noqa: PLC0415 - dlib (and its models) load only when this backend is used

        self._detector = dlib.get_frontal_face_detector()
        self._lock = threading.Lock()  # one call at a time in the model (module doc)
        self.fallback = fallback

    def detect(self, region: NDArray[np.uint8], face: Box) -> list[Detection]:
        """Faces in ``region`` where the tracked ``face`` (region pixels) was last seen."""
        height, width = region.shape[:2]
        scale = min(4.0, self.FACE_PX / max(face.w, face.h, 1))
        work = np.ascontiguousarray(_resize(region, scale) if abs(scale - 1.0) > 0.05 else region)
        with self._lock:
            rects, scores, _ = self._detector.run(work, 0, 0.0)
        found = [
            Detection(Box(r.left(), r.top(), r.width(), r.height()), float(score), self.name)
            for r, score in zip(rects, scores, strict=True)
        ]
        if not found and self.fallback is not None:
            found = self._fallback(work, face, scale)
        return [Detection(_clip(d.box, scale, width, height), d.score, d.detector) for d in found]

    def _fallback(self, work: NDArray[np.uint8], face: Box, scale: float) -> list[Detection]:
        assert self.fallback is not None
        margin = self.FALLBACK_MARGIN * max(face.w, face.h)
        x0 = max(0, round((face.x - margin) * scale))
        y0 = max(0, round((face.y - margin) * scale))
        x1 = min(work.shape[1], round((face.x + face.w + margin) * scale))
        y1 = min(work.shape[0], round((face.y + face.h + margin) * scale))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        near = np.ascontiguousarray(work[y0:y1, x0:x1])
        return [
            Detection(Box(d.box.x + x0, d.box.y + y0, d.box.w, d.box.h), d.score, d.detector)
            for d in self.fallback.detect(near)
        ]


class CnnDetector:
    """dlib's MMOD CNN detector: finds smaller, rotated and partly turned faces HOG misses.

    Without BLAS it costs seconds per image, so it upsamples only while the
    work stays under ``max_detect_pixels`` and otherwise shrinks the image.
    """

    name = "dlib_mmod_cnn"

    def __init__(self, max_detect_pixels: int = 1_500_000) -> None:
        import dlib  # noqa: PLC0415 - dlib (and its models) load only when this backend is used

        self._detector = dlib.cnn_face_detection_model_v1(str(packaged_model_path(MMOD_FILE)))
        self._lock = threading.Lock()  # one call at a time in the model (module doc)
        self.max_detect_pixels = max_detect_pixels

    def detect(self, pixels: NDArray[np.uint8]) -> list[Detection]:
        height, width = pixels.shape[:2]
        upsample = 1 if height * width * 4 <= self.max_detect_pixels else 0
        scale = 1.0
        if upsample == 0 and height * width > self.max_detect_pixels:
            scale = math.sqrt(self.max_detect_pixels / (height * width))
        work = _resize(pixels, scale) if scale < 1.0 else pixels
        with self._lock:
            found = self._detector(work, upsample)
        return [
            Detection(
                box=_clip(
                    Box(d.rect.left(), d.rect.top(), d.rect.width(), d.rect.height()),
                    scale,
                    width,
                    height,
                ),
                score=float(d.confidence),
                detector=self.name,
            )
            for d in found
        ]


class CascadeDetector:
    """HOG first (fast); the CNN only for images where HOG finds no face at all.

    Most evidence photos contain a frontal face HOG finds in milliseconds;
    the few where it finds nothing (profile, tilt, low light) get the
    slower, stronger detector instead of being reported as faceless.
    """

    name = "cascade"

    def __init__(self, first: Detector, fallback: Detector | Callable[[], Detector]) -> None:
        """``fallback`` may be a factory: the CNN then loads only when first needed (a worker
        analysing ordinary photos never pays its ~0.5 s start-up)."""
        self.first = first
        self._fallback = fallback

    @property
    def fallback(self) -> Detector:
        if callable(self._fallback) and not hasattr(self._fallback, "detect"):
            self._fallback = self._fallback()
        return self._fallback  # type: ignore[return-value]

    def detect(self, pixels: NDArray[np.uint8]) -> list[Detection]:
        return self.first.detect(pixels) or self.fallback.detect(pixels)
