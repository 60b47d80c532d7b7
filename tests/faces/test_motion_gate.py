"""Motion gating and appearance reuse in footage scans: a still picture needs no new search,
a moving face is searched where it moved, a complete scan still comes often, and a face
re-found where its track was keeps the track's template only when nobody else is near."""

from __future__ import annotations

import numpy as np

from retroface.faces.motion_gate import BLOCK_PX, MotionGate, touches
from retroface.faces.tracking import FaceTracker, TrackerSettings
from retroface.faces.types import AnalysedFace, Box, Detection, Landmarks, ModelInfo, Quality


def _frame(square_at: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(3)
    pixels = rng.integers(60, 90, (360, 640, 3), dtype=np.uint8)
    if square_at is not None:
        pixels[100:164, square_at : square_at + 64] = 230
    return pixels


def test_a_still_picture_needs_no_new_search_until_the_complete_scan() -> None:
    gate = MotionGate(complete_every_s=5.0)
    assert gate.changed(_frame(), 0.0, cut=False) is None  # the first scan is complete
    still = gate.changed(_frame(), 1.0, cut=False)
    assert still is not None and not still.any()
    assert gate.changed(_frame(), 5.0, cut=False) is None  # the safety net
    assert gate.changed(_frame(), 6.0, cut=True) is None  # a cut: new scene


def test_a_moving_face_is_searched_where_it_moved_and_where_it_was() -> None:
    gate = MotionGate(complete_every_s=5.0)
    gate.changed(_frame(100), 0.0, cut=False)
    moved = gate.changed(_frame(300), 1.0, cut=False)
    assert moved is not None
    assert touches(moved, 300, 100, 64) and touches(moved, 100, 100, 64)
    assert not touches(moved, 500, 250, 64)
    # Still again: the blocks that changed last time are searched once more, then none.
    again = gate.changed(_frame(300), 2.0, cut=False)
    assert again is not None and touches(again, 300, 100, 64)
    quiet = gate.changed(_frame(300), 3.0, cut=False)
    assert quiet is not None and not quiet.any()
    assert moved.shape == (360 // BLOCK_PX, 640 // BLOCK_PX)


def _face(box: Box, vector: np.ndarray) -> AnalysedFace:
    return AnalysedFace(
        detection=Detection(box, 1.0, "test"),
        landmarks=Landmarks(((0.0, 0.0),) * 5),
        quality=Quality(0.8),
        embedding=(vector / np.linalg.norm(vector)).astype(np.float32),
        model=ModelInfo("m", "1", 4),
    )


def test_a_face_refound_where_its_track_was_keeps_the_tracks_template() -> None:
    tracker = FaceTracker(TrackerSettings())
    alone = _face(Box(100, 100, 60, 60), np.array([1.0, 0, 0, 0]))
    tracker.update(0, 0.0, [alone])
    known = tracker.known_appearance(Box(108, 104, 60, 60), 0.2)
    assert known is not None and np.allclose(known, alone.embedding)
    assert tracker.known_appearance(Box(300, 100, 60, 60), 0.2) is None  # elsewhere
    assert tracker.known_appearance(Box(100, 100, 120, 120), 0.2) is None  # not the same size
    assert (
        FaceTracker(TrackerSettings(reuse_min_iou=0)).known_appearance(alone.detection.box, 0.2)
        is None
    )


def test_two_faces_crossing_are_each_embedded_again() -> None:
    tracker = FaceTracker(TrackerSettings())
    a = _face(Box(100, 100, 60, 60), np.array([1.0, 0, 0, 0]))
    b = _face(Box(140, 100, 60, 60), np.array([0, 1.0, 0, 0]))
    tracker.update(0, 0.0, [a, b])
    assert tracker.known_appearance(Box(120, 100, 60, 60), 0.2) is None
