"""Probe provenance and one person's stills over HTTP: the source is required, a sketch or
look-alike is refused before a byte is stored, stills fuse into one probe, and a sighting
search names its sightings."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retroface.services import App
from retroface.services.biometrics.uploaded_files import uploads_root
from retroface.store.models import AuditEvent, MediaItem
from tests.api.conftest import login
from tests.api.test_http_workflow import _finished, _upload
from tests.conftest import DATA, EXAMPLES, OPERATOR
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data
API = "/api/v1"
LFW = DATA / "lfw" / "Tim_Henman"


def _uploads(home: Path) -> list[Path]:
    root = uploads_root(home)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_source_is_required_and_a_composite_is_refused_before_anything_is_stored(
    client: TestClient, app: App
) -> None:
    gallery_with(app, "custody", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app, "SRC-1")
    operator = login(client, OPERATOR.username)
    photo = _upload([EXAMPLES / "obama2.jpg"])
    missing = client.post(
        f"{API}/cases/{case}/searches", data={"gallery": "custody"}, files=photo, headers=operator
    )
    assert missing.status_code == 422 and "source_type" in missing.text, missing.text
    composite = client.post(
        f"{API}/cases/{case}/searches",
        data={"gallery": "custody", "source_type": "e-fit", "supplied_by": "DC Smith"},
        files=photo,
        headers=operator,
    )
    assert composite.status_code == 422, composite.text
    assert "declared as a composite" in composite.json()["detail"]
    assert _uploads(app.settings.home) == []  # not a byte of it kept
    with app.unit_of_work() as uow:
        refused = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.refused")
        ).one()
        assert "not an image of the person sought" in refused.details["reason"]


def test_stills_uploaded_as_one_person_are_one_probe_with_their_provenance(
    client: TestClient, app: App
) -> None:
    gallery_with(
        app,
        "custody",
        {"Tim_Henman": [LFW / "Tim_Henman_0001.jpg"], "obama": [EXAMPLES / "obama.jpg"]},
    )
    case = authorised_case(app, "SRC-2")
    operator = login(client, OPERATOR.username)
    stills = [LFW / f"Tim_Henman_000{i}.jpg" for i in (2, 3, 4)]
    started = client.post(
        f"{API}/cases/{case}/searches",
        data={
            "gallery": "custody",
            "source_type": "social-media",
            "supplied_by": "Member of the public, via DC Smith",
            "one_person": "true",
        },
        files=_upload(stills),
        headers=operator,
    )
    assert started.status_code == 202, started.text
    job = _finished(client, started.json()["id"], operator)
    assert job["status"] == "done", job
    (probe,) = job["result"]["probes"]
    assert probe["candidates"][0]["subject"] == "Tim_Henman"
    assert [p["source"] for p in probe["parts"]] == [s.name for s in stills]
    assert {p["source_type"] for p in probe["parts"]} == {"social-media"}
    with app.unit_of_work() as uow:
        suppliers = {m.supplied_by for m in uow.session.scalars(select(MediaItem))}
    assert suppliers == {"Member of the public, via DC Smith"}

    # A sighting search names its sightings; one not in the case's footage is refused.
    unknown = client.post(
        f"{API}/cases/{case}/sighting-searches",
        json={"gallery": "custody", "sightings": [999999]},
        headers=operator,
    )
    assert unknown.status_code == 404 and "no sighting 999999" in unknown.text, unknown.text
    none = client.post(
        f"{API}/cases/{case}/sighting-searches",
        json={"gallery": "custody", "sightings": []},
        headers=operator,
    )
    assert none.status_code == 422, none.text
