"""A face shown from a raw H.264 stream comes from the frame it was found in."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from retroface.services.biometrics.face_views import VIEW_PX, face_image
from tests.helpers import raw_h264_stream

pytestmark = pytest.mark.needs_data

FRAMES = 30
STATED_FPS = 12.5


def test_a_face_in_a_raw_stream_is_cut_from_its_own_frame(data: Path, tmp_path: Path) -> None:
    clip = data / "video" / "short_hamilton_clip.mp4"
    raw = raw_h264_stream(clip, tmp_path / "camera3.h264", FRAMES)
    with av.open(str(clip)) as src:
        decoded = [f.to_ndarray(format="rgb24") for f in islice(src.decode(video=0), FRAMES)]
    box = (100, 60, 120, 120)
    index = 20  # timed 20 / 12.5 = 1.6 s when ingested with --fps 12.5
    shown = np.asarray(face_image(raw, box, index / STATED_FPS, index), dtype=np.float32)
    errors = []
    for candidate in (index - 5, index, index + 5):
        expected = np.asarray(face_image_of(decoded[candidate], box), dtype=np.float32)
        errors.append(float(np.abs(shown - expected).mean()))
    assert errors[1] < 1.0 and errors[1] < min(errors[0], errors[2])


def face_image_of(pixels: np.ndarray, box: tuple[int, int, int, int]) -> Image.Image:
    """The same crop face_image makes, from pixels already decoded."""
    x, y, w, h = box
    margin = max(w, h) // 3
    crop = Image.fromarray(pixels).crop((x - margin, y - margin, x + w + margin, y + h + margin))
    return crop.resize((VIEW_PX, VIEW_PX))
