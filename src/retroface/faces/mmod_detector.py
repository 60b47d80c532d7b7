"""The ``cnn-onnx`` detector: dlib's MMOD CNN in ONNX Runtime, with a pyramid chosen for CCTV.

With ``scale=1, level_step=1`` it returns dlib's own detections (same
boxes, scores within float rounding; the tests check this against dlib) about
12x faster than dlib on one core. The CCTV settings trade some of that for
smaller faces. The MMOD window is 80x80 px and the pyramid only shrinks, so a
face under about 70 px is never found unless the image is first enlarged, and
enlarging costs the square of the factor. Measured on the 105 frames of
``covent_garden_crowd.mp4`` (1080p; bench/detector.py), keeping every other
pyramid level (``level_step=2``) still finds every face dlib finds, in 60% of
the time, and spending that saving on enlarging the frame 1.2x finds about a
third more faces (down to ~55 px) at about dlib's exact cost. Enlarging 1.41x
lost some of dlib's faces. So ``CCTV_SCALE`` and ``CCTV_LEVEL_STEP`` are the
defaults of the registered ``cnn-onnx`` backend. The enlarged image is kept
under ``max_detect_pixels``; boxes are mapped back to the original pixels.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.faces.mmod_onnx import (
    PLANE_NAME,
    MmodNetwork,
    OnnxResizer,
    build_mmod_onnx,
    mmod_session,
    read_mmod_network,
)
from retroface.faces.mmod_pyramid import PyramidLayout, build_plane, pyramid_layout
from retroface.faces.types import Box, Detection

CCTV_SCALE = 1.2
CCTV_LEVEL_STEP = 2

# A detection as dlib's inclusive integer rectangle in image pixels, with its score.
RawDetection = tuple[int, int, int, int, float]


def _lround(value: float) -> int:
    """C's ``lround``: halves away from zero (how dlib turns a drectangle into a rectangle)."""
    return math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)


def score_map_detections(
    scores: NDArray[np.float32], layout: PyramidLayout, network: MmodNetwork, threshold: float = 0.0
) -> list[RawDetection]:
    """Every window scoring above ``threshold`` in a (rows, cols) score map, best first."""
    rows, cols = np.nonzero(scores > threshold)
    values = scores[rows, cols].astype(np.float64)
    xs, ys = network.output_to_plane(cols, rows)
    width, height = network.loss.windows[0]
    half_w, half_h = (width - 1) / 2, (height - 1) / 2
    found: list[RawDetection] = []
    for x, y, value in zip(xs.tolist(), ys.tolist(), values.tolist(), strict=True):
        level = layout.level_of(x, y)
        left, top = layout.to_image(x - half_w, y - half_h, level)
        right, bottom = layout.to_image(x + half_w, y + half_h, level)
        found.append((_lround(left), _lround(top), _lround(right), _lround(bottom), value))
    found.sort(key=lambda d: -d[4])
    return found


def _overlaps(a: RawDetection, b: RawDetection, iou: float, covered: float) -> bool:
    """dlib's ``test_box_overlap`` on inclusive rectangles (union = bounding rectangle)."""
    inner_w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    inner_h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if inner_w <= 0 or inner_h <= 0:
        return False
    inner = inner_w * inner_h
    outer = (max(a[2], b[2]) - min(a[0], b[0]) + 1) * (max(a[3], b[3]) - min(a[1], b[1]) + 1)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inner / outer > iou or inner / area_a > covered or inner / area_b > covered


def non_max_suppression(
    ranked: list[RawDetection], iou: float, covered: float
) -> list[RawDetection]:
    """Keep detections best first, dropping any that overlaps one already kept."""
    kept: list[RawDetection] = []
    for det in ranked:
        if not any(_overlaps(k, det, iou, covered) for k in kept):
            kept.append(det)
    return kept


#: Below this many pixels on a side the network has nothing to look at (and its
#: convolutions would run out of input); far below the smallest detectable face.
MIN_IMAGE_PX = 16


class OnnxMmodDetector:
    """dlib's MMOD CNN face detector run by ONNX Runtime.

    ``scale`` enlarges the image before detection (1 = as dlib's
    ``cnn_face_detection_model_v1`` with ``upsample_num_times=0``); it is
    lowered where the result would exceed ``max_detect_pixels``.
    ``level_step`` keeps every n-th level of dlib's pyramid (1 = all);
    ``max_levels`` only the first few (where the face size is already known).
    """

    name = "mmod_onnx"

    def __init__(
        self,
        model_path: Path | None = None,
        scale: float = 1.0,
        max_detect_pixels: int = 9_000_000,
        threshold: float = 0.0,
        level_step: int = 1,
        threads: int = 1,
        max_levels: int | None = None,
    ) -> None:
        self.network = read_mmod_network(model_path)
        self._session = mmod_session(build_mmod_onnx(self.network), threads)
        self._resize = OnnxResizer(threads)
        self.level_step = level_step
        self.max_levels = max_levels
        if scale <= 0 or level_step < 1:
            raise ValueError("scale must be positive and level_step at least 1")
        self.scale = scale
        self.max_detect_pixels = max_detect_pixels
        self.threshold = threshold

    def scale_for(self, height: int, width: int) -> float:
        """How much to enlarge (or shrink) an image of this size before detection."""
        scale = self.scale
        if height * width * scale * scale > self.max_detect_pixels:
            scale = math.sqrt(self.max_detect_pixels / (height * width))
        return scale

    def raw_detections(self, pixels: NDArray[np.uint8], scale: float = 1.0) -> list[RawDetection]:
        """Detections in the pixels of ``pixels`` resized by ``scale``, as dlib reports them."""
        work = pixels if scale == 1.0 else _resize(pixels, scale)
        if min(work.shape[:2]) < MIN_IMAGE_PX:
            return []  # smaller than the network's receptive field: no face can be found
        stem = self.network.input
        rows, cols = work.shape[:2]
        layout = pyramid_layout(
            rows,
            cols,
            stem.padding,
            stem.outer_padding,
            level_step=self.level_step,
            max_levels=self.max_levels,
        )
        plane = build_plane(work, layout, stem.mean_rgb, stem.scale, self._resize)
        scores = self._session.run(None, {PLANE_NAME: plane[None]})[0][0, 0]
        ranked = score_map_detections(scores, layout, self.network, self.threshold)
        return non_max_suppression(ranked, self.network.loss.nms_iou, self.network.loss.nms_covered)

    def detect(self, pixels: NDArray[np.uint8]) -> list[Detection]:
        height, width = pixels.shape[:2]
        scale = self.scale_for(height, width)
        found = []
        for left, top, right, bottom, score in self.raw_detections(pixels, scale):
            x0, y0 = max(0, round(left / scale)), max(0, round(top / scale))
            x1 = min(width, round((right + 1) / scale))
            y1 = min(height, round((bottom + 1) / scale))
            if x1 > x0 and y1 > y0:
                found.append(Detection(Box(x0, y0, x1 - x0, y1 - y0), score, self.name))
        return found


def _resize(pixels: NDArray[np.uint8], scale: float) -> NDArray[np.uint8]:
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
