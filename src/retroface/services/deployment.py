"""Deployment-wide state: whether this data directory is a demo or a real deployment.

``quickstart`` must work with one command on a fresh machine, yet every
action needs a principal. So quickstart turns an *empty* data directory into
a demo deployment with two built-in demo users (a supervisor and an
operator, whose random passwords nobody knows) and acts as them. It refuses
to touch a data directory that holds real users.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from retroface.errors import AuthorisationError
from retroface.governance.identity import Principal, hash_password
from retroface.governance.roles import Role
from retroface.services.app import App
from retroface.store.models import DeploymentSetting, User

DEMO_SUPERVISOR = "demo-supervisor"
DEMO_OPERATOR = "demo-operator"
MODE_KEY = "mode"


def deployment_mode(app: App) -> str | None:
    with app.unit_of_work() as uow:
        row = uow.session.get(DeploymentSetting, MODE_KEY)
        return None if row is None else str(row.value.get("mode"))


def ensure_demo_deployment(app: App) -> tuple[Principal, Principal]:
    """(demo supervisor, demo operator), creating them in an empty data directory."""
    supervisor = Principal(DEMO_SUPERVISOR, Role.SUPERVISOR)
    operator = Principal(DEMO_OPERATOR, Role.OPERATOR)
    with app.unit_of_work() as uow:
        mode = uow.session.get(DeploymentSetting, MODE_KEY)
        if mode is not None and mode.value.get("mode") == "demo":
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
        app.acting_as(supervisor).audit(
            uow.session,
            action="deployment.demo_created",
            object_type="deployment",
            object_id=MODE_KEY,
        )
        uow.commit()
    return supervisor, operator
