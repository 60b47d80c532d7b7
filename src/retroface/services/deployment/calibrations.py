"""Calibration records: register a signed record before its threshold is used, and list them.

A record is measured and signed by ``services/evaluation/calibrate.py``.
``register_calibration`` checks the signature and that the record measured
the model this installation runs, then stores it; from then on the admin may
set a threshold floor it covers, and searches may run with that model.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from retroface.errors import InvalidInputError
from retroface.faces.model_files import RESNET_FILE, file_digest, packaged_model_path
from retroface.faces.open_set import OpenSetModel, model_from_document, shipped_open_set
from retroface.governance.audit_export import load_signing_key
from retroface.governance.calibration_policy import (
    CalibratedPoint,
    verified_calibration,
)
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.settings import DEFAULT_THRESHOLD
from retroface.store.models import CalibrationRecord
from retroface.store.unit_of_work import UnitOfWork

SHIPPED = "shipped default"


class CalibrationOut(BaseModel):
    id: str
    model: str
    threshold: float
    target_fpir: float
    worst_group: str | None
    dataset: str
    dataset_sha256: str
    created_at: str
    registered_by: str | None = None


def register_calibration(
    app: App, document: dict[str, Any], key_file: Path | None = None
) -> CalibrationOut:
    """Store a verified record of the running model; audited. The key comes from
    ``key_file`` or $RETROFACE_AUDIT_KEY, read only once the caller's role allows it."""
    app.require(Action.DEPLOYMENT_CONFIGURE)
    record = verified_calibration(document, load_signing_key(key_file))
    running = app.engine.model.tag
    if record["model"] != running:
        raise InvalidInputError(
            f"the record calibrated model {record['model']}, but this deployment runs {running}; "
            "calibrate the model you run"
        )
    record_id = str(record.get("id") or uuid.uuid4())
    with app.unit_of_work() as uow:
        if uow.session.get(CalibrationRecord, record_id) is not None:
            raise InvalidInputError(f"calibration {record_id} is already registered")
        row = CalibrationRecord(
            id=record_id,
            model=str(record["model"]),
            threshold=float(record["threshold"]),
            target_fpir=float(record["target_fpir"]),
            dataset_sha256=str(record["dataset_sha256"]),
            document=record,
            registered_by=app.actor,
        )
        uow.session.add(row)
        app.audit(
            uow,
            action="calibration.registered",
            object_type="calibration",
            object_id=record_id,
            model=row.model,
            threshold=row.threshold,
            target_fpir=row.target_fpir,
            dataset_sha256=row.dataset_sha256,
            worst_group=record.get("worst_group"),
            figures=record["figures"],
        )
        uow.commit()
        return _out(row)


def list_calibrations(app: App) -> list[CalibrationOut]:
    app.require(Action.DEPLOYMENT_READ)
    with app.unit_of_work() as uow:
        rows = uow.session.query(CalibrationRecord).order_by(CalibrationRecord.registered_at)
        return [_out(r) for r in rows]


def calibrated_points(uow: UnitOfWork) -> list[CalibratedPoint]:
    """Registered calibrations, plus the shipped one of the default model."""
    points = [shipped_calibration()]
    for row in uow.session.query(CalibrationRecord):
        points.append(CalibratedPoint(row.model, row.threshold, row.id))
    return points


def open_set_model(uow: UnitOfWork, model_tag: str) -> OpenSetModel | None:
    """The decision rule for ``model_tag``: the newest registered calibration that measured
    one, else the shipped one when the running model is the packaged dlib ResNet."""
    rows = uow.session.query(CalibrationRecord).where(CalibrationRecord.model == model_tag)
    for row in sorted(rows, key=lambda r: r.registered_at, reverse=True):
        if row.document.get("open_set"):
            return model_from_document(row.document["open_set"])
    shipped = shipped_open_set(model_tag.split("@", maxsplit=1)[0])
    return shipped if shipped is not None and shipped.model == model_tag else None


def shipped_calibration() -> CalibratedPoint:
    """The project's LFW measurement of the packaged dlib ResNet behind DEFAULT_THRESHOLD."""
    digest = file_digest(packaged_model_path(RESNET_FILE))
    return CalibratedPoint(f"dlib_resnet_v1@{digest}", DEFAULT_THRESHOLD, SHIPPED)


def _out(row: CalibrationRecord) -> CalibrationOut:
    doc = row.document
    return CalibrationOut(
        id=row.id,
        model=row.model,
        threshold=row.threshold,
        target_fpir=row.target_fpir,
        worst_group=doc.get("worst_group"),
        dataset=str(doc.get("dataset", "")),
        dataset_sha256=row.dataset_sha256,
        created_at=str(doc.get("created_at", "")),
        registered_by=row.registered_by,
    )
