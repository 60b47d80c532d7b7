"""The fused template of several stills of one person: its direction and its length."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.errors import InvalidInputError
from retroface.faces.probe_fusion import LENGTH_EXPONENT, fuse_templates


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_fused_template_points_at_the_mean_and_is_shorter_the_more_the_stills_differ() -> None:
    a, b = _unit([1.0, 0.2, 0.0]), _unit([1.0, -0.2, 0.1])
    fused = fuse_templates([a, b])
    mean = (a + b) / 2
    cosine = float(fused @ mean / (np.linalg.norm(fused) * np.linalg.norm(mean)))
    assert cosine == pytest.approx(1.0, abs=1e-6)
    assert float(np.linalg.norm(fused)) == pytest.approx(
        float(np.linalg.norm(mean)) ** LENGTH_EXPONENT, rel=1e-5
    )
    assert float(np.linalg.norm(fused)) < 1.0  # scores never above a unit probe's
    assert np.allclose(fuse_templates([a, a, a]), a, atol=1e-6)  # one still, three times


def test_nothing_to_fuse_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="no still"):
        fuse_templates([])
    with pytest.raises(InvalidInputError, match="cancel out"):
        fuse_templates([_unit([1.0, 0.0]), _unit([-1.0, 0.0])])
