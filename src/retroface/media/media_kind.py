"""Tell an image from a video from neither, by what is in the file rather than its name.

Why content first: CCTV exports arrive as raw H.264/H.265 streams (``.264``,
``.h265``...), Dahua ``.dav``, ``.asf`` or a recorder's own suffix, and seized
files are renamed (``clip.bin``, no suffix at all). A file that exists is
asked of Pillow (an image format retroface accepts) and then of FFmpeg (a
container with a video stream, other than FFmpeg's single-image readers).
The suffix decides only where content cannot: a name that is not (yet) a
file (an upload checked before it is stored, a name met while walking a
folder), and a file neither reader recognises (empty, truncated, corrupt), so
that the reader its name points to says what is wrong with it.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Literal

import av
from PIL import Image, UnidentifiedImageError

from retroface.media.image_loader import ACCEPTED_FORMATS, IMAGE_SUFFIXES

MediaKind = Literal["image", "video"]

#: Suffixes taken as video when walking folders or checking an upload's name. Named
#: files are judged by content, whatever their suffix.
VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".m2ts",
        ".3gp",
        ".flv",
        ".wmv",
        ".asf",
        ".vob",
        ".ogv",
        ".mxf",
        ".dav",  # Dahua recorders (FFmpeg's dhav)
        ".264",  # raw H.264/H.265 elementary streams: no timestamps, need a stated frame rate
        ".h264",
        ".265",
        ".h265",
        ".hevc",
    }
)

#: FFmpeg demuxers that read one still image (or a pipe of them): images, not footage.
_IMAGE_DEMUXERS = frozenset({"image2", "image2pipe", "gif", "apng", "ico", "tty"})
#: ISO base media brands of still images (HEIF, AVIF), which FFmpeg opens like an MP4.
_IMAGE_BRANDS = frozenset({"heic", "heix", "heim", "heis", "mif1", "msf1", "avif", "avis"})


def media_kind(path: Path) -> MediaKind | None:
    """``"image"``, ``"video"`` or None (neither): by content for a file, by suffix for a name
    that is not a regular file or a file whose content neither reader recognises."""
    try:
        stat = path.stat()
    except OSError:
        return _kind_by_suffix(path)
    if not path.is_file():
        return _kind_by_suffix(path)
    kind = _kind_by_content(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return kind or _kind_by_suffix(path)


def _kind_by_suffix(path: Path) -> MediaKind | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return "video" if suffix in VIDEO_SUFFIXES else None


@functools.lru_cache(maxsize=4096)
def _kind_by_content(path: str, size: int, mtime_ns: int) -> MediaKind | None:
    """Cached per file version (size, modification time): callers ask more than once."""
    del mtime_ns  # part of the cache key only
    if size == 0:
        return None
    if _is_image(path):
        return "image"
    return "video" if _is_video(path) else None


def _is_image(path: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return image.format in ACCEPTED_FORMATS
    except Image.DecompressionBombError:
        return True  # an image, too large: the image loader refuses it with the reason
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return False


def _is_video(path: str) -> bool:
    try:
        container = av.open(path, mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        return False
    try:
        name = container.format.name
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        image_reader = name in _IMAGE_DEMUXERS or name.endswith("_pipe")
        return bool(container.streams.video) and not image_reader and brand not in _IMAGE_BRANDS
    finally:
        container.close()
