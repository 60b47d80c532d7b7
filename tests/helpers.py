"""Small builders shared by tests (real data in, no fakes of the engine)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.cases import authorise_case, open_case
from retroface.services.enrollment import enroll
from retroface.services.galleries import create_gallery
from retroface.services.users import add_user, bootstrap_admin
from tests.conftest import ADMIN, SUPERVISOR

PASSWORD = "correct horse battery staple"


def authorised_case(app: App, reference: str = "CASE-1", days: int = 7) -> str:
    open_case(
        app,
        reference,
        purpose="test investigation",
        lawful_basis="law-enforcement",
        offence="robbery",
        requester="detective-a",
    )
    authorise_case(app.acting_as(SUPERVISOR), reference, until=app.now() + timedelta(days=days))
    return reference


def gallery_with(app: App, name: str, people: dict[str, list[Path]]) -> str:
    supervisor = app.acting_as(SUPERVISOR)
    create_gallery(supervisor, name)
    for subject, files in people.items():
        enroll(supervisor, name, files, subject=subject)
    return name


def register_users(app: App, users: dict[Principal, str]) -> None:
    """Real user accounts (for the CLI, which logs in), created by a bootstrapped admin."""
    bootstrap_admin(app, ADMIN.username, PASSWORD)
    admin = app.acting_as(ADMIN)
    for principal, password in users.items():
        trained = app.now().date() if principal.role is Role.REVIEWER else None
        add_user(admin, principal.username, principal.role, password, training_completed_on=trained)
