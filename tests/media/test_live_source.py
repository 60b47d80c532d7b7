"""The live frame source: what it accepts, how it fails, and that it drops rather than lags."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from retroface.errors import MediaError
from retroface.media.live_source import LiveSource, source_spec


def test_sources_are_classified_and_nonsense_is_a_clear_error(tmp_path: Path) -> None:
    assert source_spec("rtsp://cam-2/stream").kind == "stream"
    assert source_spec("rtsp://cam-2/stream").options["rtsp_transport"] == "tcp"
    assert source_spec("camera:0").url == "/dev/video0"
    assert source_spec("/dev/video1").kind == "device"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video")
    assert source_spec(str(clip)).kind == "file" and source_spec(str(clip)).paced
    for bad, message in (("", "no live source"), ("camera:x", "camera:N"),
                         (str(tmp_path / "missing.mp4"), "no such file")):  # fmt: skip
        with pytest.raises(MediaError, match=message):
            source_spec(bad)
    with pytest.raises(MediaError, match="cannot open the live source"):
        LiveSource(source_spec(str(clip)))


def test_an_unreachable_stream_fails_fast_with_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match="cannot open the live source"):
        LiveSource(source_spec("rtsp://127.0.0.1:9/none"))
    assert time.monotonic() - started < 10


@pytest.mark.needs_data
def test_a_slow_consumer_sees_the_newest_frames_and_the_rest_are_counted(data: Path) -> None:
    clip = data / "video" / "short_hamilton_clip.mp4"
    started = time.monotonic()
    seen: list[float] = []
    with LiveSource(source_spec(str(clip))) as live:
        for frame in live.frames():
            seen.append(frame.stream_s)
            time.sleep(0.2)  # a consumer at 5 frames/s against a 30 frames/s source
    elapsed = time.monotonic() - started
    assert live.decoded == 275 and len(seen) + live.dropped == live.decoded
    assert 30 <= len(seen) <= 60 and live.error is None
    assert seen == sorted(seen) and seen[-1] > 8.5  # it kept up to the end of the clip
    assert elapsed < 11  # played at its real rate (9.2 s), not slowed by the consumer
