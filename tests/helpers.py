"""Small builders shared by tests (real data in, no fakes of the engine)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services import App
from retroface.services.cases import authorise_case, open_case
from retroface.services.enrollment import enroll
from retroface.services.enrollment_plan import plan_enrollment
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
        seriousness="indictable-only",
        requester="detective-a",
    )
    authorise_case(app.acting_as(SUPERVISOR), reference, until=app.now() + timedelta(days=days))
    return reference


def provenance(record: str, **changes: object) -> SubjectProvenance:
    """A complete, valid watchlist provenance record for tests."""
    values: dict[str, object] = {
        "category": "suspect",
        "source_system": "custody-test",
        "record_id": record,
        "holding_basis": "custody-image",
    }
    values.update(changes)
    return SubjectProvenance(**values)  # type: ignore[arg-type]


def provenances(paths: list[Path]) -> dict[str, SubjectProvenance]:
    """Provenance for every subject a folder enrollment of ``paths`` would create."""
    return {i.subject: provenance(f"REC-{i.subject}") for i in plan_enrollment(paths)}


def write_provenance_csv(path: Path, folders: list[Path]) -> Path:
    """A provenance CSV (as the CLI's ``--provenance`` reads) for a folder enrollment."""
    rows = ["subject,category,source_system,record_id,holding_basis"]
    rows += [
        f"{name},suspect,custody-test,REC-{name},custody-image" for name in provenances(folders)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def gallery_with(app: App, name: str, people: dict[str, list[Path]]) -> str:
    supervisor = app.acting_as(SUPERVISOR)
    create_gallery(supervisor, name)
    for subject, files in people.items():
        enroll(supervisor, name, files, subject=subject, provenance=provenance(f"REC-{subject}"))
    return name


def register_users(app: App, users: dict[Principal, str]) -> None:
    """Real user accounts (for the CLI, which logs in), created by a bootstrapped admin."""
    bootstrap_admin(app, ADMIN.username, PASSWORD)
    admin = app.acting_as(ADMIN)
    for principal, password in users.items():
        trained = app.now().date() if principal.role is Role.REVIEWER else None
        add_user(admin, principal.username, principal.role, password, training_completed_on=trained)
