"""The 112x112 ArcFace chip: the similarity fit, the warp's pixel convention, and real faces.

The warp is checked against dlib's own ``get_face_chip`` (the same chip to the grey
level), and on real LFW faces the eyes found again on the warped chip sit on the
template's eye points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

dlib = pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")

from retroface.faces.aligner import CHIP_PADDING, CHIP_SIZE_PX  # noqa: E402
from retroface.faces.arcface_alignment import (  # noqa: E402
    ARCFACE_CHIP_PX,
    ARCFACE_TEMPLATE_112,
    ArcFaceAligner,
    DlibChipRealigner,
    apply_transform,
    arcface_transform,
    dlib_chip_transform,
    five_points_from_68,
    similarity_transform,
    warp_chip,
)
from retroface.faces.detector import HogDetector  # noqa: E402
from retroface.faces.model_files import LANDMARKS_5_FILE, packaged_model_path  # noqa: E402
from retroface.faces.types import Box  # noqa: E402
from retroface.media import load_image  # noqa: E402

LFW = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lfw"
#: Frontal faces: their five points are close to the template's shape.
FRONTAL = ("Aaron_Peirsol_0001", "Ariel_Sharon_0001")
#: Faces whose shape the template fits less well (a turned head, a tilted one).
OTHERS = ("Colin_Powell_0001", "Serena_Williams_0001", "Tony_Blair_0001")


def _rotation(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def test_the_fit_recovers_a_known_similarity_exactly() -> None:
    rng = np.random.default_rng(7)
    points = rng.uniform(0, 200, (5, 2))
    linear = 1.7 * _rotation(20.0)
    moved = points @ linear.T + np.array([-12.0, 31.5])
    matrix = similarity_transform(points, moved)
    assert np.allclose(matrix[:, :2], linear, atol=1e-9)
    assert np.allclose(matrix[:, 2], [-12.0, 31.5], atol=1e-9)
    assert np.allclose(apply_transform(matrix, points), moved, atol=1e-9)


def test_the_fit_never_mirrors() -> None:
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0], [7.0, 9.0]])
    mirrored = points * np.array([-1.0, 1.0])
    matrix = similarity_transform(points, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_the_fit_refuses_points_that_coincide() -> None:
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((5, 2)), ARCFACE_TEMPLATE_112)


def test_five_points_are_eye_centres_nose_tip_and_mouth_corners() -> None:
    shape = np.arange(136, dtype=float).reshape(68, 2)
    five = five_points_from_68(shape)
    assert np.allclose(five[0], shape[36:42].mean(axis=0))
    assert np.allclose(five[1], shape[42:48].mean(axis=0))
    assert np.allclose(five[2:], shape[[30, 48, 54]])
    with pytest.raises(ValueError, match="68"):
        five_points_from_68(shape[:5])


def test_a_pixel_moves_where_the_transform_sends_it() -> None:
    image = np.zeros((60, 80, 3), dtype=np.uint8)
    image[30, 40] = 255  # row 30, column 40: the point (40, 30)
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 7.0]])
    chip = warp_chip(image, shift, size=64)
    assert chip.shape == (64, 64, 3) and chip.dtype == np.uint8
    assert tuple(np.argwhere(chip[..., 0] == 255)[0]) == (37, 45)
    # Turned a quarter about (40, 30) and moved: the point stays the turn's fixed point.
    quarter = np.hstack([_rotation(90.0), np.zeros((2, 1))])
    quarter[:, 2] = np.array([40.0, 30.0]) - quarter[:, :2] @ np.array([40.0, 30.0])
    assert tuple(np.argwhere(warp_chip(image, quarter, 64)[..., 0] == 255)[0]) == (30, 40)


def _faces(names: tuple[str, ...] = FRONTAL + OTHERS) -> list[tuple[np.ndarray, Box]]:
    if not LFW.is_dir():
        pytest.skip(f"LFW images not found at {LFW.resolve()}")
    hog = HogDetector()
    faces = []
    for name in names:
        pixels = load_image(LFW / name.rsplit("_", 1)[0] / f"{name}.jpg").pixels
        box = max(hog.detect(pixels), key=lambda d: d.box.w).box
        faces.append((pixels, box))
    return faces


def _carried(box: Box, matrix: np.ndarray) -> Box:
    """The detector's box carried into the chip (upright, same centre, scaled side)."""
    side = box.w * float(np.sqrt(np.linalg.det(matrix[:, :2])))
    centre = apply_transform(matrix, np.array([(box.x + box.w / 2, box.y + box.h / 2)]))[0]
    return Box(round(centre[0] - side / 2), round(centre[1] - side / 2), round(side), round(side))


@pytest.mark.needs_data
def test_the_warp_reproduces_dlibs_own_chip() -> None:
    predictor = dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE)))
    for pixels, b in _faces():
        shape = predictor(pixels, dlib.rectangle(b.x, b.y, b.x + b.w - 1, b.y + b.h - 1))
        details = dlib.get_face_chip_details(shape, CHIP_SIZE_PX, CHIP_PADDING)
        ours = warp_chip(pixels, dlib_chip_transform(details), CHIP_SIZE_PX).astype(int)
        theirs = dlib.get_face_chip(pixels, shape, size=CHIP_SIZE_PX, padding=CHIP_PADDING)
        inner = slice(2, -2)  # dlib and Pillow may treat the outermost pixels apart
        assert np.abs(ours - theirs.astype(int))[inner, inner].max() <= 1


@pytest.mark.needs_data
def test_eyes_land_on_the_template_in_the_chip_of_a_real_face() -> None:
    aligner = ArcFaceAligner()
    for pixels, box in _faces(FRONTAL):
        aligned = aligner.align(pixels, box)
        chip = aligned.chip
        assert chip.shape == (ARCFACE_CHIP_PX, ARCFACE_CHIP_PX, 3) and chip.dtype == np.uint8
        # Find the landmarks again on the chip itself, in the detector's box carried there.
        matrix = arcface_transform(aligner.five_points(pixels, box))
        found = aligner.five_points(chip, _carried(box, matrix))
        eyes = np.linalg.norm(found[:2] - ARCFACE_TEMPLATE_112[:2], axis=1)
        assert eyes.max() < 2.0, eyes
        assert np.linalg.norm(found - ARCFACE_TEMPLATE_112, axis=1).max() < 6.0
        # The engine's landmarks keep their convention: eye corners left of the nose base.
        assert aligned.landmarks.points[0][0] < aligned.landmarks.points[4][0]


@pytest.mark.needs_data
def test_the_chip_shows_each_point_where_the_transform_sends_it() -> None:
    """On any face (the fit leaves a turned head's eyes px off the template), the points
    found again on the chip are where the transform put them: the warp is exact."""
    aligner = ArcFaceAligner()
    for pixels, box in _faces():
        five = aligner.five_points(pixels, box)
        matrix = arcface_transform(five)
        found = aligner.five_points(warp_chip(pixels, matrix), _carried(box, matrix))
        assert np.linalg.norm(found - apply_transform(matrix, five), axis=1).max() < 1.5


@pytest.mark.needs_data
def test_realigning_dlibs_chip_finds_the_same_five_points() -> None:
    predictor = dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE)))
    direct, realigner = ArcFaceAligner(), DlibChipRealigner()
    for pixels, b in _faces():
        shape = predictor(pixels, dlib.rectangle(b.x, b.y, b.x + b.w - 1, b.y + b.h - 1))
        details = dlib.get_face_chip_details(shape, CHIP_SIZE_PX, CHIP_PADDING)
        chip = dlib.get_face_chip(pixels, shape, size=CHIP_SIZE_PX, padding=CHIP_PADDING)
        to_image = np.linalg.inv(np.vstack([dlib_chip_transform(details), [0.0, 0.0, 1.0]]))[:2]
        via_chip = apply_transform(to_image, realigner.five_points(chip))
        assert np.linalg.norm(via_chip - direct.five_points(pixels, b), axis=1).max() < 3.0
        assert realigner.realign(chip).shape == (ARCFACE_CHIP_PX, ARCFACE_CHIP_PX, 3)
    with pytest.raises(ValueError, match="150x150"):
        realigner.realign(np.zeros((112, 112, 3), dtype=np.uint8))
