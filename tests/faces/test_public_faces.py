"""The face functions a script calls without a deployment: load, find, template, compare.

Real photos and the real default engine (the one DEFAULT_THRESHOLD was measured with).
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import retroface
from retroface.errors import InvalidInputError, MediaError
from retroface.faces.engine import EngineSpec
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.needs_data

KNN = EXAMPLES / "knn_examples"


def _distinct(paths: list[Path]) -> list[Path]:
    """One path per distinct file: the examples hold the same photo under several names, and
    a photo compared with a copy of itself (score 1.0) proves nothing."""
    seen: dict[str, Path] = {}
    for path in paths:
        seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    return list(seen.values())


def _photos(person: str) -> list[Path]:
    """Every distinct photo of ``person`` in the examples. Left out: obama-240p/480p/720p/1080p
    and obama_small, which are obama.jpg resized (not byte-identical, the same photo)."""
    return _distinct(
        [
            *sorted(EXAMPLES.glob(f"{person}.jpg")),
            *sorted(EXAMPLES.glob(f"{person}2.jpg")),
            *sorted((KNN / "train" / person).iterdir()),
            *sorted((KNN / "test").glob(f"{person}1.jpg")),
        ]
    )


def _template(path: Path) -> np.ndarray:
    templates = retroface.face_templates(retroface.load_image(path))
    assert len(templates) == 1, f"{path.name} should show one face"
    return templates[0]


def test_find_faces_gives_each_face_in_a_real_photo_with_box_landmarks_and_quality() -> None:
    image = retroface.load_image(EXAMPLES / "obama.jpg")
    assert image.dtype == np.uint8 and image.shape == (1137, 910, 3)
    (face,) = retroface.find_faces(image)
    box = face.box
    assert box.x >= 0 and box.x + box.w <= 910 and box.y >= 0 and box.y + box.h <= 1137
    assert box.w > 200  # a portrait: the face fills a good part of the frame
    assert len(face.landmarks.points) == 5
    assert all(
        box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h
        for x, y in face.landmarks.points
    )
    assert 0.5 < face.quality.overall <= 1.0
    assert {"size", "sharpness", "frontal", "detector"} <= set(face.quality.parts)


def test_faces_come_largest_first_and_templates_follow_the_same_order() -> None:
    image = retroface.load_image(EXAMPLES / "two_people.jpg")
    faces = retroface.find_faces(image)
    assert len(faces) == 2
    assert faces[0].box.w * faces[0].box.h >= faces[1].box.w * faces[1].box.h
    found = retroface.face_templates(image)
    given = retroface.face_templates(image, faces=faces)  # no second detection
    assert len(found) == len(given) == 2
    for a, b in zip(found, given, strict=True):
        assert a.dtype == np.float32 and a.shape == (128,)
        assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-5)
        assert retroface.compare(a, b) == pytest.approx(1.0, abs=1e-5)


def test_same_person_scores_above_the_default_threshold_and_different_people_below() -> None:
    obama, biden = _photos("obama"), _photos("biden")
    # The duplicates are really there, and really gone: three and two different photos.
    assert (len(obama), len(biden)) == (3, 2)
    templates = {path: _template(path) for path in [*obama, *biden]}

    def score(a: Path, b: Path) -> float:
        return retroface.compare(templates[a], templates[b])

    same = [score(a, b) for people in (obama, biden) for a, b in itertools.combinations(people, 2)]
    different = [score(a, b) for a in obama for b in biden]
    assert len(same) == 4 and len(different) == 6
    assert min(same) >= retroface.DEFAULT_THRESHOLD > max(different)


def test_compare_is_the_cosine_similarity_of_two_templates() -> None:
    a = np.array([3.0, 4.0], dtype=np.float32)
    assert retroface.compare(a, a) == pytest.approx(1.0)
    assert retroface.compare(a, -a) == pytest.approx(-1.0)
    assert retroface.compare(a, np.array([4.0, -3.0])) == pytest.approx(0.0)
    assert retroface.compare(a, np.array([6.0, 8.0])) == pytest.approx(1.0)  # length aside


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.ones(128), np.ones(512)),  # templates of two different models
        (np.ones((2, 128)), np.ones((2, 128))),
        (np.zeros(128), np.ones(128)),
        (np.full(128, np.nan), np.ones(128)),
    ],
)
def test_compare_refuses_what_is_not_a_pair_of_templates(a: np.ndarray, b: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        retroface.compare(a, b)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64, 3), dtype=np.float32),  # pixels as floats
        np.zeros((64, 64), dtype=np.uint8),  # grey, no channel axis
        np.zeros((64, 64, 4), dtype=np.uint8),  # RGBA
        np.zeros((0, 64, 3), dtype=np.uint8),
    ],
)
def test_find_faces_refuses_what_is_not_an_rgb_image(image: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="load_image"):
        retroface.find_faces(image)


def test_a_photo_without_a_face_gives_no_faces_and_no_templates() -> None:
    blank = np.full((200, 200, 3), 127, dtype=np.uint8)
    assert retroface.find_faces(blank) == [] and retroface.face_templates(blank) == []


def test_load_image_turns_the_photo_upright_as_its_exif_says(tmp_path: Path) -> None:
    path = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    Image.new("RGB", (40, 20), (200, 10, 10)).save(path, exif=exif)
    assert retroface.load_image(path).shape == (40, 20, 3)
    with pytest.raises(MediaError, match="no such file"):
        retroface.load_image(tmp_path / "missing.jpg")


def test_the_default_engine_is_the_measured_one_and_is_built_once() -> None:
    engine = retroface.default_engine()
    assert engine is retroface.default_engine()
    spec = EngineSpec()
    assert engine.jitters == spec.jitters == 2 and engine.mirror
    assert [engine.aligner.points, *(a.points for a in engine.extra_aligners)] == list(
        spec.alignments
    )
