"""Calibration on real faces, and governance refusing uncalibrated thresholds and models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.eval.identification import fpir_at
from retroface.governance.calibration_policy import sign_calibration
from retroface.services import App, open_app
from retroface.services.deployment.calibrations import list_calibrations, register_calibration
from retroface.services.deployment.rules import set_threshold_floor
from retroface.services.evaluation.calibrate import calibrate
from retroface.services.evaluation.identification import score_dataset
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Search
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR
from tests.helpers import (
    TEST_SIGNING_KEY,
    arcface_style_onnx_model,
    att_subset,
    authorised_case,
    gallery_with,
    lfw_subset,
)

pytestmark = pytest.mark.needs_data


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "signing.key"
    path.write_bytes(TEST_SIGNING_KEY)
    return path


def _labels(path: Path, people: int) -> Path:
    rows = "".join(f"s{i},{'low' if i <= people // 2 else 'high'}\n" for i in range(1, people + 1))
    path.write_text("subject,group\n" + rows)
    return path


def test_calibrated_threshold_meets_the_target_in_every_group_and_gates_the_floor(
    app: App, data: Path, tmp_path: Path, key_file: Path
) -> None:
    tree = att_subset(data, tmp_path / "att", people=16, images=3)
    labels = _labels(tmp_path / "groups.csv", 16)
    record = calibrate(
        app.acting_as(ADMIN),
        tree,
        target_fpir=0.25,
        key=TEST_SIGNING_KEY,
        labels=labels,
        open_set=False,
    )
    threshold, figures = record["threshold"], record["figures"]
    assert record["model"] == app.engine.model.tag and len(record["dataset_sha256"]) == 64
    assert {g["group"] for g in figures["groups"]} == {"low", "high"}
    assert all(g["fpir"] <= 0.25 for g in figures["groups"] if g["non_mated"])
    # Recomputed from the same scores: the threshold is the worst group's, and no lower
    # threshold would keep that group within the target.
    scored = score_dataset(app, tree)
    group_of = {f"s{i}": "low" if i <= 8 else "high" for i in range(1, 17)}
    worst = np.array([group_of[n] == record["worst_group"] for n in scored.non_mated_names])
    tops = scored.non_mated_top[worst]
    assert fpir_at(tops, threshold) <= 0.25 < fpir_at(tops, np.nextafter(threshold, -1))

    admin = app.acting_as(ADMIN)
    floor = float(np.ceil(threshold * 1000) / 1000)
    with pytest.raises(AuthorisationError, match="no calibration record"):
        set_threshold_floor(admin, min(floor, 0.92))
    with pytest.raises(AuthorisationError, match="may not deployment configure"):
        register_calibration(app.acting_as(SUPERVISOR), record, key_file)
    registered = register_calibration(admin, record, key_file)
    assert registered.threshold == threshold and registered.worst_group == record["worst_group"]
    assert [r.id for r in list_calibrations(app)] == [record["id"]]
    with pytest.raises(InvalidInputError, match="already registered"):
        register_calibration(admin, record, key_file)

    with pytest.raises(AuthorisationError, match="no calibration record"):
        set_threshold_floor(admin, floor - 0.01)
    assert set_threshold_floor(admin, floor).threshold_floor == floor
    with app.unit_of_work() as uow:
        event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "calibration.registered")
        ).one()
        assert event.actor == ADMIN.username and event.details["threshold"] == threshold


def test_a_record_edited_signed_elsewhere_or_of_another_model_is_refused(
    app: App, data: Path, tmp_path: Path, key_file: Path
) -> None:
    tree = att_subset(data, tmp_path / "att", people=8, images=2)
    record = calibrate(
        app.acting_as(ADMIN), tree, target_fpir=1.0, key=TEST_SIGNING_KEY, open_set=False
    )
    admin = app.acting_as(ADMIN)
    with pytest.raises(AuthorisationError, match="does not verify"):
        register_calibration(admin, {**record, "threshold": -0.5}, key_file)
    other_key = tmp_path / "other.key"
    other_key.write_bytes(b"some-other-deployment-key")
    with pytest.raises(AuthorisationError, match="does not verify"):
        register_calibration(admin, record, other_key)
    elsewhere = sign_calibration({**record, "model": "other-model@123"}, TEST_SIGNING_KEY)
    with pytest.raises(InvalidInputError, match="calibrate the model you run"):
        register_calibration(admin, elsewhere, key_file)
    assert list_calibrations(app) == []


def test_searching_with_another_model_is_refused_until_it_is_calibrated(
    app: App, data: Path, tmp_path: Path, key_file: Path
) -> None:
    """A deployment that swaps in another model (an ONNX file) cannot search with it until
    a calibration of that model is registered."""
    model = arcface_style_onnx_model(tmp_path / "agency-model.onnx")
    swapped = open_app(app.settings.with_(embedder=f"onnx:{model}"), principal=OPERATOR)
    try:
        examples = data / "face_recognition" / "examples"
        gallery_with(swapped, "g", {"obama": [examples / "obama.jpg"]})
        case = authorised_case(swapped)
        probe = [examples / "obama2.jpg"]
        with pytest.raises(AuthorisationError, match="has no calibration record"):
            search(swapped, case, "g", probe)
        tree = att_subset(data, tmp_path / "att", people=8, images=2)
        record = calibrate(
            swapped.acting_as(ADMIN), tree, target_fpir=1.0, key=TEST_SIGNING_KEY, open_set=False
        )
        assert record["model"] == swapped.engine.model.tag != app.engine.model.tag
        register_calibration(swapped.acting_as(ADMIN), record, key_file)
        report = search(swapped, case, "g", probe)
        assert report.model == swapped.engine.model.tag
    finally:
        swapped.close()


@pytest.mark.cli_workflow
def test_a_registered_open_set_calibration_decides_the_searches(
    app: App, data: Path, tmp_path: Path, key_file: Path
) -> None:
    """The record carries the decision rule and the matchability model fitted on the
    dataset's degraded probes; once registered, searches decide with it."""
    lfw = data / "lfw"
    tree = lfw_subset(data, tmp_path / "lfw44", 44)
    people = sorted(p.name for p in tree.iterdir())
    record = calibrate(app.acting_as(ADMIN), tree, target_fpir=0.01, key=TEST_SIGNING_KEY)
    rule, matchability = record["open_set"], record["matchability"]
    assert rule["model"] == app.engine.model.tag and rule["scores"] == "raw cosine"
    assert rule["tail"]["slope"] < 0 and len(rule["tail"]["z"]) >= 2
    assert {"log_eye_px", "sharpness_logit", "frontal", "detector"} <= set(matchability["weights"])
    register_calibration(app.acting_as(ADMIN), record, key_file)

    gallery_with(app, "g", {n: [sorted((lfw / n).glob("*.jpg"))[0]] for n in people[:5]})
    case = authorised_case(app)
    report = search(app, case, "g", [sorted((lfw / people[0]).glob("*.jpg"))[1]])
    with app.unit_of_work() as uow:
        row = uow.session.scalars(select(Search)).one()
        assert row.parameters["decision_rule"].startswith("open-set")
    assert report.probes[0].expected_fpir is not None
