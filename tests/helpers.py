"""Small builders shared by tests (real data in, no fakes of the engine)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from retroface.services import App
from retroface.services.cases import authorise_case, open_case
from retroface.services.enrollment import enroll
from retroface.services.galleries import create_gallery


def authorised_case(app: App, reference: str = "CASE-1", days: int = 7) -> str:
    open_case(
        app,
        reference,
        purpose="test investigation",
        lawful_basis="law-enforcement",
        offence="robbery",
        requester="detective-a",
    )
    authorise_case(app, reference, by="supervisor-b", until=app.now() + timedelta(days=days))
    return reference


def gallery_with(app: App, name: str, people: dict[str, list[Path]]) -> str:
    create_gallery(app, name)
    for subject, files in people.items():
        enroll(app, name, files, subject=subject)
    return name
