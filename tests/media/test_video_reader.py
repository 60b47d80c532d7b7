"""Video decoding on real footage: sampling policies, real timestamps, hashes, partial results."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import av
import pytest

from retroface.errors import MediaError
from retroface.media.video_reader import (
    SamplingPolicy,
    VideoDecodeError,
    iter_frames,
    probe_video,
)

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def hamilton(data: Path) -> Path:
    return data / "video" / "short_hamilton_clip.mp4"


def test_probe_reports_geometry_rate_and_hash(hamilton: Path) -> None:
    info = probe_video(hamilton)
    assert (info.width, info.height, info.codec) == (640, 360, "h264")
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.frame_count == 275
    assert info.sha256 == hashlib.sha256(hamilton.read_bytes()).hexdigest()


def test_all_frames_have_increasing_presentation_times(hamilton: Path) -> None:
    frames = list(iter_frames(hamilton, SamplingPolicy("all", 0)))
    assert len(frames) == 275
    times = [f.time_s for f in frames]
    assert times[0] == 0.0 and all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(274 / 29.97, abs=0.05)
    assert frames[0].pixels.shape == (360, 640, 3)


def test_sampling_policies(hamilton: Path) -> None:
    per_second = list(iter_frames(hamilton, SamplingPolicy.parse("fps:2")))
    assert [round(f.time_s, 1) for f in per_second[:4]] == [0.0, 0.5, 1.0, 1.5]
    assert len(per_second) == 19  # 0.0 .. 9.0 s every 0.5 s
    nth = list(iter_frames(hamilton, SamplingPolicy.parse("every:10")))
    assert [f.index for f in nth] == list(range(0, 275, 10))
    keyframes = list(iter_frames(hamilton, SamplingPolicy.parse("keyframes")))
    assert 1 <= len(keyframes) < 20 and keyframes[0].time_s == 0.0


@pytest.mark.parametrize(
    ("clip", "seconds"),
    [
        # B-frames between I- and P-frames 0.16 s apart: the B-frames need no decoding.
        ("covent_garden_crowd.mp4", 4.2),
        # I- and P-frames up to 0.5 s apart (runs of B-frames): decoding them only would
        # sample two or three frames a second, so B-frames are decoded again.
        ("one-by-one-person-detection.mp4", 20.0),
    ],
)
def test_sparse_sampling_keeps_its_rate_whatever_frames_it_skips(
    data: Path, clip: str, seconds: float
) -> None:
    frames = list(iter_frames(data / "video" / clip, SamplingPolicy.parse("fps:5"), end_s=seconds))
    times = [f.time_s for f in frames]
    assert len(frames) >= round(seconds * 5) - 3, times
    # Each sample at most one decoded frame after the time it wanted (0.2 s apart), but for
    # two while the decoder finds out what it may skip.
    late = [(a, b) for a, b in itertools.pairwise(times) if b - a > 0.2 + 0.17]
    assert len(late) <= 2 and all(a < 1.0 for a, _ in late), late
    assert all(b - a >= 0.05 - 1e-6 for a, b in itertools.pairwise(times)), times


def test_frames_are_rgb_as_ffmpeg_converts_them(data: Path) -> None:
    """The fast chroma path gives the bytes of FFmpeg's default conversion."""
    path = data / "video" / "covent_garden_crowd.mp4"
    ours = next(iter(iter_frames(path, SamplingPolicy("all", 0)))).pixels
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        reference = frame.to_ndarray(format="rgb24")
    assert ours.shape == (1080, 1920, 3) and (ours == reference).all()


def test_time_window(hamilton: Path) -> None:
    frames = list(iter_frames(hamilton, SamplingPolicy("all", 0), start_s=2.0, end_s=3.0))
    assert frames and all(2.0 <= f.time_s <= 3.0 for f in frames)


def test_wall_clock_time_from_container_creation_time(data: Path) -> None:
    path = data / "video" / "one-by-one-person-detection.mp4"
    info = probe_video(path)
    assert info.start_time is not None and info.start_time.year == 2017
    first = next(iter(iter_frames(path, SamplingPolicy("every_nth", 100), start_s=10.0)))
    assert (first.wall_time(info) - info.start_time).total_seconds() == pytest.approx(first.time_s)


def test_truncated_video_gives_partial_frames_then_a_clear_error(
    hamilton: Path, tmp_path: Path
) -> None:
    remuxed = tmp_path / "clip.mkv"  # Matroska keeps its index at the front, like many recorders
    with av.open(str(hamilton)) as src, av.open(str(remuxed), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    raw = remuxed.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(raw[: len(raw) // 2])
    frames = []
    with pytest.raises(VideoDecodeError, match="truncated") as caught:
        frames.extend(iter_frames(cut, SamplingPolicy("all", 0)))
    assert 50 < len(frames) < 275 and caught.value.frames_decoded == len(frames)


@pytest.mark.parametrize("content", [b"", b"\x00" * 4096, b"RIFF....AVI LIST garbage"])
def test_unreadable_files_are_media_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "evidence.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError):
        probe_video(path)


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=800)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(MediaError, match="no video stream"):
        probe_video(path)


def test_bad_sampling_spec() -> None:
    with pytest.raises(MediaError, match="unknown sampling"):
        SamplingPolicy.parse("sometimes")
