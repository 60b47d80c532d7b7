"""The face picker's listing and the search form's choice fields over HTTP: the listing needs
the page's CSRF token and returns the faces as JSON; a mark without its eyes is refused with
the reason (never a traceback), and no search is used."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from retroface.services.cases.manage import show_case
from tests.api.conftest import browser_login
from tests.conftest import EXAMPLES, OPERATOR
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data
GROUP = EXAMPLES / "knn_examples" / "test" / "obama_and_biden.jpg"


def test_the_listing_and_the_choice_fields_of_the_search_form(client: TestClient, app: App) -> None:
    gallery_with(app, "custody", {"obama": [EXAMPLES / "obama.jpg"]})
    authorised_case(app, "PICK-2")
    browser_login(client, OPERATOR.username)
    page = client.get("/ui/cases/PICK-2").text
    assert 'src="/ui/static/probe-choice.js"' in page and 'name="face"' in page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    photo = [("files", ("group.jpg", GROUP.read_bytes(), "image/jpeg"))]
    forged = client.post("/ui/cases/PICK-2/probe-faces", data={"csrf": "0" * 64}, files=photo)
    assert forged.status_code == 403
    listed = client.post("/ui/cases/PICK-2/probe-faces", data={"csrf": csrf.group(1)}, files=photo)
    assert listed.status_code == 200, listed.text
    faces = listed.json()["faces"]
    assert len(faces) >= 2 and [f["face"] for f in faces] == list(range(1, len(faces) + 1))
    assert all(len(f["box"]) == 4 for f in faces)

    fields = {
        "csrf": csrf.group(1),
        "gallery": "custody",
        "source_type": "cctv",
        "supplied_by": "DC Test",
        "mark": "10,10,60,60",
    }
    refused = client.post("/ui/cases/PICK-2/search", data=fields, files=photo)
    assert refused.status_code == 422 and "needs its two eye centres" in refused.text
    assert "Traceback" not in refused.text
    assert show_case(app, "PICK-2").searches == 0
