"""A face marked by hand: the chip cut from the points a person gives, as the detector path cuts it.

Why: the detector misses faces an investigator can still see (a cap's shadow over the
forehead, an odd angle, a small face in a crowd), and such a face is often the only
image of a suspect. The operator draws a box around it and clicks the two eye centres
(optionally the nose tip and the mouth corners). The embedder was trained on dlib's
150 px chip (0.25 padding), which dlib cuts by mapping its shape predictor's landmarks
onto its mean face (aligner.py): a chip cut any other way places the face differently
and costs accuracy. So the points given are mapped, by the similarity transform that
fits them best (Umeyama's least squares, arcface_alignment.similarity_transform; with
the two eyes alone it is exact), onto :data:`CHIP_POINTS`: where those points sit, on
average, in the detector path's chip of each alignment, measured on the first image of
300 LFW people (sd about 1.3 px for the eyes, 5 px for the nose and mouth, which vary
with the face; ``bench/manual_mark_points.py`` measures them again). The warp is
arcface_alignment.warp_chip's (bilinear), on the image first reduced by a whole factor
where the face is more than twice the chip's size, as dlib's own chip extraction does
to avoid aliasing. A face marked at the eye centres the engine finds gets a template
within cosine 0.98 of the detector path's (0.998 on face_recognition's example photos;
tests/faces/test_face_choice.py).

The face's :class:`Landmarks` (which quality reads) are the points given: each eye's two
"corners" are its marked centre, so ``eye_centres`` are exactly the operator's, and the
nose point is the nose tip given or, without one, where the mean face puts it for those
eyes: the pose is then assumed frontal, not measured. The detector score is 0 (no
detector found the face), which the quality score counts against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.errors import InvalidInputError
from retroface.faces.aligner import CHIP_SIZE_PX
from retroface.faces.arcface_alignment import apply_transform, similarity_transform, warp_chip
from retroface.faces.types import Box, Landmarks

Point = tuple[float, float]

#: Detector name recorded for a face a person marked by hand.
MANUAL_DETECTOR = "manual"

#: The mean position in dlib's 150 px chip (0.25 padding) of, in order: the eye centre on
#: the image's left, the other eye centre, the nose tip, the mouth corner on the image's
#: left and the other; per alignment (the shape predictor's points: 5 or 68), as the
#: detector path cuts the chip. Measured by bench/manual_mark_points.py (LFW, 300 faces).
CHIP_POINTS: dict[int, NDArray[np.float64]] = {
    5: np.array([[47.10, 46.61], [99.94, 46.55], [73.48, 75.65], [49.82, 104.24], [97.62, 104.15]]),
    68: np.array(
        [[47.25, 46.60], [99.71, 46.60], [73.44, 75.38], [49.87, 103.64], [97.39, 103.60]]
    ),
}

#: The closest two marked eye centres may be, in pixels (no transform fits closer ones).
MIN_MARKED_EYE_PX = 2.0


@dataclass(frozen=True)
class ManualMark:
    """A face a person marked by hand: its box and the eye centres, in image pixels.

    ``eyes``: the two eye centres, ``nose``: the nose tip, ``mouth``: the two mouth
    corners, each pair in either order: they are kept as the subject's right eye (and
    mouth corner) first, the one on the image's left when the face is upright. Which eye
    is which is read from the nose or the mouth when given (they lie below the eyes),
    so a face at any angle can be marked; from the eyes alone, the face is taken to be
    within a quarter turn of upright. Coordinates are pixel indices of the oriented image
    (the top-left pixel's centre is (0, 0)), as the engine reports landmarks.
    """

    box: Box
    eyes: tuple[Point, Point]
    nose: Point | None = None
    mouth: tuple[Point, Point] | None = None

    def __post_init__(self) -> None:
        eyes, mouth = _oriented(self.eyes, self.nose, self.mouth)
        object.__setattr__(self, "eyes", eyes)
        object.__setattr__(self, "mouth", mouth)

    def points(self) -> list[Point]:
        """The points given, in :data:`CHIP_POINTS` order (absent ones left out)."""
        return [*self.eyes, *([self.nose] if self.nose else []), *(self.mouth or ())]

    def template(self, alignment: int) -> NDArray[np.float64]:
        """Where the points given belong in the chip of ``alignment`` (5 or 68)."""
        reference = CHIP_POINTS[alignment]
        rows = [0, 1, *([2] if self.nose else []), *([3, 4] if self.mouth else [])]
        return reference[rows]

    def check(self, width: int, height: int) -> None:
        """Refuse a mark that cannot be a face of this image, saying what is wrong."""
        b = self.box
        if b.w < 1 or b.h < 1:
            raise InvalidInputError(f"the marked box must have a width and a height, got {b}")
        if b.x < 0 or b.y < 0 or b.x + b.w > width or b.y + b.h > height:
            raise InvalidInputError(
                f"the marked box {b.x},{b.y},{b.w},{b.h} reaches outside the image "
                f"({width}x{height} pixels)"
            )
        for x, y in self.points():
            if not (b.x <= x < b.x + b.w and b.y <= y < b.y + b.h):
                raise InvalidInputError(
                    f"the marked point ({x:g}, {y:g}) lies outside the marked box "
                    f"{b.x},{b.y},{b.w},{b.h}: mark points on the face in the box"
                )
        (lx, ly), (rx, ry) = self.eyes
        if math.hypot(rx - lx, ry - ly) < MIN_MARKED_EYE_PX:
            raise InvalidInputError("the two marked eyes are (almost) the same point")

    def landmarks(self) -> Landmarks:
        """The engine's five landmarks for this face (see the module's docstring)."""
        left, right = self.eyes
        nose = self.nose
        if nose is None:
            to_image = similarity_transform(CHIP_POINTS[5][:2], np.array(self.eyes))
            mean_nose = apply_transform(to_image, CHIP_POINTS[5][2:3])[0]
            nose = (float(mean_nose[0]), float(mean_nose[1]))
        return Landmarks((left, left, right, right, nose))


def _oriented(
    eyes: tuple[Point, Point], nose: Point | None, mouth: tuple[Point, Point] | None
) -> tuple[tuple[Point, Point], tuple[Point, Point] | None]:
    """The eyes, and the mouth corners, with the subject's right one first: the order in
    which, going from the first eye to the second, the nose or mouth lies on the right
    (below the eye line of an upright face, in image coordinates whose y grows down)."""
    a, b = ((float(x), float(y)) for x, y in eyes)
    below = nose if nose is not None else None
    if below is None and mouth is not None:
        below = ((mouth[0][0] + mouth[1][0]) / 2, (mouth[0][1] + mouth[1][1]) / 2)
    if below is None:
        if b[0] < a[0]:
            a, b = b, a
    elif (b[0] - a[0]) * (below[1] - a[1]) - (b[1] - a[1]) * (below[0] - a[0]) < 0:
        a, b = b, a
    if mouth is None:
        return (a, b), None
    m, n = ((float(x), float(y)) for x, y in mouth)
    along = (b[0] - a[0], b[1] - a[1])
    if (n[0] - m[0]) * along[0] + (n[1] - m[1]) * along[1] < 0:
        m, n = n, m
    return (a, b), (m, n)


def manual_chip(pixels: NDArray[np.uint8], mark: ManualMark, alignment: int) -> NDArray[np.uint8]:
    """The 150 px chip of the marked face, placed as ``alignment``'s detector chip places it."""
    matrix = similarity_transform(np.array(mark.points()), mark.template(alignment))
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))  # chip pixels per image pixel
    factor = int(1.0 / scale) if scale < 0.5 else 1
    if factor > 1:
        # Reduce by a whole factor first (a box filter), as dlib's chip extraction does for a
        # large face: image index p = factor * (q + 0.5) - 0.5 for a reduced index q.
        pixels = np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).reduce(factor))
        linear = matrix[:, :2] * factor
        shift = matrix[:, 2] + matrix[:, :2] @ np.full(2, (factor - 1) / 2)
        matrix = np.hstack([linear, shift[:, None]])
    return warp_chip(pixels, matrix, CHIP_SIZE_PX)
