"""The N:N self-search behind the duplicate scan, on real LFW templates (two photos each
of 80 people): exact against brute force, the scan-only IVF index against exact."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.index import self_neighbours
from retroface.index.self_search import scan_cells

pytestmark = pytest.mark.needs_data


def test_the_exact_self_search_is_brute_force_in_batches_on_threads(
    lfw_templates: np.ndarray,
) -> None:
    found = self_neighbours(lfw_templates, 6, exact=True, workers=2, batch=16)
    scores = lfw_templates @ lfw_templates.T
    truth = np.argsort(-scores, axis=1)[:, :6]
    assert found.config == "exact" and found.rows.shape == (len(lfw_templates), 6)
    assert (found.rows[:, 0] == np.arange(len(lfw_templates))).all()  # itself first
    assert np.allclose(found.scores, np.take_along_axis(scores, truth, axis=1), atol=1e-5)
    # the other photo of the same person is among the nearest for most people
    mates = np.arange(len(lfw_templates)) ^ 1
    assert (found.rows == mates[:, None]).any(axis=1).mean() > 0.8


def test_the_approximate_self_search_finds_what_exact_finds_with_exact_scores(
    lfw_templates: np.ndarray,
) -> None:
    exact = self_neighbours(lfw_templates, 6, exact=True)
    cells = scan_cells(len(lfw_templates))
    every_cell = self_neighbours(lfw_templates, 6, exact=False, nprobe=cells, batch=32)
    assert every_cell.config == f"IVF{cells},Flat,IP,nprobe={cells}"
    assert (every_cell.rows == exact.rows).mean() > 0.99  # ties may swap
    one_cell = self_neighbours(lfw_templates, 6, exact=False, nprobe=1)
    assert (one_cell.rows[:, 0] == np.arange(len(lfw_templates))).all()  # its own cell
    # float32 codes: a pair found scores what exact search scores it
    found = one_cell.rows >= 0
    direct = np.einsum(
        "ij,ikj->ik", lfw_templates, lfw_templates[np.where(found, one_cell.rows, 0)]
    )
    assert np.allclose(one_cell.scores[found], direct[found], atol=1e-5)


def test_cells_grow_with_the_square_root_and_keep_enough_points_to_train() -> None:
    assert scan_cells(1_000_000) == 4096 and scan_cells(100_000) == 1024
    assert scan_cells(160) == 4 and scan_cells(10) == 1
