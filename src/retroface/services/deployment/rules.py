"""Deployment-wide rules an admin sets: the DPIA, the policy document, the threshold floor, EU mode.

Each is a row in ``deployment_settings`` written with its audit event in
one transaction, so the audit log shows who changed a safeguard and when.
Services read them through :func:`search_rules` inside their own unit of
work, so a search can never run under rules it did not check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.calibration_policy import check_floor_calibrated
from retroface.governance.deployment_policy import (
    DpiaRecord,
    check_deployment_ready,
    checked_dpia,
)
from retroface.governance.retention import check_probe_retention
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.deployment.calibrations import calibrated_points
from retroface.services.results import DeploymentStatus
from retroface.store.models import DeploymentSetting
from retroface.store.unit_of_work import UnitOfWork

DPIA_KEY = "dpia"
POLICY_KEY = "policy"
FLOOR_KEY = "threshold_floor"
EU_MODE_KEY = "eu_mode"
PROBE_RETENTION_KEY = "probe_retention"


@dataclass(frozen=True)
class SearchRules:
    """The deployment's safeguards as one search sees them."""

    dpia: DpiaRecord | None
    policy: str | None
    threshold_floor: float
    eu_mode: bool
    probe_retention: str

    def check_ready(self, today: date) -> None:
        check_deployment_ready(self.dpia, self.policy, today)


def search_rules(uow: UnitOfWork, default_threshold: float) -> SearchRules:
    """Without an admin's floor, the calibrated default threshold is the floor."""
    values = {row.key: row.value for row in uow.session.query(DeploymentSetting).all()}
    dpia = values.get(DPIA_KEY)
    return SearchRules(
        dpia=DpiaRecord.from_json(dpia) if dpia else None,
        policy=(values.get(POLICY_KEY) or {}).get("reference"),
        threshold_floor=float((values.get(FLOOR_KEY) or {}).get("value", default_threshold)),
        eu_mode=bool((values.get(EU_MODE_KEY) or {}).get("value", False)),
        probe_retention=str((values.get(PROBE_RETENTION_KEY) or {}).get("value", "immediate")),
    )


def register_dpia(app: App, record: DpiaRecord) -> DeploymentStatus:
    app.require(Action.DEPLOYMENT_CONFIGURE)
    record = checked_dpia(record, app.now().date())
    return _set(app, DPIA_KEY, record.as_json())


def register_policy(app: App, reference: str, title: str = "") -> DeploymentStatus:
    app.require(Action.DEPLOYMENT_CONFIGURE)
    if not reference.strip():
        raise InvalidInputError("the policy document needs a reference (URL or document id)")
    return _set(app, POLICY_KEY, {"reference": reference.strip(), "title": title.strip()})


def set_threshold_floor(app: App, floor: float) -> DeploymentStatus:
    app.require(Action.DEPLOYMENT_CONFIGURE)
    if not 0.0 < floor < 1.0:
        raise InvalidInputError(
            f"the threshold floor is a cosine similarity in (0, 1), got {floor}"
        )
    model = app.engine.model.tag
    with app.unit_of_work() as uow:
        check_floor_calibrated(floor, model, calibrated_points(uow))
    return _set(app, FLOOR_KEY, {"value": floor, "model": model})


def set_eu_mode(app: App, enabled: bool) -> DeploymentStatus:
    app.require(Action.DEPLOYMENT_CONFIGURE)
    return _set(app, EU_MODE_KEY, {"value": enabled})


def set_probe_retention(app: App, when: str) -> DeploymentStatus:
    app.require(Action.DEPLOYMENT_CONFIGURE)
    return _set(app, PROBE_RETENTION_KEY, {"value": check_probe_retention(when)})


def deployment_status(app: App) -> DeploymentStatus:
    app.require(Action.DEPLOYMENT_READ)
    with app.unit_of_work() as uow:
        return _status(uow, app)


def _set(app: App, key: str, value: dict[str, Any]) -> DeploymentStatus:
    with app.unit_of_work() as uow:
        row = uow.session.get(DeploymentSetting, key)
        before = None if row is None else row.value
        if row is None:
            uow.session.add(DeploymentSetting(key=key, value=value, set_by=app.actor))
        else:
            row.value, row.set_by, row.set_at = value, app.actor, app.now()
        app.audit(
            uow,
            action="deployment.setting_changed",
            object_type="deployment_setting",
            object_id=key,
            before=before,
            after=value,
        )
        uow.commit()
        return _status(uow, app)


def _status(uow: UnitOfWork, app: App) -> DeploymentStatus:
    rules = search_rules(uow, app.settings.threshold)
    try:
        rules.check_ready(app.now().date())
        problem = None
    except AuthorisationError as exc:
        problem = str(exc)
    return DeploymentStatus(
        dpia=rules.dpia.as_json() if rules.dpia else None,
        policy=rules.policy,
        threshold_floor=rules.threshold_floor,
        default_threshold=app.settings.threshold,
        eu_mode=rules.eu_mode,
        probe_retention=rules.probe_retention,
        searching_allowed=problem is None,
        refusal=problem,
    )
