"""Choosing a probe face (by number, box, or all with a reason) and marking one by hand: the
rules on hand-made detections, and the hand-marked chip against the detector path's on real
faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.errors import InvalidInputError
from retroface.faces import FaceEngine
from retroface.faces.face_choice import (
    FaceChoice,
    check_mark_is_missed,
    choose_faces,
    face_choice_from,
    overlap,
)
from retroface.faces.manual_alignment import CHIP_POINTS, ManualMark
from retroface.faces.types import Box, Detection
from retroface.media import load_image

LFW = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lfw"
#: Frontal, turned and tilted faces.
FACES = ("Aaron_Peirsol_0001", "Colin_Powell_0001", "Serena_Williams_0001", "Tony_Blair_0001")

LARGE = Detection(Box(100, 100, 80, 80), 1.2, "dlib_hog")
SMALL = Detection(Box(300, 120, 50, 50), 0.9, "dlib_hog")


def test_faces_are_chosen_by_number_or_by_the_box_they_overlap_most() -> None:
    found = [LARGE, SMALL]
    assert choose_faces(found, FaceChoice(face=2)) == [SMALL]
    assert choose_faces(found, FaceChoice(box=Box(290, 100, 90, 90))) == [SMALL]
    # A box over both: the face it overlaps most (intersection over union), not the larger.
    assert choose_faces(found, FaceChoice(box=Box(160, 110, 200, 70))) == [SMALL]
    with pytest.raises(InvalidInputError, match="face 3 was asked for, but the image holds 2"):
        choose_faces(found, FaceChoice(face=3))
    with pytest.raises(InvalidInputError, match="no detected face overlaps the box 0,0,50,50"):
        choose_faces(found, FaceChoice(box=Box(0, 0, 50, 50)))
    with pytest.raises(InvalidInputError, match="marked by hand"):
        choose_faces([], FaceChoice(face=1))
    assert overlap(LARGE.box, LARGE.box) == 1.0 and overlap(LARGE.box, SMALL.box) == 0.0


def test_several_faces_and_no_choice_are_left_to_a_person() -> None:
    assert choose_faces([LARGE, SMALL], FaceChoice()) is None
    assert choose_faces([SMALL], FaceChoice()) == [SMALL]
    assert choose_faces([], FaceChoice()) == []
    everyone = FaceChoice(all_faces_reason="  the suspect is not known among them ")
    assert everyone.all_faces_reason == "the suspect is not known among them"
    assert choose_faces([LARGE, SMALL], everyone) == [LARGE, SMALL]
    assert FaceChoice(all_faces_reason="   ").all_faces is False  # a blank reason is none
    assert FaceChoice().parameters() is None
    assert FaceChoice(face=2).parameters() == {"by": "number", "face": 2}


def test_a_choice_is_made_one_way_and_read_from_text() -> None:
    choice = face_choice_from(
        mark="10,20,100,120", eyes="80,60,40,61", nose="60,85", mouth="75,100,45,101"
    )
    assert choice.mark is not None and choice.picks_one
    assert choice.mark.eyes == ((40.0, 61.0), (80.0, 60.0))  # the image's left eye first
    assert choice.mark.mouth == ((45.0, 101.0), (75.0, 100.0))
    assert choice.parameters() == {
        "by": "marked by hand",
        "box": [10, 20, 100, 120],
        "eyes": [[40.0, 61.0], [80.0, 60.0]],
        "nose": [60.0, 85.0],
        "mouth": [[45.0, 101.0], [75.0, 100.0]],
    }
    assert face_choice_from(box=" 1, 2, 3, 4").box == Box(1, 2, 3, 4)
    for kwargs, said in (
        ({"face": 1, "box": "1,2,3,4"}, "one way only, got a face number and a box"),
        ({"face": 0}, "numbered from 1"),
        ({"box": "1,2,3"}, "give 4 numbers as x,y,w,h"),
        ({"box": "1,2,3.5,4"}, "whole pixels"),
        ({"box": "1,2,0,4"}, "at least 1"),
        ({"box": "1,2,nan,4"}, "give 4 numbers"),
        ({"mark": "1,2,30,40"}, "needs its two eye centres"),
        ({"eyes": "1,2,3,4"}, "go with a face marked by hand"),
        ({"mark": "1,2,30,40", "eyes": "5,6,7"}, "eyes: give 4 numbers"),
    ):
        with pytest.raises(InvalidInputError, match=said):
            face_choice_from(**kwargs)  # type: ignore[arg-type]


def test_a_mark_must_fit_its_image_and_not_be_a_face_the_detector_found() -> None:
    eyes = ((120.0, 130.0), (150.0, 131.0))
    ManualMark(Box(100, 100, 80, 80), eyes).check(640, 480)
    for box, image, said in (
        (Box(600, 100, 80, 80), (640, 480), r"reaches outside the image \(640x480"),
        (Box(140, 100, 80, 80), (640, 480), r"point \(120, 130\) lies outside the marked box"),
    ):
        with pytest.raises(InvalidInputError, match=said):
            ManualMark(box, eyes).check(*image)
    with pytest.raises(InvalidInputError, match="the same point"):
        ManualMark(Box(100, 100, 80, 80), ((120.0, 130.0), (120.5, 130.0))).check(640, 480)
    with pytest.raises(InvalidInputError, match=r"found the marked face \(face 1, box 100,100"):
        check_mark_is_missed([LARGE, SMALL], ManualMark(Box(90, 90, 100, 100), eyes))
    check_mark_is_missed([SMALL], ManualMark(Box(90, 90, 100, 100), eyes))


needs_lfw = pytest.mark.skipif(not LFW.is_dir(), reason="LFW not found")


@needs_lfw
@pytest.mark.needs_data
def test_chip_points_are_where_the_detector_path_puts_the_eyes() -> None:
    """CHIP_POINTS (measured by bench/manual_mark_points.py on 300 faces) against a few faces
    measured again here: each face's eye centres land within a few pixels of them."""
    dlib = pytest.importorskip("dlib")
    from retroface.faces.aligner import CHIP_PADDING, CHIP_SIZE_PX  # noqa: PLC0415
    from retroface.faces.arcface_alignment import apply_transform, dlib_chip_transform  # noqa: PLC0415
    from retroface.faces.detector import HogDetector  # noqa: PLC0415
    from retroface.faces.model_files import LANDMARKS_5_FILE, packaged_model_path  # noqa: PLC0415

    predictor = dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE)))
    detector = HogDetector()
    for name in FACES:
        pixels = load_image(LFW / name.rsplit("_", 1)[0] / f"{name}.jpg").pixels
        box = max(detector.detect(pixels), key=lambda d: d.box.w * d.box.h).box
        shape = predictor(
            pixels, dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        )
        p = [(q.x, q.y) for q in shape.parts()]
        eyes = np.array([np.mean(p[2:4], axis=0), np.mean(p[0:2], axis=0)])
        details = dlib.get_face_chip_details(shape, CHIP_SIZE_PX, CHIP_PADDING)
        in_chip = apply_transform(dlib_chip_transform(details), eyes)
        assert np.abs(in_chip - CHIP_POINTS[5][:2]).max() < 5.0, (name, in_chip)


@needs_lfw
@pytest.mark.needs_data
def test_a_face_marked_at_its_eye_centres_gets_the_detector_paths_template(
    engine: FaceEngine,
) -> None:
    for name in FACES:
        pixels = load_image(LFW / name.rsplit("_", 1)[0] / f"{name}.jpg").pixels
        detected = engine.analyse(pixels)[0]
        marked = engine.analyse_marked(
            pixels, ManualMark(detected.detection.box, detected.landmarks.eye_centres)
        )
        assert float(detected.embedding @ marked.embedding) > 0.98, name
        assert marked.detection.detector == "manual" and marked.detection.score == 0.0
        assert marked.landmarks.eye_centres == tuple(sorted(detected.landmarks.eye_centres))


@needs_lfw
@pytest.mark.needs_data
def test_a_face_upside_down_the_detector_misses_is_found_again_from_its_marked_points(
    engine: FaceEngine,
) -> None:
    """A face upside down (a person lying down, a camera mounted the other way): the
    detector misses it; marked at its eyes and nose tip (which says which eye is which),
    it gets the template of the upright face."""
    pixels = load_image(LFW / "Tony_Blair" / "Tony_Blair_0001.jpg").pixels
    upright = engine.analyse(pixels)[0]
    turned = np.ascontiguousarray(pixels[::-1, ::-1])
    assert engine.detect(turned) == []
    height, width = pixels.shape[:2]

    def turn(x: float, y: float) -> tuple[float, float]:
        return width - 1 - x, height - 1 - y

    b = upright.detection.box
    box = Box(width - b.x - b.w, height - b.y - b.h, b.w, b.h)
    left, right = (turn(*p) for p in upright.landmarks.eye_centres)
    mark = ManualMark(box, (left, right), nose=turn(*upright.landmarks.nose))
    marked = engine.analyse_marked(turned, mark)
    assert float(upright.embedding @ marked.embedding) > 0.97
    # From the eyes alone the face is taken as upright: the chip comes out upside down.
    eyes_only = engine.analyse_marked(turned, ManualMark(box, (left, right)))
    assert float(upright.embedding @ eyes_only.embedding) < 0.9
