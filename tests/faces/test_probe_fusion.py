"""The fused template of several stills of one person: its direction and its length."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.errors import InvalidInputError
from retroface.faces.probe_fusion import LENGTH_EXPONENT, fuse_templates, fused_direction


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


def test_a_sightings_direction_scores_its_views_mean_over_their_agreement() -> None:
    """The fact the sighting bar corrects for: the re-normalised mean of views scores
    ``1/agreement`` higher than its views do on average, against anyone."""
    rng = np.random.default_rng(7)
    centre = rng.normal(size=16)
    views = np.stack([_unit((centre + rng.normal(size=16) * 0.4).tolist()) for _ in range(4)])
    weights = np.array([0.9, 0.5, 0.3, 0.1])
    template, agreement = fused_direction(views, weights)
    assert float(np.linalg.norm(template)) == pytest.approx(1.0, abs=1e-6)
    assert 0.5 < agreement < 1.0
    others = np.stack([_unit(rng.normal(size=16).tolist()) for _ in range(50)])
    weighted_view_scores = (others @ views.T) @ weights / weights.sum()
    assert np.allclose(others @ template, weighted_view_scores / agreement, atol=1e-5)
    same, one = fused_direction(np.stack([views[0]] * 3), np.ones(3))
    assert one == pytest.approx(1.0) and np.allclose(same, views[0], atol=1e-6)
