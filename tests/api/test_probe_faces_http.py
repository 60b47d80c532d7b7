"""Choosing the face to search over HTTP: a listing of an upload's faces, and the search
form's choice; an image of several faces uploaded with no choice uses no search."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retroface.services import App
from retroface.services.biometrics.uploaded_files import case_upload_files
from retroface.services.cases.manage import authorise_case, open_case
from retroface.store.models import AuditEvent, Search
from tests.api.conftest import login
from tests.api.test_http_workflow import _finished, _upload
from tests.conftest import EXAMPLES, OPERATOR, SUPERVISOR
from tests.helpers import gallery_with

pytestmark = pytest.mark.needs_data
API = "/api/v1"
GROUP = EXAMPLES / "knn_examples" / "test" / "obama_and_biden.jpg"

#: Where the evidence came from and who supplied it: required of every search upload.
SOURCE = {"source_type": "cctv", "supplied_by": "DC Test, Test Police"}


def _case_with_one_search(app: App) -> str:
    open_case(
        app.acting_as(OPERATOR),
        "OP-HTTP-2",
        purpose="identify a suspect in a group photo",
        lawful_basis="law-enforcement",
        offence="robbery",
        seriousness="indictable-only",
    )
    until = app.now() + timedelta(days=1)
    authorise_case(app.acting_as(SUPERVISOR), "OP-HTTP-2", until=until, max_searches=1)
    return "OP-HTTP-2"


def test_an_uploads_faces_are_listed_and_the_search_form_chooses_one(
    client: TestClient, app: App
) -> None:
    gallery_with(
        app, "custody", {"obama": [EXAMPLES / "obama.jpg"], "biden": [EXAMPLES / "biden.jpg"]}
    )
    case = _case_with_one_search(app)
    operator = login(client, OPERATOR.username)
    home = app.settings.home

    listed = client.post(
        f"{API}/cases/{case}/probe-faces", files=_upload([GROUP]), headers=operator
    )
    assert listed.status_code == 200, listed.text
    listing = listed.json()
    assert listing["source"] == GROUP.name and [f["face"] for f in listing["faces"]] == [1, 2, 3]
    assert str(home.resolve()) not in listed.text
    assert case_upload_files(home, case) == []  # the listed upload is not kept

    # Uploaded with no choice: the job fails saying why, nothing is kept, no search is used.
    unchosen = client.post(
        f"{API}/cases/{case}/searches",
        data={**SOURCE, "gallery": "custody"},
        files=_upload([GROUP]),
        headers=operator,
    )
    assert unchosen.status_code == 202, unchosen.text
    job = _finished(client, unchosen.json()["id"], operator)
    assert job["status"] == "failed" and "holds 3 faces and none was chosen" in job["error"]
    assert GROUP.name in job["error"] and str(home.resolve()) not in json.dumps(job)
    assert case_upload_files(home, case) == []
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(Search)).all() == []
        listings = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "search.faces_listed")
        ).all()
        assert [d["faces"] for d in listings] == [3, 3]

    # A choice of one face goes with exactly one image, refused before anything is stored.
    two = client.post(
        f"{API}/cases/{case}/searches",
        data={**SOURCE, "gallery": "custody", "face": "1"},
        files=_upload([GROUP, EXAMPLES / "obama2.jpg"]),
        headers=operator,
    )
    assert two.status_code in (400, 422) and "exactly one image" in two.text, two.text
    unmarked = client.post(
        f"{API}/cases/{case}/searches",
        data={**SOURCE, "gallery": "custody", "mark": "10,10,80,80"},
        files=_upload([GROUP]),
        headers=operator,
    )
    assert unmarked.status_code in (400, 422) and "eye centres" in unmarked.text
    assert case_upload_files(home, case) == []

    biden = min((f for f in listing["faces"] if f["box"][1] < 600), key=lambda f: f["box"][0])
    chosen = client.post(
        f"{API}/cases/{case}/searches",
        data={**SOURCE, "gallery": "custody", "face": str(biden["face"])},
        files=_upload([GROUP]),
        headers=operator,
    )
    assert chosen.status_code == 202, chosen.text
    job = _finished(client, chosen.json()["id"], operator)
    assert job["status"] == "done", job
    (probe,) = job["result"]["probes"]
    assert probe["box"] == biden["box"] and probe["candidates"][0]["subject"] == "biden"
    assert probe["source"] == GROUP.name
