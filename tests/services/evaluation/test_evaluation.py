"""Evaluation on a real dataset (AT&T: 40 people, 10 photos each), groups from a labels CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.services import App
from retroface.services.evaluation.identification import evaluate_identification
from retroface.services.evaluation.verification import evaluate_verification
from retroface.store.models import AuditEvent
from tests.conftest import SUPERVISOR
from tests.helpers import att_subset

pytestmark = pytest.mark.needs_data


def test_identification_and_group_rates_on_att(app: App, data: Path, tmp_path: Path) -> None:
    att = data / "att_faces"
    labels = tmp_path / "labels.csv"
    # Operator-supplied labels (arbitrary here: odd and even subject numbers).
    rows = [f"s{i},{'odd' if i % 2 else 'even'}" for i in range(1, 41)]
    labels.write_text("subject,group\n" + "\n".join(rows) + "\n")
    report = evaluate_identification(
        app.acting_as(SUPERVISOR),
        att,
        enrol=2,
        labels=labels,
        bootstrap=200,
        report_dir=tmp_path / "report",
    )

    assert report.identities_enrolled == 30 and report.identities_held_out == 10
    assert report.mated_probes + report.images_without_face >= 30 * 8 - 5
    assert report.non_mated_probes >= 90
    rank1 = report.cmc[1]
    assert rank1.value >= 0.95 and rank1.low <= rank1.value <= rank1.high
    assert report.cmc[20].value >= rank1.value
    assert [p.fpir for p in report.fnir_at_fpir] == [0.003, 0.01, 0.1]
    assert report.fnir_at_fpir[0].fnir.value >= report.fnir_at_fpir[2].fnir.value
    assert {g.group for g in report.groups} == {"odd", "even"}
    assert sum(g.mated for g in report.groups) == report.mated_probes
    assert report.dataset_sha256 and "inferred" in report.note

    # The plots' numbers are the report's numbers, and the page shows them all.
    folder = tmp_path / "report"
    names = {Path(f).name for f in report.report_files}
    assert names == {
        "cmc.png", "cmc.csv", "fnir_fpir.png", "fnir_fpir.csv", "scores.png", "scores.csv",
        "index.html",
    }  # fmt: skip
    cmc = list(csv.DictReader((folder / "cmc.csv").open()))
    assert float(cmc[0]["identification_rate"]) == pytest.approx(rank1.value)
    tradeoff = list(csv.DictReader((folder / "fnir_fpir.csv").open()))
    # Rates change only at the listed scores: at the working threshold they are those of the
    # lowest listed threshold at or above it.
    at_working = [r for r in tradeoff if float(r["threshold"]) >= report.threshold][-1]
    assert float(at_working["fpir"]) == pytest.approx(report.fpir_at_threshold)
    assert float(at_working["fnir"]) == pytest.approx(report.fnir_at_threshold)
    scores = list(csv.DictReader((folder / "scores.csv").open()))
    assert sum(int(r["mated"]) for r in scores) == report.mated_probes
    assert sum(int(r["non_mated"]) for r in scores) == report.non_mated_probes
    page = (folder / "index.html").read_text()
    assert report.model in page and 'src="cmc.png"' in page and "odd" in page


def test_evaluation_refuses_what_it_cannot_measure(app: App, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a folder"):
        evaluate_identification(app.acting_as(SUPERVISOR), tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="held-out share"):
        evaluate_identification(app.acting_as(SUPERVISOR), tmp_path, held_out_share=1.0)


def test_a_report_folder_in_the_data_directory_or_in_use_is_refused_before_any_work(
    app: App, tmp_path: Path
) -> None:
    supervisor = app.acting_as(SUPERVISOR)
    dataset = tmp_path / "missing"  # refused before the dataset is even looked at
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        evaluate_identification(supervisor, dataset, report_dir=app.settings.home, force=True)
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        evaluate_verification(
            supervisor, pairs_csv=dataset, report_dir=app.settings.home / "plots", force=True
        )
    used = tmp_path / "last-run"
    used.mkdir()
    (used / "index.html").write_text("an earlier report")
    with pytest.raises(InvalidInputError, match="--force"):
        evaluate_identification(supervisor, dataset, report_dir=used)
    with pytest.raises(InvalidInputError, match="not a folder"):  # --force gets past the folder
        evaluate_identification(supervisor, dataset, report_dir=used, force=True)


def test_verification_on_a_pairs_csv(app: App, data: Path, tmp_path: Path) -> None:
    att = data / "att_faces"
    rows = ["file_x,file_y,same"]
    for i in range(1, 31):
        rows.append(f"{att}/s{i}/1.pgm,{att}/s{i}/2.pgm,1")
        rows.append(f"{att}/s{i}/1.pgm,{att}/s{i % 30 + 1}/2.pgm,0")
    sheet = tmp_path / "pairs.csv"
    sheet.write_text("\n".join(rows) + "\n")
    report = evaluate_verification(
        app.acting_as(SUPERVISOR), pairs_csv=sheet, report_dir=tmp_path / "report"
    )
    assert report.pairs == 60 and report.genuine + report.impostor == 60 - report.pairs_without_face
    assert report.accuracy >= 0.9
    assert [p.far for p in report.tar_at_far] == [1e-3, 1e-4]
    assert all(0.0 <= p.tar <= 1.0 for p in report.tar_at_far)
    roc = list(csv.DictReader((tmp_path / "report" / "roc.csv").open()))
    assert float(roc[-1]["far"]) == 1.0 and float(roc[-1]["tar"]) == 1.0
    assert {Path(f).name for f in report.report_files} >= {"roc.png", "det.png", "index.html"}
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match="missing column"):
        evaluate_verification(app.acting_as(SUPERVISOR), pairs_csv=bad)


def test_an_evaluation_needs_a_permitted_person_and_is_audited(
    app: App, data: Path, tmp_path: Path
) -> None:
    # Attack: evaluate a folder of faces anonymously or as an operator, leaving no record.
    tree = att_subset(data, tmp_path / "att", people=4, images=2)
    with pytest.raises(AuthorisationError, match="may not evaluation run"):
        evaluate_identification(app, tree, bootstrap=10)
    report = evaluate_identification(app.acting_as(SUPERVISOR), tree, bootstrap=10)
    with app.unit_of_work() as uow:
        (event,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "evaluation.run")
        ).all()
        assert event.actor == SUPERVISOR.username
        assert event.details["dataset_sha256"] == report.dataset_sha256
        assert event.details["mated_probes"] == report.mated_probes
