"""The open-set decision rule: the bar rises with gallery size and with a probe's closeness
to everyone; the tail and its fit agree with the data they came from."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from retroface.faces.matchability import fit_matchability
from retroface.faces.open_set import (
    ImpostorTail,
    OpenSetModel,
    model_from_document,
    model_to_document,
)
from retroface.faces.open_set_fit import fit_open_set, fit_probe_norm, fit_tail
from retroface.faces.probe_fusion import LENGTH_EXPONENT


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def synthetic(seed: int = 0, people: int = 400, dim: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=dim) * 0.6
    return unit(centre + rng.normal(size=(people, dim))), np.arange(people)


def fitted(*, normalise: bool = False) -> OpenSetModel:
    gallery, ids = synthetic(0)
    probes, _ = synthetic(1)
    return fit_open_set("m@1", gallery, probes, ids + 10_000, gallery, ids, normalise=normalise)


def test_tail_survival_and_its_inverse_agree() -> None:
    tail = ImpostorTail(z=(0.0, 1.0, 2.0), log10_survival=(-0.3, -1.0, -2.0), slope=-1.0,
                        intercept=0.0)  # fmt: skip
    assert tail.survival(1.0) == pytest.approx(0.1)
    assert tail.z_at(0.1) == pytest.approx(1.0)
    assert tail.survival(4.0) == pytest.approx(1e-4)  # the log-linear extension
    assert tail.z_at(1e-4) == pytest.approx(4.0)
    assert tail.z_at(0.9) == 0.0


def test_the_fitted_tail_matches_the_measured_exceedances() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=2_000_000)
    tail = fit_tail(iter([z]))
    for share in (1e-2, 1e-3, 1e-4):
        measured = float(np.mean(z >= tail.z_at(share)))
        assert measured == pytest.approx(share, rel=0.15)


def test_the_bar_rises_with_gallery_size_and_holds_fpir() -> None:
    model = fitted()
    probe, _ = synthetic(2, people=1)
    bars = [
        model.bar(probe[0], target_fpir=0.01, comparisons=n, floor=-1.0)
        for n in (10, 100, 1000, 100_000, 1_000_000)
    ]
    assert all(a.threshold < b.threshold for a, b in itertools.pairwise(bars))
    assert all(b.expected_fpir == pytest.approx(0.01, rel=0.02) for b in bars)
    # A floor above the bar is used as is, and the FPIR it implies is lower than the target.
    floored = model.bar(probe[0], target_fpir=0.01, comparisons=10, floor=0.99)
    assert floored.threshold == 0.99 and floored.expected_fpir < 0.01


def test_a_fused_sighting_is_held_to_a_bar_raised_by_its_views_agreement() -> None:
    """A re-normalised fusion of views agreeing to ``a`` scores ``1/a`` higher than its
    views: its bar is the single image's divided by ``a ** LENGTH_EXPONENT``, with the FPIR
    it implies read at the shortened score; the floor applies to the score as shown."""
    model = fitted()
    probe, _ = synthetic(2, people=1)
    single = model.bar(probe[0], target_fpir=0.01, comparisons=1000, floor=-1.0)
    fused = model.bar(probe[0], target_fpir=0.01, comparisons=1000, floor=-1.0, agreement=0.97)
    assert fused.threshold == pytest.approx(single.threshold / 0.97**LENGTH_EXPONENT)
    assert fused.expected_fpir == pytest.approx(single.expected_fpir, rel=1e-6)
    agreeing = model.bar(probe[0], target_fpir=0.01, comparisons=1000, floor=-1.0, agreement=1.0)
    assert agreeing.threshold == single.threshold
    high_floor = fused.threshold + 0.01
    floored = model.bar(
        probe[0], target_fpir=0.01, comparisons=1000, floor=high_floor, agreement=0.97
    )
    assert floored.threshold == high_floor and floored.expected_fpir < 0.01
    # T-norm scores do not change with a probe's length: nothing to correct.
    normed = fitted(normalise=True)
    assert normed.fusion_scale(0.9) == 1.0
    assert normed.bar(probe[0], target_fpir=0.01, comparisons=1000, floor=-1.0, agreement=0.9) == (
        normed.bar(probe[0], target_fpir=0.01, comparisons=1000, floor=-1.0)
    )


def test_with_t_norm_a_probe_close_to_everyone_gets_a_higher_bar() -> None:
    model = fitted(normalise=True)
    assert model.norm is not None
    typical, _ = synthetic(5, people=1)
    near_mean = unit(model.norm.mean[None, :])[0]
    a = model.bar(typical[0], target_fpir=0.01, comparisons=1000, floor=-1.0)
    b = model.bar(near_mean, target_fpir=0.01, comparisons=1000, floor=-1.0)
    assert b.threshold > a.threshold


def test_the_document_round_trips() -> None:
    for normalise in (False, True):
        model = fitted(normalise=normalise)
        again = model_from_document(model_to_document(model))
        assert again.tail == model.tail and again.model == "m@1"
        if model.norm is None:
            assert again.norm is None
        else:
            assert again.norm is not None
            assert np.allclose(again.norm.mean, model.norm.mean, atol=1e-6)


def test_too_small_a_cohort_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 30"):
        fit_probe_norm(np.zeros((10, 8)))


def test_matchability_is_fitted_monotone_and_orders_faces() -> None:
    rng = np.random.default_rng(4)
    parts, matched = [], []
    for _ in range(400):
        detector, sharp = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)
        part = {"detector": detector, "sharpness": sharp, "frontal": rng.uniform(0, 1),
                "inter_eye_px": 40.0}  # fmt: skip
        parts.append(part)
        matched.append(bool(rng.uniform() < 0.1 + 0.8 * detector))
    model = fit_matchability(parts, matched, reference="test")
    assert all(w >= 0 for w in model.weights.values()) and model.weights["detector"] > 0
    good = model.probability({"detector": 0.9, "sharpness": 0.9, "frontal": 1.0,
                              "inter_eye_px": 40.0})  # fmt: skip
    poor = model.probability({"detector": 0.1, "sharpness": 0.9, "frontal": 1.0,
                              "inter_eye_px": 40.0})  # fmt: skip
    assert good > 0.7 and poor < 0.3
    with pytest.raises(ValueError, match="both matched and missed"):
        fit_matchability(parts, [True] * len(parts), reference="test")
