"""Detector backends on real photos: the cascade rescues faces HOG misses; 68-point alignment works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.faces import EngineSpec, FaceEngine
from retroface.faces.aligner import Aligner
from retroface.faces.detector import CascadeDetector, CnnDetector, HogDetector
from retroface.media import load_image

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def hog() -> HogDetector:
    return HogDetector()


def test_cascade_finds_a_face_hog_misses(data: Path, hog: HogDetector) -> None:
    # A tilted, partly turned face: HOG's frontal template finds nothing.
    pixels = load_image(data / "lfw" / "Jelena_Dokic" / "Jelena_Dokic_0004.jpg").pixels
    assert hog.detect(pixels) == []
    found = CascadeDetector(hog, CnnDetector()).detect(pixels)
    assert len(found) == 1 and found[0].detector == "dlib_mmod_cnn"
    box = found[0].box
    assert 40 < box.x + box.w / 2 < 210 and 40 < box.y + box.h / 2 < 210  # near the centre


def test_cascade_keeps_hog_results_when_hog_finds_faces(data: Path, hog: HogDetector) -> None:
    pixels = load_image(data / "face_recognition" / "examples" / "obama.jpg").pixels
    cascade = CascadeDetector(hog, CnnDetector())
    assert [d.box for d in cascade.detect(pixels)] == [d.box for d in hog.detect(pixels)]


def test_68_point_alignment_gives_five_landmarks_and_a_matching_template(data: Path) -> None:
    examples = data / "face_recognition" / "examples"
    engine68 = FaceEngine.from_spec(EngineSpec(landmarks=68, jitters=1))
    a = engine68.analyse(load_image(examples / "obama.jpg").pixels)[0]
    b = engine68.analyse(load_image(examples / "obama2.jpg").pixels)[0]
    c = engine68.analyse(load_image(examples / "biden.jpg").pixels)[0]
    assert len(a.landmarks.points) == 5
    assert float(a.embedding @ b.embedding) > 0.93 > float(a.embedding @ c.embedding)
    assert Aligner(68).name == "dlib_68point"
    assert np.isclose(np.linalg.norm(a.embedding), 1.0)
