"""Deployment-wide state: whether this data directory is a demo or a real deployment.

``quickstart`` must work with one command on a fresh machine, yet every
action needs a principal. So quickstart turns an *empty* data directory into
a demo deployment with two built-in demo users (a supervisor and an
operator, whose random passwords nobody knows) and acts as them. It refuses
to touch a data directory that holds real users.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select

from retroface.errors import AuthorisationError
from retroface.governance.deployment_policy import DpiaRecord
from retroface.governance.identity import Principal, hash_password
from retroface.governance.roles import Role
from retroface.services.app import App
from retroface.services.deployment.rules import DPIA_KEY, POLICY_KEY
from retroface.store.models import DeploymentSetting, User
from retroface.store.unit_of_work import UnitOfWork

DEMO_SUPERVISOR = "demo-supervisor"
DEMO_OPERATOR = "demo-operator"
MODE_KEY = "mode"


def deployment_mode(app: App) -> str | None:
    with app.unit_of_work() as uow:
        row = uow.session.get(DeploymentSetting, MODE_KEY)
        return None if row is None else str(row.value.get("mode"))


def is_demo_deployment(uow: UnitOfWork) -> bool:
    row = uow.session.get(DeploymentSetting, MODE_KEY)
    return row is not None and row.value.get("mode") == "demo"


def ensure_demo_deployment(app: App) -> tuple[Principal, Principal]:
    """(demo supervisor, demo operator), creating them in an empty data directory."""
    supervisor = Principal(DEMO_SUPERVISOR, Role.SUPERVISOR)
    operator = Principal(DEMO_OPERATOR, Role.OPERATOR)
    with app.unit_of_work() as uow:
        if is_demo_deployment(uow):
            _ensure_demo_documents(app, uow)
            uow.commit()
            return supervisor, operator
        if uow.session.scalar(select(func.count(User.id))):
            raise AuthorisationError(
                "quickstart runs only in an empty or demo data directory; this one has users "
                "(use --home to point quickstart at a fresh directory)"
            )
        for principal in (supervisor, operator):
            uow.session.add(
                User(
                    username=principal.username,
                    display_name="built-in demo user",
                    role=principal.role.value,
                    password_hash=hash_password(secrets.token_urlsafe(32)),
                    created_by="quickstart",
                )
            )
        uow.session.add(
            DeploymentSetting(key=MODE_KEY, value={"mode": "demo"}, set_by="quickstart")
        )
        _ensure_demo_documents(app, uow)
        app.acting_as(supervisor).audit(
            uow,
            action="deployment.demo_created",
            object_type="deployment",
            object_id=MODE_KEY,
        )
        uow.commit()
    return supervisor, operator


def _ensure_demo_documents(app: App, uow: UnitOfWork) -> None:
    """A demo deployment carries a demo DPIA and policy, renewed when they lapse.

    Searching needs both on record; a demo has no real ones, and saying so
    in their names keeps the audit log honest.
    """
    today = app.now().date()
    dpia = uow.session.get(DeploymentSetting, DPIA_KEY)
    if dpia is None or DpiaRecord.from_json(dpia.value).review_due_on < today:
        record = DpiaRecord("DEMO-DPIA", "demo", today, today + timedelta(days=365))
        app.audit(
            uow,
            action="deployment.setting_changed",
            object_type="deployment_setting",
            object_id=DPIA_KEY,
            after=record.as_json(),
        )
        if dpia is None:
            uow.session.add(
                DeploymentSetting(key=DPIA_KEY, value=record.as_json(), set_by="quickstart")
            )
        else:
            dpia.value = record.as_json()
    if uow.session.get(DeploymentSetting, POLICY_KEY) is None:
        uow.session.add(
            DeploymentSetting(
                key=POLICY_KEY,
                value={"reference": "DEMO-POLICY", "title": "demonstration only"},
                set_by="quickstart",
            )
        )
