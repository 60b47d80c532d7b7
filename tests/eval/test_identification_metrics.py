"""1:N metrics against small cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.eval.identification import (
    cmc_curve,
    fnir_at,
    fpir_at,
    identification_metrics,
    tar_at_far,
    threshold_at_fpir,
    true_ranks,
)

# Three mated probes against subjects 0..2; the true subjects are 0, 1, 2.
MATED = np.array(
    [
        [0.9, 0.5, 0.1],  # subject 0 first: rank 1
        [0.8, 0.7, 0.2],  # subject 1 second: rank 2
        [0.3, 0.6, 0.4],  # subject 2 second: rank 2
    ]
)
TRUTH = np.array([0, 1, 2])
# Four non-mated probes: their best scores are 0.95, 0.6, 0.5, 0.2.
NON_MATED = np.array([[0.95, 0.1, 0.0], [0.2, 0.6, 0.1], [0.5, 0.4, 0.3], [0.1, 0.2, 0.0]])


def test_ranks_and_cmc() -> None:
    assert true_ranks(MATED, TRUTH).tolist() == [1, 2, 2]
    assert cmc_curve(true_ranks(MATED, TRUTH), 3).tolist() == pytest.approx([1 / 3, 1.0, 1.0])
    tied = np.array([[0.5, 0.5]])
    assert true_ranks(tied, np.array([1])).tolist() == [2]  # a tie does not favour the mate


def test_fpir_threshold_and_fnir() -> None:
    top = NON_MATED.max(axis=1)
    # FPIR 25% allows one of four non-mated searches above: the threshold sits just above 0.6.
    t = threshold_at_fpir(top, 0.25)
    assert 0.6 < t < 0.6001 and fpir_at(top, t) == 0.25
    # At that threshold only probe 0 (0.9, rank 1) is a hit: FNIR = 2/3.
    assert fnir_at(MATED, TRUTH, t) == pytest.approx(2 / 3)
    # FPIR 0 needs a threshold above 0.95: no mated probe reaches it.
    assert fnir_at(MATED, TRUTH, threshold_at_fpir(top, 0.0)) == 1.0


def test_metrics_carry_intervals_around_the_estimate() -> None:
    m = identification_metrics(MATED, TRUTH, NON_MATED, max_rank=3, bootstrap=200)
    assert m.mated == 3 and m.non_mated == 4
    assert m.cmc[1].value == pytest.approx(1 / 3) and m.cmc[2].value == 1.0
    for interval in [*m.cmc.values(), *m.fnir_at_fpir.values()]:
        assert interval.low <= interval.value <= interval.high


def test_tar_at_far() -> None:
    genuine = np.array([0.9, 0.8, 0.4])
    impostor = np.array([0.1, 0.2, 0.3, 0.5])
    tar, threshold = tar_at_far(genuine, impostor, 0.25)  # one impostor of four may pass
    assert 0.3 < threshold <= 0.3001 and tar == 1.0
    tar, threshold = tar_at_far(genuine, impostor, 0.0)
    assert threshold > 0.5 and tar == pytest.approx(2 / 3)
