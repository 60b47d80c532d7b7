"""Accuracy curves, their plots and CSVs, and the HTML summary page."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from retroface.eval.curves import (
    ErrorTradeoff,
    RocCurve,
    ScoreHistogram,
    identification_error_curve,
    roc_points,
    score_histogram,
)
from retroface.eval.identification import cmc_curve, fnir_at, fpir_at, true_ranks
from retroface.eval.plots import (
    _corners,
    write_cmc,
    write_identification_tradeoff,
    write_roc_det,
    write_score_distributions,
)
from retroface.eval.summary_page import SummaryTable, write_summary_page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

GENUINE = np.array([0.9, 0.8, 0.4])
IMPOSTOR = np.array([0.5, 0.3, 0.1, 0.05])

# Three mated probes against subjects 0..2; the true subjects are 0, 1, 2.
MATED = np.array(
    [
        [0.9, 0.5, 0.1],  # subject 0 first: a hit scoring 0.9
        [0.8, 0.7, 0.2],  # subject 0 first, truth is 1: a miss at any threshold
        [0.3, 0.6, 0.4],  # subject 1 first, truth is 2: a miss at any threshold
    ]
)
TRUTH = np.array([0, 1, 2])
NON_MATED_TOP = np.array([0.95, 0.6, 0.5, 0.2])


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], np.array(rows[1:], dtype=float).reshape(len(rows) - 1, len(rows[0]))


def random_identification(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores rounded to 2 decimals so thresholds, top scores and argmax all have ties."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((300, 25)), 2)
    truth = rng.integers(0, 25, 300)
    boosted = rng.random(300) < 0.6
    scores[boosted, truth[boosted]] = np.round(scores[boosted].max(axis=1), 2)
    non_mated_top = np.round(rng.random(200) * 0.9, 2)
    return scores, truth, non_mated_top


# --- curves -------------------------------------------------------------------------------


def test_roc_far_and_tar_match_hand_counts_at_every_distinct_score() -> None:
    roc = roc_points(GENUINE, IMPOSTOR)

    np.testing.assert_array_equal(roc.threshold, [0.9, 0.8, 0.5, 0.4, 0.3, 0.1, 0.05])
    np.testing.assert_allclose(roc.far, [0, 0, 1 / 4, 1 / 4, 2 / 4, 3 / 4, 1])
    np.testing.assert_allclose(roc.tar, [1 / 3, 2 / 3, 2 / 3, 1, 1, 1, 1])
    np.testing.assert_allclose(roc.fnmr, 1 - roc.tar)


def test_roc_counts_tied_scores_once_and_as_accepted() -> None:
    roc = roc_points(np.array([0.7, 0.7, 0.2]), np.array([0.7, 0.2]))

    np.testing.assert_array_equal(roc.threshold, [0.7, 0.2])
    np.testing.assert_allclose(roc.far, [1 / 2, 1])
    np.testing.assert_allclose(roc.tar, [2 / 3, 1])


def test_roc_of_an_empty_set_has_zero_rate() -> None:
    roc = roc_points(np.array([0.6]), np.zeros(0))

    np.testing.assert_array_equal(roc.threshold, [0.6])
    np.testing.assert_array_equal(roc.far, [0.0])
    np.testing.assert_array_equal(roc.tar, [1.0])


def test_identification_error_curve_matches_hand_counts() -> None:
    curve = identification_error_curve(MATED, TRUTH, NON_MATED_TOP)

    # Only the hit's 0.9 and the non-mated top scores move a rate.
    np.testing.assert_array_equal(curve.threshold, [0.95, 0.9, 0.6, 0.5, 0.2])
    np.testing.assert_allclose(curve.fnir, [1, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(curve.fpir, [1 / 4, 1 / 4, 2 / 4, 3 / 4, 1])


def test_identification_error_curve_agrees_with_fnir_at_and_fpir_at_at_every_point() -> None:
    scores, truth, non_mated_top = random_identification()

    curve = identification_error_curve(scores, truth, non_mated_top)

    assert len(curve.threshold) > 50
    assert np.all(np.diff(curve.threshold) < 0)
    for t, fnir, fpir in zip(curve.threshold, curve.fnir, curve.fpir, strict=True):
        assert fnir == pytest.approx(fnir_at(scores, truth, float(t)), abs=1e-12)
        assert fpir == pytest.approx(fpir_at(non_mated_top, float(t)), abs=1e-12)


def test_identification_error_curve_has_a_point_wherever_a_rate_changes() -> None:
    scores, truth, non_mated_top = random_identification(seed=11)
    curve = identification_error_curve(scores, truth, non_mated_top)
    # Any threshold between two curve points gives the rates of the point just above it.
    between = (curve.threshold[:-1] + curve.threshold[1:]) / 2
    for t, fnir, fpir in zip(between, curve.fnir[:-1], curve.fpir[:-1], strict=True):
        assert fnir_at(scores, truth, float(t)) == pytest.approx(fnir, abs=1e-12)
        assert fpir_at(non_mated_top, float(t)) == pytest.approx(fpir, abs=1e-12)


def test_identification_error_curve_rejects_truth_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="one truth per probe"):
        identification_error_curve(MATED, TRUTH[:2], NON_MATED_TOP)


def test_score_histogram_counts_both_groups_in_shared_bins() -> None:
    histogram = score_histogram(GENUINE, IMPOSTOR, bins=4)

    np.testing.assert_allclose(histogram.edges, np.linspace(0.05, 0.9, 5))
    # Bins: [0.05, 0.2625) [0.2625, 0.475) [0.475, 0.6875) [0.6875, 0.9]
    np.testing.assert_array_equal(histogram.mated, [0, 1, 0, 2])
    np.testing.assert_array_equal(histogram.non_mated, [2, 1, 1, 0])


def test_score_histogram_refuses_zero_bins() -> None:
    with pytest.raises(ValueError, match="bins"):
        score_histogram(GENUINE, IMPOSTOR, bins=0)


# --- plots and CSVs -----------------------------------------------------------------------


def assert_real_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path.name
    assert len(data) > 5_000, f"{path.name} is only {len(data)} bytes"


def write_all(out_dir: Path) -> list[Path]:
    scores, truth, non_mated_top = random_identification()
    written = write_roc_det(out_dir, roc_points(GENUINE, IMPOSTOR))
    written += write_identification_tradeoff(
        out_dir, identification_error_curve(scores, truth, non_mated_top)
    )
    written += write_cmc(out_dir, cmc_curve(true_ranks(scores, truth), max_rank=10))
    written += write_score_distributions(
        out_dir, score_histogram(GENUINE, IMPOSTOR, bins=4), threshold=0.45
    )
    return written


def test_roc_det_writer_writes_two_pngs_and_the_exact_numbers(tmp_path: Path) -> None:
    roc = roc_points(GENUINE, IMPOSTOR)

    written = write_roc_det(tmp_path, roc)

    assert [p.name for p in written] == ["roc.png", "det.png", "roc.csv"]
    assert_real_png(tmp_path / "roc.png")
    assert_real_png(tmp_path / "det.png")
    header, numbers = read_csv(tmp_path / "roc.csv")
    assert header == ["threshold", "far", "tar"]
    np.testing.assert_array_equal(numbers, np.column_stack([roc.threshold, roc.far, roc.tar]))


def test_identification_tradeoff_writer_writes_png_and_exact_numbers(tmp_path: Path) -> None:
    curve = identification_error_curve(MATED, TRUTH, NON_MATED_TOP)

    written = write_identification_tradeoff(tmp_path, curve)

    assert [p.name for p in written] == ["fnir_fpir.png", "fnir_fpir.csv"]
    assert_real_png(tmp_path / "fnir_fpir.png")
    header, numbers = read_csv(tmp_path / "fnir_fpir.csv")
    assert header == ["threshold", "fpir", "fnir"]
    np.testing.assert_array_equal(
        numbers, np.column_stack([curve.threshold, curve.fpir, curve.fnir])
    )


def test_cmc_writer_writes_png_and_rate_per_rank(tmp_path: Path) -> None:
    cmc = np.array([1 / 3, 1.0, 1.0])

    written = write_cmc(tmp_path, cmc)

    assert [p.name for p in written] == ["cmc.png", "cmc.csv"]
    assert_real_png(tmp_path / "cmc.png")
    assert (tmp_path / "cmc.csv").read_text().splitlines()[:2] == [
        "rank,identification_rate",
        f"1,{1 / 3!r}",
    ]
    header, numbers = read_csv(tmp_path / "cmc.csv")
    assert header == ["rank", "identification_rate"]
    np.testing.assert_array_equal(numbers, [[1, 1 / 3], [2, 1.0], [3, 1.0]])


def test_score_writer_writes_png_and_counts_per_bin(tmp_path: Path) -> None:
    histogram = score_histogram(GENUINE, IMPOSTOR, bins=4)

    written = write_score_distributions(tmp_path, histogram, threshold=0.45)

    assert [p.name for p in written] == ["scores.png", "scores.csv"]
    assert_real_png(tmp_path / "scores.png")
    header, numbers = read_csv(tmp_path / "scores.csv")
    assert header == ["bin_low", "bin_high", "mated", "non_mated"]
    np.testing.assert_array_equal(numbers[:, 0], histogram.edges[:-1])
    np.testing.assert_array_equal(numbers[:, 1], histogram.edges[1:])
    np.testing.assert_array_equal(numbers[:, 2:], [[0, 2], [1, 1], [0, 1], [2, 0]])


def test_zero_rates_on_log_axes_are_plotted_and_kept_as_zero_in_the_csv(tmp_path: Path) -> None:
    # Perfect separation: FAR is 0 and FNMR is 0 at several thresholds; FPIR/FNIR too.
    roc = roc_points(np.array([0.9, 0.8]), np.array([0.2, 0.1]))
    curve = ErrorTradeoff(
        threshold=np.array([0.9, 0.5]), fpir=np.array([0.0, 0.0]), fnir=np.array([0.0, 0.0])
    )

    write_roc_det(tmp_path, roc)
    write_identification_tradeoff(tmp_path, curve)

    assert_real_png(tmp_path / "det.png")
    assert_real_png(tmp_path / "fnir_fpir.png")
    _, numbers = read_csv(tmp_path / "roc.csv")
    np.testing.assert_array_equal(numbers[:, 1], [0, 0, 0.5, 1])
    _, numbers = read_csv(tmp_path / "fnir_fpir.csv")
    np.testing.assert_array_equal(numbers[:, 1:], np.zeros((2, 2)))


def test_writers_accept_empty_curves(tmp_path: Path) -> None:
    empty = np.zeros(0)

    write_roc_det(tmp_path, RocCurve(empty, empty, empty))
    write_identification_tradeoff(tmp_path, ErrorTradeoff(empty, empty, empty))
    write_cmc(tmp_path, empty)
    write_score_distributions(tmp_path, score_histogram(empty, empty, bins=3), threshold=None)

    for name in ("roc.png", "det.png", "fnir_fpir.png", "cmc.png", "scores.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_SIGNATURE)
    assert (tmp_path / "roc.csv").read_text() == "threshold,far,tar\n"


def test_writers_leave_no_temporary_files(tmp_path: Path) -> None:
    written = write_all(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_two_runs_give_byte_identical_files(tmp_path: Path) -> None:
    first = write_all(tmp_path / "first")
    second = write_all(tmp_path / "second")

    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_score_histogram_type_is_what_the_writer_takes(tmp_path: Path) -> None:
    histogram = ScoreHistogram(
        edges=np.array([0.0, 0.5, 1.0]), mated=np.array([0, 3]), non_mated=np.array([5, 1])
    )

    write_score_distributions(tmp_path, histogram, threshold=float("-inf"))

    _, numbers = read_csv(tmp_path / "scores.csv")
    np.testing.assert_array_equal(numbers, [[0.0, 0.5, 0, 5], [0.5, 1.0, 3, 1]])


# --- summary page -------------------------------------------------------------------------


def test_summary_page_references_every_image_and_its_csv(tmp_path: Path) -> None:
    written = write_all(tmp_path)
    images = [p.name for p in written if p.suffix == ".png"]

    page = write_summary_page(
        tmp_path,
        "LFW verification",
        [("dataset", "LFW"), ("model", "dlib resnet v1")],
        [SummaryTable("TAR at FAR", ["FAR", "TAR"], [["0.001", "0.95"]])],
        images,
    )

    html = page.read_text()
    assert page.name == "index.html"
    for image in images:
        assert f'<img src="{image}"' in html
    for data in ("roc.csv", "fnir_fpir.csv", "cmc.csv", "scores.csv"):
        assert f'<a href="{data}">' in html
    assert html.count('<a href="roc.csv">') == 2  # the ROC and the DET plot share it
    assert "<caption>TAR at FAR</caption>" in html
    assert "<td>0.95</td>" in html


def test_summary_page_escapes_every_value(tmp_path: Path) -> None:
    attack = "<script>alert('x')</script>"

    html = write_summary_page(
        tmp_path,
        f"title {attack}",
        [("dataset", attack), (attack, "value")],
        [SummaryTable(attack, [attack], [[attack]])],
        ['a"b<c>.png'],
    ).read_text()

    assert "<script" not in html
    # <title> and <h1>, two facts, the caption, the header cell and the body cell.
    assert html.count("&lt;script&gt;") == 7
    assert 'src="a%22b%3Cc%3E.png"' in html
    assert 'href="a%22b%3Cc%3E.csv"' in html


def test_summary_page_is_self_contained(tmp_path: Path) -> None:
    html = write_summary_page(tmp_path, "t", [], [], ["roc.png"]).read_text()

    assert "<style>" in html
    assert "http:" not in html
    assert "https:" not in html
    assert '<link rel="stylesheet"' not in html


def test_summary_table_rejects_rows_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="row 1 has 1 cells"):
        SummaryTable("t", ["a", "b"], [["only one"]])


def test_plotted_curves_drop_only_points_inside_straight_runs() -> None:

    x = np.array([0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 0.75, 1.0])
    y = np.array([0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.9, 0.9])

    kept_x, kept_y = _corners(x, y)

    # Kept: both ends and every corner; dropped: (0, 0.2), (0.25, 0.3), (0.5, 0.3).
    np.testing.assert_array_equal(kept_x, [0.0, 0.0, 0.75, 0.75, 1.0])
    np.testing.assert_array_equal(kept_y, [0.1, 0.3, 0.3, 0.9, 0.9])
