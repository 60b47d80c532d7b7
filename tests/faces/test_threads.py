"""dlib's HOG detectors called from several threads at once give what they give one at a time.

dlib's HOG detector releases the GIL while it runs and keeps its working state
in the object, so without the wrapper's lock two threads in one detector crash
the process (a server enrolling while a search job ran did, in CI; both tests
here crash without it). Each wrapper runs from four threads on real photos and
is compared with the results of one thread. The CNN, shape predictors and
ResNet hold the GIL in this dlib, so threads cannot interleave inside them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retroface.faces.detector import HogDetector, RegionDetector
from retroface.faces.types import Box
from retroface.media import load_image

pytestmark = pytest.mark.needs_data

THREADS = 4
ROUNDS = 6


@pytest.fixture(scope="module")
def photos(data: Path) -> list[np.ndarray]:
    """Forty LFW photos of different people (different faces, sizes and poses)."""
    people = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())[:40]
    return [load_image(sorted(person.glob("*.jpg"))[0]).pixels for person in people]


@pytest.fixture(scope="module")
def faces(photos: list[np.ndarray]) -> list[tuple[np.ndarray, Box]]:
    hog = HogDetector()
    found = [(pixels, hog.detect(pixels)) for pixels in photos]
    return [(pixels, detections[0].box) for pixels, detections in found if detections]


def _same_from_threads(items: list[Any], call: Callable[[Any], Any]) -> None:
    """``call`` on every item from ``THREADS`` threads at once, ``ROUNDS`` times each, equals
    ``call`` run one item at a time."""
    alone = [call(item) for item in items]
    work = [index for _ in range(ROUNDS) for index in range(len(items))]
    with ThreadPoolExecutor(THREADS) as pool:
        together = list(pool.map(lambda index: (index, call(items[index])), work))
    for index, result in together:
        np.testing.assert_array_equal(np.asarray(result), np.asarray(alone[index]))


def _boxes(detections: list[Any]) -> list[tuple[int, int, int, int]]:
    return [(d.box.x, d.box.y, d.box.w, d.box.h) for d in detections]


def test_hog_detector_from_threads(photos: list[np.ndarray]) -> None:
    hog = HogDetector()
    assert sum(bool(hog.detect(pixels)) for pixels in photos) >= 30  # mostly faces found
    _same_from_threads(photos, lambda pixels: _boxes(hog.detect(pixels)))


def test_region_detector_from_threads(faces: list[tuple[np.ndarray, Box]]) -> None:
    region = RegionDetector()
    _same_from_threads(faces, lambda face: _boxes(region.detect(face[0], face[1])))
