"""Frames from a live source as they happen: a camera never waits for the recogniser.

A decoding thread publishes each frame into a one-frame slot. If the
consumer has not taken the previous frame by then, that frame is replaced
and counted as dropped: when processing falls behind, the system stays
current (latency bounded by one frame's processing) instead of building a
backlog that makes every alert later than the last. A video file is played
at its real frame rate (paced by its timestamps), so it behaves like a
camera; streams (RTSP, HTTP, UDP) and capture devices arrive in real time.

Frames live only in memory; nothing here writes to disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import numpy as np
from numpy.typing import NDArray

from retroface.errors import MediaError

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "rtmp://", "srt://")


@dataclass(frozen=True)
class LiveFrame:
    sequence: int  # 0-based count of decoded frames
    stream_s: float  # seconds since the first frame
    captured: float  # time.monotonic() when the frame became available
    pixels: NDArray[np.uint8]  # RGB uint8


@dataclass(frozen=True)
class SourceSpec:
    """Where frames come from and how to open them."""

    url: str
    format: str | None
    options: dict[str, str]
    paced: bool  # a file: hold each frame until its time comes

    @property
    def kind(self) -> str:
        if self.paced:
            return "file"
        return "device" if self.format else "stream"


def source_spec(source: str) -> SourceSpec:
    """Classify SOURCE: a stream URL, a capture device (/dev/videoN or camera:N), or a file."""
    text = source.strip()
    if not text:
        raise MediaError("no live source given")
    if text.lower().startswith(STREAM_SCHEMES):
        options = {"rtsp_transport": "tcp"} if text.lower().startswith("rtsp") else {}
        options["timeout"] = "5000000"  # microseconds: a dead camera is an error, not a hang
        return SourceSpec(text, None, options, paced=False)
    if text.startswith("camera:"):
        number = text.removeprefix("camera:")
        if not number.isdigit():
            raise MediaError(f"{text}: a camera is camera:N (N = 0, 1, ...)")
        text = f"/dev/video{number}"
    if text.startswith("/dev/video"):
        return SourceSpec(text, "v4l2", {}, paced=False)
    path = Path(text)
    if not path.is_file():
        raise MediaError(f"{text}: no such file, and not a stream URL or camera")
    return SourceSpec(str(path), None, {}, paced=True)


class LiveSource:
    """Decode SOURCE in a background thread; hand the consumer only the newest frame."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.decoded = 0
        self.dropped = 0
        self.error: str | None = None
        self.fps: float | None = None
        self._slot: LiveFrame | None = None
        self._ended = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._container: av.container.InputContainer | None = self._open()
        self._thread = threading.Thread(target=self._decode, name="live-decoder", daemon=True)

    def _open(self) -> av.container.InputContainer:
        try:
            container = av.open(
                self.spec.url, mode="r", format=self.spec.format, options=self.spec.options
            )
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MediaError(f"{self.spec.url}: cannot open the live source ({exc})") from exc
        if not container.streams.video:
            container.close()
            raise MediaError(f"{self.spec.url}: the source has no video stream")
        rate = container.streams.video[0].average_rate
        self.fps = float(rate) if rate else None
        return container

    def __enter__(self) -> LiveSource:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Idempotent: stop decoding, wait for the thread, close the source."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._container is not None:
            self._container.close()
            self._container = None

    def frames(self) -> Iterator[LiveFrame]:
        """The newest frame each time the consumer asks, until the source ends or stops."""
        while True:
            with self._cond:
                while self._slot is None and not self._ended and not self._stop.is_set():
                    self._cond.wait(timeout=0.5)
                frame, self._slot = self._slot, None
                if frame is None:
                    return
            yield frame

    def _publish(self, frame: LiveFrame) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1  # the consumer was still busy: this frame is never seen
            self._slot = frame
            self._cond.notify_all()

    def _decode(self) -> None:
        container = self._container
        assert container is not None  # stop() drops it only after joining this thread
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        started = time.monotonic()
        first: float | None = None
        try:
            for frame in container.decode(stream):
                if self._stop.is_set():
                    break
                pts = float(frame.time) if frame.time is not None else None
                if pts is None:
                    pts = self.decoded / (self.fps or 25.0)
                first = pts if first is None else first
                stream_s = pts - first
                if self.spec.paced:
                    wait = started + stream_s - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        break
                pixels = cast(NDArray[np.uint8], frame.to_ndarray(format="rgb24"))  # rgb24: uint8
                self._publish(LiveFrame(self.decoded, stream_s, time.monotonic(), pixels))
                self.decoded += 1
        except (av.error.FFmpegError, OSError) as exc:
            self.error = f"{self.spec.url}: the source failed after {self.decoded} frames ({exc})"
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
