"""CCTV export formats: raw H.264/H.265 elementary streams timed by a stated frame rate,
other containers FFmpeg reads (ASF), and files told apart by content, not by name.

Every stream here is made in the test from the real clip: the H.264 one by copying its
first 40 coded frames out of the MP4 (the same bitstream, so the same pixels), the others
by encoding a dozen small frames.
"""

from __future__ import annotations

import hashlib
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from retroface.errors import MediaError
from retroface.media.media_kind import media_kind
from retroface.media.video_reader import (
    FrameRateNeededError,
    SamplingPolicy,
    VideoFrame,
    is_video_path,
    iter_frames,
    probe_video,
)
from tests.helpers import raw_h264_stream

pytestmark = pytest.mark.needs_data

RAW_FRAMES = 40
FPS = 12.5  # deliberately not the clip's 29.97 nor FFmpeg's assumed 25


@pytest.fixture(scope="module")
def hamilton(data: Path) -> Path:
    return data / "video" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def clip_frames(hamilton: Path) -> list[np.ndarray]:
    """The MP4's first frames as its own reader decodes them."""
    with av.open(str(hamilton)) as src:
        frames = []
        for frame in src.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == RAW_FRAMES:
                return frames
    raise AssertionError("the clip is shorter than expected")


@pytest.fixture(scope="module")
def raw_h264(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip's first coded frames as an Annex B elementary stream (what a DVR exports)."""
    return raw_h264_stream(hamilton, tmp_path_factory.mktemp("raw") / "camera3.h264", RAW_FRAMES)


def _encode(hamilton: Path, path: Path, fmt: str, codec: str, frames: int = 12) -> Path:
    """Small frames of the clip, each marked with its number: a white block at x = 20 * n in
    a black band along the top, so a decoded frame tells which one it is."""
    with av.open(str(hamilton)) as src, av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 176, "yuv420p"
        if codec == "libx265":
            stream.options = {"x265-params": "log-level=error"}
        for number, frame in enumerate(src.decode(video=0)):
            if number == frames:
                break
            pixels = frame.reformat(320, 176).to_ndarray(format="rgb24")
            pixels[:16] = 0
            pixels[:16, 20 * number : 20 * number + 16] = 255
            marked = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            marked.pts, marked.time_base = number, Fraction(1, 25)
            out.mux(stream.encode(marked))
        out.mux(stream.encode(None))
    return path


def _marker(frame: VideoFrame) -> int:
    band = frame.pixels[:16].mean(axis=(0, 2))
    return int(np.argmax(band)) // 20


def _times(frames: list[VideoFrame]) -> list[tuple[int, float]]:
    return [(f.index, f.time_s) for f in frames]


def test_a_raw_stream_without_a_stated_frame_rate_is_refused(raw_h264: Path) -> None:
    """FFmpeg would silently number the frames at 25 fps; the reader asks instead."""
    with pytest.raises(FrameRateNeededError, match=r"no timestamps.*--fps N"):
        probe_video(raw_h264)
    with pytest.raises(FrameRateNeededError, match="--fps"):
        next(iter(iter_frames(raw_h264, SamplingPolicy("all", 0))))
    with pytest.raises(MediaError, match="--fps must be above 0"):
        SamplingPolicy("all", 0, stream_fps=0)


def test_raw_h264_frames_are_timed_by_the_stated_rate(
    raw_h264: Path, clip_frames: list[np.ndarray]
) -> None:
    info = probe_video(raw_h264, stream_fps=FPS)
    assert info.timestamps_from_fps and info.fps == FPS and info.codec == "h264"
    assert (info.width, info.height) == (640, 360)
    assert info.duration_s is None and info.frame_count is None  # nothing FFmpeg guessed
    assert info.sha256 == hashlib.sha256(raw_h264.read_bytes()).hexdigest()

    frames = list(iter_frames(raw_h264, SamplingPolicy("all", 0, stream_fps=FPS)))
    assert _times(frames) == [(i, round(i / FPS, 6)) for i in range(RAW_FRAMES)]
    # Frame i is the MP4's frame i: nothing skipped, nothing reordered.
    assert all(np.array_equal(f.pixels, clip_frames[f.index]) for f in frames)


def test_sampling_and_windows_of_a_raw_stream_keep_index_over_rate(raw_h264: Path) -> None:
    def read(text: str, **window: float) -> list[tuple[int, float]]:
        policy = SamplingPolicy.parse(text)
        stated = SamplingPolicy(policy.mode, policy.value, stream_fps=FPS)
        return _times(list(iter_frames(raw_h264, stated, **window)))

    assert read("every:10") == [(0, 0.0), (10, 0.8), (20, 1.6), (30, 2.4)]
    assert read("fps:2.5") == [(i, i / FPS) for i in range(0, RAW_FRAMES, 5)]
    assert read("keyframes") == [(0, 0.0)]
    assert read("all", start_s=1.0, end_s=1.4) == [(i, i / FPS) for i in range(13, 18)]


def test_raw_h265_with_b_frames_comes_out_in_presentation_order(
    hamilton: Path, tmp_path: Path
) -> None:
    path = _encode(hamilton, tmp_path / "cam.265", "hevc", "libx265")
    frames = list(iter_frames(path, SamplingPolicy("all", 0, stream_fps=25.0)))
    assert _times(frames) == [(i, i / 25) for i in range(12)]
    assert [_marker(f) for f in frames] == list(range(12))  # frame i shows marker i


def test_files_are_told_apart_by_content_not_by_name(
    raw_h264: Path, hamilton: Path, data: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "export.bin"
    shutil.copy(raw_h264, renamed)
    assert is_video_path(renamed) and media_kind(renamed) == "video"
    info = probe_video(renamed, stream_fps=FPS)
    assert info.timestamps_from_fps and info.codec == "h264"

    container = tmp_path / "recorder-export.dat"  # an MP4 under a recorder's own suffix
    shutil.copy(hamilton, container)
    info = probe_video(container, stream_fps=FPS)  # has timestamps: the stated rate is unused
    assert is_video_path(container) and not info.timestamps_from_fps
    assert info.fps == pytest.approx(29.97, abs=0.01)

    photo = tmp_path / "still.mp4"  # a photo under a video's suffix is a photo
    shutil.copy(data / "face_recognition" / "examples" / "lin-manuel-miranda.png", photo)
    assert media_kind(photo) == "image" and not is_video_path(photo)
    notes = tmp_path / "notes.bin"
    notes.write_text("case notes, not footage\n")
    assert media_kind(notes) is None and not is_video_path(notes)
    # Content neither reader knows: the suffix picks the reader that says what is wrong.
    garbled = tmp_path / "garbled.h264"
    garbled.write_text("case notes, not footage\n")
    empty = tmp_path / "empty.dav"
    empty.touch()
    assert is_video_path(garbled) and is_video_path(empty)
    with pytest.raises(MediaError, match="not a video file retroface can read"):
        probe_video(garbled, stream_fps=FPS)
    with pytest.raises(MediaError, match="the file is empty"):
        probe_video(empty)
    # A name that is no file (yet): an upload's or a folder entry's suffix is all there is.
    assert all(
        media_kind(tmp_path / f"absent{suffix}") == "video"
        for suffix in (".264", ".h264", ".265", ".h265", ".hevc", ".dav", ".asf")
    )
    assert media_kind(tmp_path / "absent.bin") is None
    assert media_kind(tmp_path / "absent.jpg") == "image"


def test_asf_is_read_with_its_own_timestamps(hamilton: Path, tmp_path: Path) -> None:
    path = _encode(hamilton, tmp_path / "dvr-export.bin", "asf", "wmv2")
    assert is_video_path(path)
    info = probe_video(path)
    assert not info.timestamps_from_fps and (info.width, info.height) == (320, 176)
    frames = list(iter_frames(path, SamplingPolicy("all", 0)))
    assert [f.index for f in frames] == list(range(12))
    assert [f.time_s for f in frames] == pytest.approx([i / 25 for i in range(12)])
    assert [_marker(f) for f in frames] == list(range(12))
