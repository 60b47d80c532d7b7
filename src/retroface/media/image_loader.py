"""Open a still image as 8-bit RGB pixels, hashed, oriented and size-checked.

Why so careful: evidence comes from seized phones and the web. Files lie
about their type, are truncated, carry EXIF rotation, use 16-bit or
palette+alpha modes, or are crafted to exhaust memory. We hash and decode
the same bytes (no time-of-check/time-of-use gap), check the pixel count
from the header before decoding, and turn every failure into a
:class:`MediaError` a person can act on.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from retroface.errors import MediaError, MediaTooLargeError
from retroface.media.evidence_hash import sha256_bytes

try:  # HEIC/HEIF from phones, where the optional plug-in is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - depends on the installation
    pass

#: Pillow format names we accept; anything else (PDF, EPS, ICO ...) is refused.
ACCEPTED_FORMATS = frozenset(
    {"JPEG", "MPO", "PNG", "GIF", "WEBP", "PPM", "BMP", "TIFF", "HEIF", "AVIF"}
)

#: File suffixes treated as images when walking folders. Files without a
#: suffix are probed by content when named explicitly.
IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".gif",
        ".webp",
        ".pgm",
        ".ppm",
        ".pbm",
        ".pnm",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
    }
)

_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class MediaLimits:
    """Bounds that protect the process from hostile or absurd files."""

    max_file_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 100_000_000


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels plus the provenance every face found in them inherits."""

    pixels: NDArray[np.uint8]  # H x W x 3, uint8, RGB, C-contiguous
    sha256: str
    source: str
    format: str
    byte_size: int

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def is_image_path(path: Path) -> bool:
    """True for names that look like images; used when walking folders."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_files_under(folder: Path) -> list[Path]:
    """Image files below a folder in a stable order, skipping hidden files and folders."""
    return files_under(folder, is_image_path)


def files_under(folder: Path, wanted: Callable[[Path], bool]) -> list[Path]:
    """Files below a folder that ``wanted`` accepts, in a stable order, skipping hidden ones."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(root) / name
            for name in sorted(files)
            if not name.startswith(".") and wanted(Path(name))
        )
    return found


def load_image(path: str | Path, limits: MediaLimits | None = None) -> LoadedImage:
    """Read, hash and decode one image file into RGB pixels with EXIF orientation applied."""
    limits = limits or MediaLimits()
    file_path = Path(path)
    data = _read_bounded(file_path, limits)
    pixels, fmt = decode_image_bytes(data, str(file_path), limits)
    return LoadedImage(
        pixels=pixels,
        sha256=sha256_bytes(data),
        source=str(file_path),
        format=fmt,
        byte_size=len(data),
    )


def decode_image_bytes(
    data: bytes, name: str, limits: MediaLimits
) -> tuple[NDArray[np.uint8], str]:
    """Decode bytes to an RGB array; ``name`` only labels error messages."""
    if not data:
        raise MediaError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns about damaged metadata it skips; the pixels are what matter.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or "unknown"
                if fmt not in ACCEPTED_FORMATS:
                    raise MediaError(
                        f"{name}: {fmt} files are not accepted as images "
                        f"(accepted: {', '.join(sorted(ACCEPTED_FORMATS))})"
                    )
                _check_pixels(image.size, name, limits)
                image.seek(0)  # animated GIF/WebP/APNG: the first frame is the evidence
                image.load()
                oriented = ImageOps.exif_transpose(image)
                pixels = _to_rgb8(oriented)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLargeError(
            f"{name}: refused: it declares more pixels than allowed "
            f"({limits.max_image_pixels}), a possible decompression bomb"
        ) from exc
    except UnidentifiedImageError as exc:
        raise MediaError(f"{name}: not an image file retroface can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt data with these; the reason is safe to show.
        raise MediaError(f"{name}: the image is corrupt or truncated ({exc})") from exc
    return pixels, fmt


def _read_bounded(path: Path, limits: MediaLimits) -> bytes:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise MediaTooLargeError(
            f"{path}: {size} bytes exceeds the limit of {limits.max_file_bytes} bytes"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise MediaError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > limits.max_file_bytes:  # grew while we looked
        raise MediaTooLargeError(f"{path}: exceeds the limit of {limits.max_file_bytes} bytes")
    return data


def _check_pixels(size: tuple[int, int], name: str, limits: MediaLimits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise MediaError(f"{name}: the image has no pixels ({width}x{height})")
    if width * height > limits.max_image_pixels:
        raise MediaTooLargeError(
            f"{name}: {width}x{height} pixels exceeds the limit of {limits.max_image_pixels} pixels"
        )


def _to_rgb8(image: Image.Image) -> NDArray[np.uint8]:
    """Any Pillow mode to 8-bit RGB, keeping the tonal range of 16-bit and float images."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if mode == "F":
            low, high = float(values.min()), float(values.max())
            scale = (high - low) or 1.0
            grey = (values - low) / scale * 255.0
        else:
            # 16-bit samples arrive as I;16 or I; 8-bit-range data stays as is.
            grey = values / 257.0 if values.max() > 255 else values
        grey8 = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey8[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
