"""CCTV degradations of a real face photo: same size, less detail, repeatable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.media import load_image
from retroface.media.degrade import (
    Degradation,
    default_degradations,
    degrade,
    parse_degradations,
)

pytestmark = pytest.mark.needs_data


def detail(pixels: np.ndarray) -> float:
    grey = pixels.astype(np.float32).mean(axis=2)
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(lap.var())


@pytest.fixture(scope="module")
def face(data: Path) -> np.ndarray:
    return load_image(data / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg").pixels


def test_every_default_degradation_keeps_the_size_and_loses_detail(face: np.ndarray) -> None:
    for d in default_degradations():
        out = degrade(face, d, inter_eye_px=40.0, seed=1)
        assert out.shape == face.shape and out.dtype == np.uint8, d.name
        if d.kind in {"downscale", "gaussian_blur", "motion_blur"}:
            assert detail(out) < detail(face) * 0.8, d.name
        else:  # compression and low light change the pixels, not necessarily their energy
            assert np.abs(out.astype(int) - face.astype(int)).mean() > 1.0, d.name


def test_degradations_repeat_exactly_for_the_same_seed(face: np.ndarray) -> None:
    noisy = Degradation("low_light", 0.15)
    a = degrade(face, noisy, inter_eye_px=40.0, seed=7)
    assert np.array_equal(a, degrade(face, noisy, inter_eye_px=40.0, seed=7))
    assert not np.array_equal(a, degrade(face, noisy, inter_eye_px=40.0, seed=8))


def test_a_downscale_targets_the_inter_eye_distance(face: np.ndarray) -> None:
    # A face already at 12 px between the eyes is not shrunk further by "downscale:24".
    assert np.array_equal(degrade(face, Degradation("downscale", 24), inter_eye_px=12.0), face)


def test_parse_degradations() -> None:
    assert [d.name for d in parse_degradations("jpeg:10, downscale:16")] == [
        "jpeg:10",
        "downscale:16",
    ]
    assert len(parse_degradations("default")) == len(default_degradations()) == 10
    with pytest.raises(ValueError, match="unknown degradation 'fog'"):
        parse_degradations("fog:1")
    with pytest.raises(ValueError, match="must be a number"):
        parse_degradations("jpeg:low")
