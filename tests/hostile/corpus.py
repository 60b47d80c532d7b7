"""Generate a corpus of malformed, hostile and awkward evidence files (nothing is committed).

Every file is made at test time from one real face photo and one real clip,
so the corpus is deterministic (fixed seeds) and covers, per format, the
ways files arrive broken from seized devices: truncated, bit-flipped, empty,
header-only, misnamed; plus decompression bombs, extreme sizes, unusual
colour modes, animations, broken and stream-less videos, and hostile names.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

IMAGE_FORMATS = {
    "jpg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "tif": "TIFF",
    "bmp": "BMP",
}
VIDEO_FORMATS = ("mp4", "mkv", "avi")
FLIPS_PER_FILE = 14


@dataclass(frozen=True)
class Case:
    path: Path
    kind: str
    #: True: the file must be read (a face may be found); False: a clear error; None: either.
    readable: bool | None


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _flipped(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(buf))
        buf[position] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG header declaring width x height pixels, with a tiny (compressed) body."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _clip_bytes(source: Path, container: str, seconds: float = 1.0) -> bytes:
    """Re-encode the first ``seconds`` of a real clip into ``container`` (small, valid)."""
    out = io.BytesIO()
    with (
        av.open(str(source)) as src,
        av.open(out, "w", format={"mkv": "matroska"}.get(container, container)) as dst,
    ):
        stream = dst.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index, frame in enumerate(src.decode(video=0)):
            if frame.time is not None and frame.time > seconds:
                break
            small = frame.reformat(320, 180, "yuv420p")
            small.pts, small.time_base = index, Fraction(1, 10)
            for packet in stream.encode(small):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out.getvalue()


def _audio_only(container: str) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format={"mkv": "matroska"}.get(container, container)) as dst:
        stream = dst.add_stream("mp2", rate=16000)
        stream.layout = "mono"
        samples = np.zeros((1, 1152), dtype=np.int16)
        for _ in range(10):
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out.getvalue()


def _zero_frames(container: str) -> bytes:
    """A container that declares a video stream and holds not one frame."""
    out = io.BytesIO()
    with av.open(out, "w", format={"mkv": "matroska"}.get(container, container)) as dst:
        stream = dst.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    return out.getvalue()


def build_corpus(folder: Path, face_photo: Path, clip: Path) -> list[Case]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261126)
    cases: list[Case] = []

    def add(name: str, data: bytes, kind: str, readable: bool | None) -> None:
        path = folder / name
        path.write_bytes(data)
        cases.append(Case(path, kind, readable))

    photo = Image.open(face_photo).convert("RGB")
    photo.thumbnail((400, 400))
    for ext, fmt in IMAGE_FORMATS.items():
        good = _encode(photo, fmt)
        add(f"good.{ext}", good, "valid", True)
        for fraction in (0.1, 0.5, 0.9):
            add(
                f"truncated-{int(fraction * 100)}.{ext}",
                good[: int(len(good) * fraction)],
                "truncated",
                None,
            )
        for i in range(FLIPS_PER_FILE):
            add(f"flipped-{i}.{ext}", _flipped(good, rng), "bit-flipped", None)
        add(f"empty.{ext}", b"", "zero-byte", False)
        add(f"header-only.{ext}", good[:16], "header-only", False)
        add(f"text-named.{ext}", b"this is not an image\n", "wrong content", False)
    add("png-named.jpg", _encode(photo, "PNG"), "wrong extension", True)
    add("jpeg-named.png", _encode(photo, "JPEG"), "wrong extension", True)
    add("bomb.png", _png_bomb(30000, 30000), "decompression bomb", False)
    add("bomb-wide.png", _png_bomb(1_000_000, 200), "decompression bomb", False)
    add("one-pixel.png", _encode(Image.new("RGB", (1, 1), (128, 128, 128)), "PNG"), "1x1", True)
    add("cmyk.jpg", _encode(photo.convert("CMYK"), "JPEG"), "CMYK", True)
    sixteen = Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    add("sixteen-bit.png", _encode(sixteen, "PNG"), "16-bit", True)
    add("grey-alpha.png", _encode(photo.convert("LA"), "PNG"), "LA", True)
    add("palette.gif", _encode(photo.convert("P"), "GIF"), "palette", True)
    frames = [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    add(
        "animated.gif",
        _encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "animated",
        True,
    )
    add(
        "animated.webp",
        _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
        "animated",
        True,
    )
    for name in (
        "name with spaces.jpg",
        "Ñandú 顔 写真.jpg",
        "-rf.jpg",
        "--help.jpg",
        "..hidden.jpg",
    ):
        add(name, _encode(photo, "JPEG"), "hostile name", True)

    for container in VIDEO_FORMATS:
        good = _clip_bytes(clip, container)
        add(f"good.{container}", good, "valid video", True)
        for fraction in (0.1, 0.5, 0.9):
            add(
                f"truncated-{int(fraction * 100)}.{container}",
                good[: int(len(good) * fraction)],
                "truncated video",
                None,
            )
        for i in range(FLIPS_PER_FILE):
            add(f"flipped-{i}.{container}", _flipped(good, rng), "bit-flipped video", None)
        add(f"empty.{container}", b"", "zero-byte video", False)
        add(f"text-named.{container}", b"not a video at all\n" * 20, "wrong content video", False)
        add(f"audio-only.{container}", _audio_only(container), "audio only", False)
        add(f"zero-frames.{container}", _zero_frames(container), "zero frames", False)
    return cases
