"""The whole investigation over HTTP: enroll by upload, search as a job, review, audit."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retroface.services import App
from retroface.services.biometrics.uploaded_files import (
    case_upload_files,
    case_upload_folder,
    uploads_root,
)
from retroface.store.models import ApiKey
from tests.api.conftest import SECOND_REVIEWER, login
from tests.conftest import ADMIN, AUDITOR, OPERATOR, REVIEWER, SUPERVISOR

#: An authorisation end inside the longest window a deployment allows (90 days by default).
UNTIL = (datetime.now(UTC) + timedelta(days=30)).isoformat()

pytestmark = pytest.mark.needs_data
API = "/api/v1"

#: Where the evidence came from and who supplied it: required of every search upload.
SOURCE = {"source_type": "cctv", "supplied_by": "DC Test, Test Police"}


def _upload(paths: list[Path], content_type: str = "image/jpeg") -> list[tuple[str, tuple]]:
    return [("files", (p.name, p.read_bytes(), content_type)) for p in paths]


def _enroll(client: TestClient, headers: dict[str, str], subject: str, photos: list[Path]) -> None:
    form = {
        "subject": subject,
        "category": "suspect",
        "source_system": "custody-test",
        "record_id": f"REC-{subject}",
        "holding_basis": "custody-image",
    }
    response = client.post(
        f"{API}/galleries/custody/subjects", data=form, files=_upload(photos), headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["enrolled"] == len(photos)


def _open_case(client: TestClient, operator: dict[str, str], supervisor: dict[str, str]) -> str:
    case = {
        "reference": "OP-HTTP-1",
        "purpose": "identify a robbery suspect from a CCTV still",
        "lawful_basis": "law-enforcement",
        "offence": "robbery",
        "seriousness": "indictable-only",
    }
    assert client.post(f"{API}/cases", json=case, headers=operator).status_code == 201
    window = {"until": UNTIL, "galleries": ["custody"], "max_searches": 5}
    response = client.post(f"{API}/cases/OP-HTTP-1/authorisation", json=window, headers=supervisor)
    assert response.status_code == 200, response.text
    return "OP-HTTP-1"


def _finished(client: TestClient, job_id: str, headers: dict[str, str]) -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("the search job did not finish in 5 minutes")


def test_search_by_upload_review_by_two_people_and_audit(
    client: TestClient, app: App, data: Path
) -> None:
    train = data / "face_recognition" / "examples" / "knn_examples" / "train"
    probe = data / "face_recognition" / "examples" / "knn_examples" / "test" / "obama1.jpg"
    supervisor, operator = login(client, SUPERVISOR.username), login(client, OPERATOR.username)

    created = client.post(f"{API}/galleries", json={"name": "custody"}, headers=supervisor)
    assert created.status_code == 201, created.text
    _enroll(client, supervisor, "obama", sorted((train / "obama").iterdir()))
    _enroll(client, supervisor, "biden", sorted((train / "biden").iterdir()))
    case = _open_case(client, operator, supervisor)

    submitted = client.post(
        f"{API}/cases/{case}/searches",
        data={**SOURCE, "gallery": "custody"},
        files=_upload([probe]),
        headers=operator,
    )
    assert submitted.status_code == 202, submitted.text
    job = _finished(client, submitted.json()["id"], operator)
    assert job["status"] == "done", job
    report = job["result"]
    assert report["notice"].startswith("investigative lead")
    (found,) = [p for p in report["probes"] if p["candidates"]]
    assert found["candidates"][0]["subject"] == "obama"
    # The uploader's name for the file, never where the server keeps it (kept in home).
    assert found["source"] == "obama1.jpg"
    assert str(app.settings.home.resolve()) not in json.dumps(job)
    assert [p.name for p in case_upload_files(app.settings.home, case)] == ["000-obama1.jpg"]
    # Someone else's job is not visible, not even to a supervisor.
    other = client.get(f"{API}/jobs/{submitted.json()['id']}", headers=supervisor)
    assert other.status_code == 404

    queue = client.get(
        f"{API}/reviews", params={"case": case}, headers=login(client, REVIEWER.username)
    )
    assert queue.status_code == 200
    assert str(app.settings.home.resolve()) not in queue.text  # no server path in the queue
    candidate = next(c for c in queue.json() if c["subject"] == "obama")["candidate_id"]
    decision = {"outcome": "possible-match", "reason": "same ear shape and hairline"}
    for reviewer in (REVIEWER, SECOND_REVIEWER):
        reviewed = client.post(
            f"{API}/candidates/{candidate}/reviews",
            json=decision,
            headers=login(client, reviewer.username),
        )
        assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "confirmed"
    # The operator who ran the search may not review it.
    refused = client.post(f"{API}/candidates/{candidate}/reviews", json=decision, headers=operator)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"

    auditor = login(client, AUDITOR.username)
    events = client.get(f"{API}/audit/events", params={"case": case}, headers=auditor).json()
    actions = {e["action"] for e in events}
    expected = {"case.opened", "case.authorised", "search.started", "search.completed"}
    assert expected | {"candidates.viewed", "candidate.reviewed"} <= actions, actions
    assert client.get(f"{API}/audit/verify", headers=auditor).json()["ok"] is True

    pdf = client.post(f"{API}/cases/{case}/report", headers=auditor)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    html = client.post(f"{API}/cases/{case}/report", params={"format": "html"}, headers=auditor)
    page = html.text
    assert "investigative lead" in page and "obama" in page and "confirmed" in page
    assert page.count("data:image/jpeg;base64,") == 2  # the probe and the reference face
    assert "search.started" in page  # the audit extract
    reports = app.settings.home / "exports" / "case-reports"
    assert len(list(reports.glob("*.pdf"))) == 2  # written inside the data directory only
    assert not any(case in p.name for p in reports.iterdir())  # named without the case

    closed = client.post(f"{API}/cases/{case}/close", json={"reason": "charged"}, headers=operator)
    assert closed.status_code == 200, closed.text
    assert not case_upload_folder(app.settings.home, case).exists()  # evidence goes with the case


def test_api_key_acts_as_its_user_and_stops_when_revoked(client: TestClient, app: App) -> None:
    admin = login(client, ADMIN.username)
    created = client.post(
        f"{API}/api-keys",
        json={"username": SUPERVISOR.username, "name": "custody-sync"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    with app.unit_of_work() as uow:
        stored = uow.session.scalars(select(ApiKey)).one()
        assert key not in (stored.key_sha256, stored.name)  # only a digest is kept
    machine = {"X-API-Key": key}
    assert (
        client.post(f"{API}/galleries", json={"name": "sync"}, headers=machine).status_code == 201
    )
    # A supervisor's key cannot do what a supervisor cannot.
    assert client.get(f"{API}/audit/events", headers=machine).status_code == 403
    revoked = client.delete(f"{API}/api-keys/{created.json()['details']['id']}", headers=admin)
    assert revoked.status_code == 200
    assert client.get(f"{API}/galleries", headers=machine).status_code == 401
    no_admin_keys = client.post(
        f"{API}/api-keys", json={"username": ADMIN.username, "name": "x"}, headers=admin
    )
    assert no_admin_keys.status_code == 422


def test_erasing_a_subject_deletes_the_photos_uploaded_for_them(
    client: TestClient, app: App, data: Path
) -> None:
    train = data / "face_recognition" / "examples" / "knn_examples" / "train"
    supervisor = login(client, SUPERVISOR.username)
    client.post(f"{API}/galleries", json={"name": "custody"}, headers=supervisor)
    _enroll(client, supervisor, "biden", sorted((train / "biden").iterdir()))
    stored = list((uploads_root(app.settings.home) / "references").rglob("*.jpg"))
    assert len(stored) == 2
    erased = client.post(
        f"{API}/galleries/custody/subjects/biden/erasure",
        json={"request_reference": "SAR-2026-17"},
        headers=supervisor,
    )
    assert erased.status_code == 200, erased.text
    assert not any(path.exists() for path in stored)
