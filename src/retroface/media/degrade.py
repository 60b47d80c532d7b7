"""Degrade a clean face photo the way CCTV degrades faces, for the degraded-probe protocol.

Why these five: a CCTV still of a face is small (a few tens of pixels between
the eyes, blown up for viewing), out of focus or smeared by motion, crushed
by heavy compression and, at night, dark and noisy. Each degradation is one
named operation with its parameter (a *level*), applied to the whole image
so the detector meets it as it would meet footage. Everything is
deterministic (noise from a seed) so a protocol run can be repeated exactly.
Pose needs no operation: it is already in the data.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

#: Levels measured by default: two per kind, a moderate and a severe one, within the
#: ranges the protocol names (inter-eye 10-40 px, JPEG quality 10-40).
DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "downscale": (24.0, 12.0),  # inter-eye distance in pixels
    "gaussian_blur": (1.5, 3.0),  # sigma in pixels at the image's own scale
    "motion_blur": (7.0, 13.0),  # streak length in pixels
    "jpeg": (30.0, 10.0),  # JPEG quality
    "low_light": (0.3, 0.15),  # share of the light left
}


@dataclass(frozen=True)
class Degradation:
    """One operation at one level; ``name`` is how reports and CSVs refer to it."""

    kind: str
    level: float

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.level:g}"


def default_degradations() -> list[Degradation]:
    return [Degradation(kind, level) for kind, levels in DEFAULT_LEVELS.items() for level in levels]


def parse_degradations(text: str) -> list[Degradation]:
    """``kind:level,kind:level`` (or ``default``) into degradations; unknown kinds are refused."""
    if text.strip() in {"", "default"}:
        return default_degradations()
    out = []
    for item in text.split(","):
        kind, _, level = item.strip().partition(":")
        if kind not in DEFAULT_LEVELS:
            raise ValueError(f"unknown degradation {kind!r} (known: {', '.join(DEFAULT_LEVELS)})")
        try:
            out.append(Degradation(kind, float(level)))
        except ValueError:
            raise ValueError(f"{item!r}: the level after ':' must be a number") from None
    return out


def degrade(
    pixels: NDArray[np.uint8], degradation: Degradation, *, inter_eye_px: float, seed: int = 0
) -> NDArray[np.uint8]:
    """The image with one degradation applied, same size, RGB uint8.

    ``inter_eye_px`` is the face's inter-eye distance in the clean image: the
    downscale targets an inter-eye distance, and blur lengths are scaled so a
    level means the same on a large and a small face (levels are given for a
    face 40 px between the eyes, LFW's size).
    """
    kind, level = degradation.kind, degradation.level
    relative = max(inter_eye_px, 1.0) / 40.0
    if kind == "downscale":
        return downscale_and_back(pixels, level / max(inter_eye_px, 1.0))
    if kind == "gaussian_blur":
        image = Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(level * relative))
        return np.asarray(image)
    if kind == "motion_blur":
        return motion_blur(pixels, max(2, round(level * relative)), angle_deg=_angle(seed))
    if kind == "jpeg":
        return jpeg_round_trip(pixels, int(level))
    if kind == "low_light":
        return low_light(pixels, level, seed=seed)
    raise ValueError(f"unknown degradation {kind!r}")


def downscale_and_back(pixels: NDArray[np.uint8], factor: float) -> NDArray[np.uint8]:
    """Shrink by ``factor`` (area-averaged, as a camera's sensor does), then enlarge back
    (bicubic, as a viewer does): the detail is gone, the size is not."""
    if factor >= 1.0:
        return pixels
    h, w = pixels.shape[:2]
    small = Image.fromarray(pixels).resize(
        (max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.BOX
    )
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))


def motion_blur(pixels: NDArray[np.uint8], length: int, *, angle_deg: float) -> NDArray[np.uint8]:
    """Average of ``length`` copies shifted along a line: a straight streak, as a person
    walking past a camera with a long exposure leaves."""
    theta = math.radians(angle_deg)
    image = pixels.astype(np.float32)
    total = np.zeros_like(image)
    for k in range(length):
        offset = k - (length - 1) / 2
        dx, dy = round(offset * math.cos(theta)), round(offset * math.sin(theta))
        total += np.roll(np.roll(image, dy, axis=0), dx, axis=1)
    return np.clip(total / length + 0.5, 0, 255).astype(np.uint8)


def jpeg_round_trip(pixels: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=max(1, min(95, quality)))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def low_light(pixels: NDArray[np.uint8], light: float, *, seed: int = 0) -> NDArray[np.uint8]:
    """A night scene: ``light`` of the light reaches the sensor, shot noise and read noise
    grow relative to the signal, and the camera's gain brings the level back up."""
    rng = np.random.default_rng(seed)
    linear = (pixels.astype(np.float32) / 255.0) ** 2.2 * light
    photons = 400.0  # full-well scale: shot noise is sqrt(signal * photons) / photons
    shot = rng.poisson(linear * photons).astype(np.float32) / photons
    read = rng.normal(0.0, 0.01, pixels.shape).astype(np.float32)
    gained = np.clip((shot + read) / light, 0.0, 1.0) ** (1 / 2.2)
    out: NDArray[np.uint8] = (gained * 255.0 + 0.5).astype(np.uint8)
    return out


def _angle(seed: int) -> float:
    """A streak direction per image, mostly horizontal (people walk across the frame)."""
    return float(np.random.default_rng(seed).uniform(-30.0, 30.0))
