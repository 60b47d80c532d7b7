"""Motion gating and appearance reuse in footage scans: a still picture needs no new search,
a moving face is searched where it moved, a complete scan still comes often, and a face
re-found where its track was keeps the track's template only when nobody else is near."""

from __future__ import annotations

import numpy as np

from retroface.faces.motion_gate import BLOCK_PX, MotionGate, SinceLastLook, touches
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


def test_the_fallback_looks_only_where_the_picture_changed_since_it_last_looked() -> None:
    since = SinceLastLook()
    assert since.region(_frame(), cut=False) == (0, 0, 640, 360)  # the first look: everywhere
    assert since.region(_frame(), cut=False) is None  # the same picture: nowhere
    x0, y0, x1, y1 = since.region(_frame(square_at=300), cut=False) or (0, 0, 0, 0)
    # Around the square (300..364 x 100..164), with a margin, not the whole frame.
    assert x0 <= 300 and y0 <= 100 and x1 >= 364 and y1 >= 164
    assert (x1 - x0) * (y1 - y0) < 640 * 360 / 2
    assert since.region(_frame(square_at=300), cut=False) is None  # looked there already
    assert since.region(_frame(square_at=300), cut=True) == (0, 0, 640, 360)  # a new scene


def test_a_slow_change_still_counts_once_it_adds_up() -> None:
    since = SinceLastLook()
    base = _frame()
    since.region(base, cut=False)
    drifting = base.copy()
    for step in range(1, 4):  # +3 grey levels each time: under the threshold at first
        drifting = np.clip(base.astype(int) + 3 * step, 0, 255).astype(np.uint8)
        region = since.region(drifting, cut=False)
        if step < 3:
            assert region is None, step
    assert region == (0, 0, 640, 360)  # 9 levels since the last look: everywhere again
