"""Open-set rates under a per-search rule, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.eval.open_set_rates import (
    ProbeOutcomes,
    error_versus_discard,
    fnir_at_fixed_fpir,
    quality_band,
    rates,
)


def outcomes() -> ProbeOutcomes:
    # Probes 0-3 are mated (true subjects 5, 5, 7, 7); probes 4-7 are not enrolled.
    return ProbeOutcomes(
        top_score=np.array([0.95, 0.91, 0.97, 0.99, 0.96, 0.80, 0.94, 0.50]),
        top_subject=np.array([5, 5, 9, 7, 1, 2, 3, 4]),
        truth=np.array([5, 5, 7, 7, -1, -1, -1, -1]),
        bar=np.array([0.93, 0.93, 0.93, 0.93, 0.95, 0.93, 0.95, 0.93]),
        searched=np.array([True, True, True, False, True, True, True, True]),
    )


def test_rates_count_misses_wrong_tops_and_unsearched_probes() -> None:
    r = rates(outcomes())
    # Mated: 0 found; 1 below its bar; 2 has the wrong subject on top; 3 was not searched.
    assert r.mated == 4 and r.fnir == pytest.approx(0.75)
    # Non-mated: 4 clears its own bar (0.96 >= 0.95), 6 does not (0.94 < 0.95): one of four.
    assert r.non_mated == 4 and r.fpir == pytest.approx(0.25)
    assert r.not_searched == pytest.approx(1 / 8)


def test_rates_of_a_selection() -> None:
    only_first_two = np.array([True, True] + [False] * 6)
    r = rates(outcomes(), only_first_two)
    assert r.fnir == pytest.approx(0.5) and r.fpir is None and r.non_mated == 0


def test_fnir_at_fixed_fpir_ignores_the_rule() -> None:
    # Non-mated tops 0.96, 0.94, 0.80, 0.50: FPIR 25% allows one above, so the threshold
    # sits just above 0.94; mated probes with the right top at or above it: 0.95 and 0.99.
    assert fnir_at_fixed_fpir(outcomes(), 0.25) == pytest.approx(0.5)


def test_error_versus_discard_falls_when_quality_predicts_error() -> None:
    o = outcomes()
    quality = np.array([0.9, 0.2, 0.1, 0.8, 0, 0, 0, 0])
    curve = error_versus_discard(o, quality, 0.93, fractions=(0.0, 0.5))
    # At 0.93: probes 0 and 3 are found (3 would be, every probe searched), 1 and 2 not.
    assert curve == [(0.0, 0.5), (0.5, 0.0)]


def test_quality_bands() -> None:
    assert quality_band(0.0) == "0.0-0.2" and quality_band(0.5) == "0.5-0.8"
    assert quality_band(1.0) == "0.8-1.0"
