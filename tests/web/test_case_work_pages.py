"""The case-work pages over HTTP: forms carry the session's CSRF token, a mistake is shown on
the form (never a traceback), an enrolment is checked against its provenance sheet before a
photo is stored, and no page holds an inline script or style (the CSP allows neither)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from retroface.services.biometrics.uploaded_files import gallery_upload_folder
from tests.api.conftest import browser_login
from tests.conftest import OPERATOR, SUPERVISOR

pytestmark = pytest.mark.needs_data


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def _clean(page: str) -> str:
    assert "<script" not in page and "style=" not in page
    return page


def test_case_work_forms_show_mistakes_and_refuse_before_storing(
    client: TestClient, app: App, data: Path
) -> None:
    assert browser_login(client, OPERATOR.username, follow_redirects=False).status_code == 303
    form = _clean(client.get("/ui/case-work/open").text)
    fields = {
        "csrf": _csrf(form),
        "reference": "bad/ref",
        "purpose": "identify a suspect",
        "lawful_basis": "law-enforcement",
        "offence": "robbery",
        "seriousness": "indictable-only",
    }
    wrong = client.post("/ui/case-work/open", data=fields)
    assert wrong.status_code == 422 and "a case reference is" in wrong.text
    assert 'value="bad/ref"' in wrong.text and "Traceback" not in wrong.text
    forged = client.post("/ui/case-work/open", data={**fields, "csrf": "0" * 64})
    assert forged.status_code == 403
    done = client.post(
        "/ui/case-work/open", data={**fields, "reference": "WEB-1"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/ui/cases/WEB-1"
    # Supervisor-only pages refuse an operator (audited by the service).
    assert client.get("/ui/case-work/authorisations").status_code == 403
    assert client.get("/ui/case-work/disputes").status_code == 403
    assert "Deployment rules" in _clean(client.get("/ui/case-work/deployment").text)

    # A supervisor's enrolment whose photo names nobody in the sheet: refused before a byte
    # of it is stored.
    examples = data / "face_recognition" / "examples"
    assert browser_login(client, SUPERVISOR.username, follow_redirects=False).status_code == 303
    listing = _clean(client.get("/ui/case-work/galleries").text)
    created = client.post(
        "/ui/case-work/galleries",
        data={"csrf": _csrf(listing), "name": "custody"},
        follow_redirects=False,
    )
    assert created.headers["location"] == "/ui/case-work/galleries/custody"
    page = _clean(client.get("/ui/case-work/galleries/custody").text)
    sheet = (
        "subject,category,source_system,record_id,holding_basis\n"
        "obama,suspect,custody-test,REC-1,custody-image\n"
        "biden,suspect,custody-test,REC-2,custody-image\n"
    )
    # A photo named after nobody in the sheet: refused before anything is stored.
    stray = client.post(
        "/ui/case-work/galleries/custody/enrol",
        data={"csrf": _csrf(page)},
        files=[("sheet", ("people.csv", sheet.encode(), "text/csv")),
               ("files", ("someone.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))],
    )  # fmt: skip
    assert stray.status_code == 422 and "someone.jpg: no row for" in stray.text
    assert str(app.settings.home) not in stray.text
    folder = gallery_upload_folder(app.settings.home, "custody")
    assert not folder.exists() or not any(folder.rglob("*.jpg"))
