"""Points of an enhanced image carried back to the original, checked on the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.media.enhancement import apply_steps, parse_steps
from retroface.media.enhancement_geometry import (
    box_in_original,
    points_in_original,
    scale_to_original,
)

CHAINS = [
    ["brightness:1.4", "sharpen"],
    ["crop:40,30,200,150"],
    ["mirror:horizontal", "crop:150,60,150,120"],
    ["mirror:vertical"],
    ["rotate:90"],
    ["rotate:180", "upscale:2"],
    ["rotate:270", "crop:5,5,230,310"],
    ["rotate:17"],
    ["crop:20,10,200,160", "rotate:-33", "upscale:1.5", "mirror:horizontal"],
    ["upscale:3", "rotate:90", "crop:200,450,300,300", "denoise"],
]


def _centroid(pixels: np.ndarray) -> tuple[float, float]:
    """The centre of the bright marker (continuous coordinates: pixel centres at +0.5)."""
    weight = pixels[..., 0].astype(np.float64)
    weight = np.where(weight > 128, weight, 0.0)
    ys, xs = np.indices(weight.shape)
    total = weight.sum()
    return float((weight * xs).sum() / total) + 0.5, float((weight * ys).sum() / total) + 0.5


@pytest.mark.parametrize("chain", CHAINS, ids="+".join)
def test_a_marker_found_in_the_enhanced_image_maps_back_onto_itself(chain: list[str]) -> None:
    original = np.full((240, 320, 3), 40, dtype=np.uint8)
    original[100:108, 120:128] = 255  # an 8 px marker, centre (124, 104)
    steps = parse_steps(chain)
    enhanced = apply_steps(original, steps)
    ((x, y),) = points_in_original([_centroid(enhanced)], steps, (320, 240))
    assert x == pytest.approx(124.0, abs=1.0) and y == pytest.approx(104.0, abs=1.0)


def test_a_box_maps_back_through_an_upscale_and_a_crop() -> None:
    steps = parse_steps(["crop:40,30,200,150", "upscale:2"])
    assert box_in_original((20.0, 40.0, 100.0, 60.0), steps, (320, 240)) == (50, 50, 50, 30)
    assert scale_to_original(steps, (320, 240)) == pytest.approx(0.5)


def test_a_box_past_the_original_is_clipped_to_it() -> None:
    steps = parse_steps(["rotate:30"])
    x, y, w, h = box_in_original((0.0, 0.0, 400.0, 400.0), steps, (320, 240))
    assert (x, y) == (0, 0) and x + w <= 320 and y + h <= 240
