"""The ArcFace/InsightFace 112x112 chip: five points warped onto the standard template.

Why: models of the ArcFace family (ArcFace, MobileFaceNet, and most open face
recognisers since 2018) were trained on faces cut the same way: a similarity
transform (rotation, uniform scale, shift; no shear) that puts the eye centres,
the nose tip and the mouth corners as near as it can, in the least-squares sense,
to five fixed points of a 112x112 image (:data:`ARCFACE_TEMPLATE_112`, the points
InsightFace publishes). dlib's 150 px chip places a face differently (on dlib's mean
face, zoomed in further: the forehead is cut), so feeding that chip resized to 112 px
gives such a model faces it was not trained on (mobileface on LFW: 71.8% that way,
94.2% on this chip; bench/second_model.py).

The five points come from dlib's 68-point landmarks: eye centres as the means of
points 36-41 and 42-47 (the eye on the image's left first, as in the template),
the nose tip (30) and the mouth corners (48, 54). The transform is Umeyama's
closed form (least squares, reflection excluded), in NumPy; the warp is Pillow's
affine transform with bilinear sampling (the project does not depend on OpenCV).

Coordinates: a landmark's (x, y) is in pixel-index units, the centre of the top-left
pixel being (0, 0), as dlib and the InsightFace template use them; Pillow samples in
units whose top-left pixel centre is (0.5, 0.5), and :func:`warp_chip` converts.

Inside the face engine an embedder receives dlib's chip, not the image:
:class:`DlibChipRealigner` finds the 68 landmarks again on that chip and warps it onto
the template, so a plug-in model gets its standard alignment there too, less the top
rows of the template, which lie outside dlib's chip and stay black (mobileface: 90.9%).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.faces.aligner import CHIP_PADDING, CHIP_SIZE_PX, AlignedFace
from retroface.faces.model_files import LANDMARKS_68_FILE, packaged_model_path
from retroface.faces.types import Box, Landmarks

ARCFACE_CHIP_PX = 112

#: InsightFace's destination points for a 112x112 chip, in pixel-index units: the eye on
#: the image's left, the other eye, the nose tip, the left and the right mouth corner.
ARCFACE_TEMPLATE_112: NDArray[np.float64] = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)

_LEFT_EYE = range(36, 42)  # the eye on the image's left (the subject's right eye)
_RIGHT_EYE = range(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT, _MOUTH_RIGHT = 48, 54
#: The 68-point indices the engine's Landmarks hold (eye corners, nose base), as aligner.py.
_FIVE_OF_68 = (36, 39, 42, 45, 33)

#: Where dlib's 68-point shape predictor should look on dlib's own 150 px chip (0.25
#: padding): the HOG detector's box of a face mapped into the chip (x, y, width, height),
#: the mean over the first images of 200 LFW people (centre spread ±4 px, side ±12 px);
#: bench/second_model.py --chip-box measures it again.
DLIB_CHIP_FACE_BOX = Box(1, 2, 137, 137)


def five_points_from_68(
    points: NDArray[np.floating] | list[tuple[float, float]],
) -> NDArray[np.float64]:
    """The template's five points from dlib's 68: eye centres, nose tip, mouth corners."""
    shape = np.asarray(points, dtype=np.float64)
    if shape.shape != (68, 2):
        raise ValueError(f"expected 68 (x, y) landmarks, got an array of shape {shape.shape}")
    return np.stack(
        [
            shape[list(_LEFT_EYE)].mean(axis=0),
            shape[list(_RIGHT_EYE)].mean(axis=0),
            shape[_NOSE_TIP],
            shape[_MOUTH_LEFT],
            shape[_MOUTH_RIGHT],
        ]
    )


def similarity_transform(
    source: NDArray[np.floating], target: NDArray[np.floating]
) -> NDArray[np.float64]:
    """The 2x3 matrix [sR | t] minimising sum ||s R p + t - q||² over the point pairs (p, q).

    Umeyama (1991): R a rotation (no reflection), s > 0 a uniform scale. Apply it as
    ``q = M[:, :2] @ p + M[:, 2]``.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two (N, 2) point sets, N >= 2; got {src.shape}, {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum() / len(src))
    if src_var <= 0.0:
        raise ValueError("the source points coincide: no transform fits them")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(singular) @ sign)) / src_var
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def apply_transform(
    matrix: NDArray[np.floating], points: NDArray[np.floating]
) -> NDArray[np.float64]:
    """Points (N, 2) mapped by a 2x3 matrix."""
    m = np.asarray(matrix, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ m[:, :2].T + m[:, 2]


def dlib_chip_transform(details: Any) -> NDArray[np.float64]:
    """The 2x3 matrix from image to chip of a ``dlib.chip_details`` (as ``get_face_chip``
    cuts it: ``rect`` turned by ``angle`` about its centre onto rows x cols pixels), so
    ``warp_chip(pixels, dlib_chip_transform(d), d.cols)`` is dlib's chip."""
    r = details.rect
    centre = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
    cos, sin = np.cos(details.angle), np.sin(details.angle)
    corners = np.array([(r.left(), r.top()), (r.right(), r.top()), (r.right(), r.bottom())])
    turned = centre + (corners - centre) @ np.array([[cos, sin], [-sin, cos]])
    rows, cols = details.rows, details.cols
    return similarity_transform(
        turned, np.array([(0, 0), (cols - 1, 0), (cols - 1, rows - 1)], dtype=np.float64)
    )


def warp_chip(
    pixels: NDArray[np.uint8], matrix: NDArray[np.floating], size: int = ARCFACE_CHIP_PX
) -> NDArray[np.uint8]:
    """The ``size`` x ``size`` RGB chip whose pixel q shows the image at M⁻¹ q (bilinear;
    black outside the image)."""
    m = np.asarray(matrix, dtype=np.float64)
    linear, shift = m[:, :2], m[:, 2]
    inverse = np.linalg.inv(linear)
    # Pillow asks, for each output point u (pixel centres at +0.5), for the input point
    # v: with p = v - 0.5 and q = u - 0.5 in index units, p = A⁻¹ (q - t), so
    # v = A⁻¹ u + 0.5 - A⁻¹ (t + 0.5).
    offset = 0.5 - inverse @ (shift + 0.5)
    coefficients = (
        inverse[0, 0],
        inverse[0, 1],
        offset[0],
        inverse[1, 0],
        inverse[1, 1],
        offset[1],
    )
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    chip = image.transform(
        (size, size),
        Image.Transform.AFFINE,
        tuple(float(c) for c in coefficients),
        resample=Image.Resampling.BILINEAR,
    )
    return np.ascontiguousarray(np.asarray(chip.convert("RGB"), dtype=np.uint8))


def arcface_transform(five_points: NDArray[np.floating]) -> NDArray[np.float64]:
    """The similarity transform taking the five points onto the 112x112 template."""
    return similarity_transform(np.asarray(five_points, dtype=np.float64), ARCFACE_TEMPLATE_112)


def arcface_chip(pixels: NDArray[np.uint8], five_points: NDArray[np.floating]) -> NDArray[np.uint8]:
    """The 112x112x3 uint8 chip of the face whose five points are given (image coordinates)."""
    return warp_chip(pixels, arcface_transform(five_points), ARCFACE_CHIP_PX)


class _Predictor68:
    """dlib's 68-point shape predictor, as (68, 2) arrays."""

    def __init__(self, model_path: Path | None = None) -> None:
        import dlib  # noqa: PLC0415 - dlib (and its models) load only when this backend is used

        self._dlib: Any = dlib
        self._predictor = dlib.shape_predictor(
            str(model_path or packaged_model_path(LANDMARKS_68_FILE))
        )
        self._lock = threading.Lock()  # one call at a time in the model (faces/detector.py)

    def landmarks(self, pixels: NDArray[np.uint8], box: Box) -> NDArray[np.float64]:
        rect = self._dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        with self._lock:
            parts = self._predictor(np.ascontiguousarray(pixels), rect).parts()
        return np.array([(p.x, p.y) for p in parts], dtype=np.float64)


class ArcFaceAligner:
    """dlib's 68-point landmarks, then the 112x112 ArcFace chip (a drop-in for Aligner).

    ``landmarks`` keep the engine's convention (eye corners and nose base, as
    :class:`retroface.faces.aligner.Aligner` gives them), so quality checks read them alike.
    """

    points = 68
    name = "arcface_112_from_dlib_68point"

    def __init__(self, model_path: Path | None = None) -> None:
        self._predictor = _Predictor68(model_path)

    def five_points(self, pixels: NDArray[np.uint8], box: Box) -> NDArray[np.float64]:
        return five_points_from_68(self._predictor.landmarks(pixels, box))

    def align(self, pixels: NDArray[np.uint8], box: Box) -> AlignedFace:
        shape = self._predictor.landmarks(pixels, box)
        chip = arcface_chip(pixels, five_points_from_68(shape))
        engine_points = tuple((float(shape[i, 0]), float(shape[i, 1])) for i in _FIVE_OF_68)
        return AlignedFace(landmarks=Landmarks(engine_points), chip=chip)


class DlibChipRealigner:
    """dlib's 150 px chip (0.25 padding) → the 112x112 ArcFace chip of the same face.

    The engine hands embedders dlib's chip; this finds the 68 landmarks on it (in the
    box where the detector's box lands on such a chip, :data:`DLIB_CHIP_FACE_BOX`) and
    warps the chip onto the template. The points agree with those found on the image to
    within a pixel for most faces (median 0.4-0.8 px in the chip), but the template reaches
    above dlib's chip: those rows of the result are black. Cutting the ArcFace chip from the
    image (:class:`ArcFaceAligner`) is better where the caller has the image.
    """

    def __init__(self, model_path: Path | None = None) -> None:
        self._predictor = _Predictor68(model_path)

    def five_points(self, chip: NDArray[np.uint8]) -> NDArray[np.float64]:
        _check_dlib_chip(chip)
        return five_points_from_68(self._predictor.landmarks(chip, DLIB_CHIP_FACE_BOX))

    def realign(self, chip: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return arcface_chip(chip, self.five_points(chip))


def _check_dlib_chip(chip: NDArray[np.uint8]) -> None:
    if chip.shape != (CHIP_SIZE_PX, CHIP_SIZE_PX, 3):
        raise ValueError(
            f"expected dlib's {CHIP_SIZE_PX}x{CHIP_SIZE_PX} RGB chip "
            f"(padding {CHIP_PADDING}), got an array of shape {chip.shape}"
        )
