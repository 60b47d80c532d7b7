"""The degraded-probe protocol on real faces: rates per gallery size, condition and band."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from retroface.errors import AuthorisationError
from retroface.media.degrade import Degradation
from retroface.services import App
from retroface.services.evaluation.degraded import evaluate_degraded
from tests.conftest import SUPERVISOR
from tests.helpers import lfw_subset

pytestmark = pytest.mark.needs_data


@pytest.fixture
def lfw40(data: Path, tmp_path: Path) -> Path:
    return lfw_subset(data, tmp_path / "lfw40", 40)


def test_the_protocol_reports_each_gallery_size_condition_and_band(
    app: App, lfw40: Path, tmp_path: Path
) -> None:
    with pytest.raises(AuthorisationError):
        evaluate_degraded(app, lfw40)  # an operator may not run evaluations
    report = evaluate_degraded(
        app.acting_as(SUPERVISOR),
        lfw40,
        gallery_sizes=[10, 0],
        degradations=[Degradation("gaussian_blur", 4.0)],
        report_dir=tmp_path / "out",
    )
    assert report.identities_enrolled + report.identities_held_out == 40
    assert report.identities_held_out == 12 and report.decision_rule.startswith("open-set")
    sizes = sorted({r.gallery_size for r in report.rows})
    assert sizes == [10, report.identities_enrolled]
    for size in sizes:
        rows = {r.group: r for r in report.rows if r.gallery_size == size}
        assert {"all", "clean", "gaussian_blur:4"} <= set(rows)
        assert any(g.startswith("quality ") for g in rows)
        everything = rows["all"]
        assert everything.mated == rows["clean"].mated + rows["gaussian_blur:4"].mated
        assert everything.non_mated > 0 and everything.fpir is not None
        # Heavy blur loses mates the clean photos find, and is often too poor to search.
        assert rows["gaussian_blur:4"].fnir >= rows["clean"].fnir
        assert rows["gaussian_blur:4"].not_searched > rows["clean"].not_searched
    # The whole gallery: every enrolled identity with a second photo is a mated probe.
    assert rows["clean"].mated == report.identities_enrolled
    names = {Path(f).name for f in report.report_files}
    assert {"rates.csv", "fnir_by_condition.png", "fpir_by_condition.png", "index.html"} <= names
    with (tmp_path / "out" / "rates.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(report.rows)
    assert float(table[0]["fpir"]) == pytest.approx(report.rows[0].fpir)
