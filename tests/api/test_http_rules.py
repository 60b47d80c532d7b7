"""Every endpoint × every role over HTTP, plus what the HTTP layer itself must guarantee:
authentication, problem documents, upload checks, security headers, the OpenAPI spec."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from retroface.governance.roles import Action, Role, is_allowed
from retroface.server import create_server
from retroface.services import App
from retroface.services.biometrics.uploaded_files import case_upload_folder
from retroface.serving.login_throttle import AddressThrottle
from retroface.store.models import AuditEvent
from tests.api.conftest import browser_login, login
from tests.conftest import ADMIN, AUDITOR, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import PASSWORD, register_users

#: An authorisation end inside the longest window a deployment allows (90 days by default).
UNTIL = (datetime.now(UTC) + timedelta(days=30)).isoformat()

pytestmark = pytest.mark.needs_data
API = "/api/v1"
JPEG = ("probe.jpg", b"\xff\xd8\xff\xe0 not really a photo", "image/jpeg")
#: Where the evidence came from and who supplied it: required of every search upload.
SOURCE = {"source_type": "cctv", "supplied_by": "DC Test, Test Police"}
CASE = {
    "reference": "RM-1",
    "purpose": "role matrix",
    "lawful_basis": "law-enforcement",
    "offence": "robbery",
    "seriousness": "indictable-only",
}
SUBJECT_FORM = {
    "subject": "s",
    "category": "suspect",
    "source_system": "custody",
    "record_id": "R1",
    "holding_basis": "custody-image",
}

#: (method, path, keyword arguments for the request, the action the service checks)
ENDPOINTS: list[tuple[str, str, dict, Action]] = [
    ("GET", "/users", {}, Action.USER_MANAGE),
    (
        "POST",
        "/users",
        {"json": {"username": "u1", "password": "x" * 12, "role": "auditor"}},
        Action.USER_MANAGE,
    ),
    ("GET", "/api-keys", {}, Action.USER_MANAGE),
    ("POST", "/api-keys", {"json": {"username": "officer-1", "name": "k"}}, Action.USER_MANAGE),
    ("DELETE", "/api-keys/999", {}, Action.USER_MANAGE),
    ("POST", "/users/nobody/deactivate", {"json": {"reason": "r"}}, Action.USER_MANAGE),
    ("POST", "/users/nobody/reactivate", {}, Action.USER_MANAGE),
    ("PUT", "/users/nobody/role", {"json": {"role": "auditor"}}, Action.USER_MANAGE),
    (
        "POST",
        "/users/nobody/credential-reset",
        {"json": {"password": "y" * 12}},
        Action.USER_MANAGE,
    ),
    ("POST", "/users/nobody/revoke-sessions", {}, Action.USER_MANAGE),
    ("POST", "/cases", {"json": CASE | {"reference": "RM-2"}}, Action.CASE_OPEN),
    ("GET", "/cases", {}, Action.CASE_READ),
    ("GET", "/cases/RM-1", {}, Action.CASE_READ),
    (
        "POST",
        "/cases/RM-1/authorisation",
        {"json": {"until": UNTIL}},
        Action.CASE_AUTHORISE,
    ),
    ("POST", "/cases/RM-1/team", {"json": {"username": "nobody-9"}}, Action.CASE_ASSIGN),
    (
        "POST",
        "/cases/RM-1/judicial-authorisation",
        {"json": {"reference": "J-1"}},
        Action.CASE_RECORD_JUDICIAL,
    ),
    ("POST", "/cases/RM-9/close", {"json": {"reason": "done"}}, Action.CASE_CLOSE),
    (
        "POST",
        "/cases/RM-1/searches",
        {"data": {**SOURCE, "gallery": "rm"}, "files": [("files", JPEG)]},
        Action.SEARCH_RUN,
    ),
    ("POST", "/cases/RM-1/probe-faces", {"files": [("files", JPEG)]}, Action.SEARCH_RUN),
    (
        "POST",
        "/cases/RM-1/probe-preview",
        {"data": {"enhance": '[{"op": "mirror"}]'}, "files": [("files", JPEG)]},
        Action.SEARCH_RUN,
    ),
    ("POST", "/cases/RM-1/find", {"json": {"gallery": "rm", "subject": "s"}}, Action.SEARCH_RUN),
    ("POST", "/cases/RM-1/clusters", {}, Action.VIDEO_CLUSTER),
    ("GET", "/cases/RM-1/clusters", {}, Action.VIDEO_CLUSTER),
    ("GET", "/galleries", {}, Action.GALLERY_READ),
    ("POST", "/galleries", {"json": {"name": "rm-new"}}, Action.GALLERY_CREATE),
    ("GET", "/galleries/rm", {}, Action.GALLERY_READ),
    ("PUT", "/galleries/rm/cap", {"json": {"max_subjects": 500}}, Action.GALLERY_CONFIGURE),
    ("GET", "/galleries/rm/manifest", {}, Action.GALLERY_MANIFEST),
    (
        "POST",
        "/galleries/rm/subjects",
        {"data": SUBJECT_FORM, "files": [("files", JPEG)]},
        Action.GALLERY_ENROLL,
    ),
    ("DELETE", "/galleries/rm/subjects/nobody", {}, Action.GALLERY_REMOVE_SUBJECT),
    ("POST", "/galleries/rm/subjects/nobody/restore", {}, Action.GALLERY_REMOVE_SUBJECT),
    (
        "POST",
        "/galleries/rm/subjects/nobody/erasure",
        {"json": {"request_reference": "SAR-1"}},
        Action.SUBJECT_ERASE,
    ),
    ("GET", "/reviews", {}, Action.REVIEW_READ),
    ("GET", "/reviews/disputed", {}, Action.REVIEW_RESOLVE),
    (
        "POST",
        "/candidates/999/resolution",
        {"json": {"outcome": "no-match", "reason": "r"}},
        Action.REVIEW_RESOLVE,
    ),
    (
        "POST",
        "/candidates/999/reviews",
        {"json": {"outcome": "no-match", "reason": "r"}},
        Action.REVIEW_DECIDE,
    ),
    ("GET", "/audit/events", {}, Action.AUDIT_READ),
    ("GET", "/audit/verify", {}, Action.AUDIT_READ),
    (
        "GET",
        "/reports/transparency",
        {"params": {"from": "2026-01-01", "to": "2026-12-31"}},
        Action.REPORT_TRANSPARENCY,
    ),
    ("GET", "/reports/dpia", {}, Action.REPORT_DPIA),
    ("POST", "/cases/RM-1/report", {}, Action.REPORT_CASE),
    ("POST", "/cases/RM-1/disclosure-pack", {}, Action.REPORT_CASE),
    ("GET", "/deployment", {}, Action.DEPLOYMENT_READ),
    ("PUT", "/deployment/threshold-floor", {"json": {"floor": 0.93}}, Action.DEPLOYMENT_CONFIGURE),
    ("PUT", "/deployment/eu-mode", {"json": {"enabled": False}}, Action.DEPLOYMENT_CONFIGURE),
    ("GET", "/deployment/calibrations", {}, Action.DEPLOYMENT_READ),
    ("PUT", "/galleries/rm/live-watchlist", {"json": {"enabled": False}}, Action.GALLERY_CONFIGURE),
    ("GET", "/live/deployments", {}, Action.LIVE_READ),
    (
        "POST",
        "/live/deployments",
        {
            "json": {
                "id": "L-1",
                "purpose": "p",
                "location": "l",
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2026-01-01T02:00:00Z",
                "watchlist": "rm",
                "public_notice": "n",
            }
        },
        Action.LIVE_DEPLOY,
    ),
    ("GET", "/live/deployments/L-1/alerts", {}, Action.LIVE_READ),
    (
        "POST",
        "/live/alerts/999/adjudication",
        {"json": {"engaged": True, "outcome": "true-alert"}},
        Action.LIVE_ADJUDICATE,
    ),
    ("GET", "/live/deployments/L-1/publication", {}, Action.LIVE_REPORT),
    ("POST", "/deployment/calibrations", {"json": {}}, Action.DEPLOYMENT_CONFIGURE),
]

PEOPLE = {
    Role.OPERATOR: OPERATOR,
    Role.REVIEWER: REVIEWER,
    Role.SUPERVISOR: SUPERVISOR,
    Role.AUDITOR: AUDITOR,
    Role.ADMIN: ADMIN,
}


def _role_refusals(app: App, action: Action) -> int:
    with app.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "access.refused",
                    AuditEvent.object_id == action.value,
                    AuditEvent.details["reason"].as_string().like("role %"),
                )
            )
            or 0
        )


def test_every_endpoint_for_every_role_only_allowed_cells_pass_and_refusals_are_audited(
    client: TestClient, app: App
) -> None:
    supervisor, operator = login(client, SUPERVISOR.username), login(client, OPERATOR.username)
    assert client.post(f"{API}/cases", json=CASE, headers=operator).status_code == 201
    assert (
        client.post(f"{API}/galleries", json={"name": "rm"}, headers=supervisor).status_code == 201
    )
    headers = {role: login(client, person.username) for role, person in PEOPLE.items()}
    wrong = []
    for method, path, kwargs, action in ENDPOINTS:
        for role, auth in headers.items():
            before = _role_refusals(app, action)
            response = client.request(method, API + path, headers=auth, **kwargs)
            refused = _role_refusals(app, action) > before
            assert response.status_code < 500, (method, path, role, response.text)
            if is_allowed(role, action):
                if refused:
                    wrong.append(f"{role} refused {method} {path}")
            elif not (refused and response.status_code == 403):
                wrong.append(f"{role} not refused {method} {path}: {response.status_code}")
    assert wrong == []


def test_without_credentials_every_endpoint_is_401_and_audited(
    client: TestClient, app: App
) -> None:
    for method, path, kwargs, action in ENDPOINTS:
        before = _anonymous_refusals(app)
        response = client.request(method, API + path, **kwargs)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert _anonymous_refusals(app) == before + 1, (method, path, action)
    bad = client.get(f"{API}/galleries", headers={"Authorization": "Bearer not-a-session"})
    assert bad.status_code == 401 and bad.json()["status"] == 401


def _anonymous_refusals(app: App) -> int:
    with app.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "access.refused", AuditEvent.actor == "anonymous"
                )
            )
            or 0
        )


def test_uploads_are_checked_before_anything_is_kept(
    client: TestClient, app: App, data: Path
) -> None:
    operator, supervisor = login(client, OPERATOR.username), login(client, SUPERVISOR.username)
    client.post(f"{API}/cases", json=CASE, headers=operator)
    client.post(
        f"{API}/cases/RM-1/authorisation",
        json={"until": UNTIL},
        headers=supervisor,
    )
    client.post(f"{API}/galleries", json={"name": "rm"}, headers=supervisor)
    script = ("files", ("evil.html", b"<script>alert(1)</script>", "text/html"))
    response = client.post(
        f"{API}/cases/RM-1/searches",
        data={**SOURCE, "gallery": "rm"},
        files=[script],
        headers=operator,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].startswith("urn:retroface:problem:") and "evil.html" in problem["detail"]
    folder = case_upload_folder(app.settings.home, "RM-1")
    assert not folder.exists() or not any(folder.rglob("*.*"))
    huge = str(app.settings.max_file_bytes * 100)
    too_big = client.post(
        f"{API}/cases/RM-1/searches",
        content=b"x",
        headers=operator
        | {"content-length": huge, "content-type": "multipart/form-data; boundary=x"},
    )
    assert too_big.status_code == 413
    missing = client.post(
        f"{API}/cases/RM-1/searches", data={**SOURCE, "gallery": "rm"}, headers=operator
    )
    assert missing.status_code == 422 and "files" in missing.json()["detail"]


def test_security_headers_problem_documents_and_openapi(client: TestClient) -> None:
    spec = client.get(f"{API}/openapi.json", headers=login(client, AUDITOR.username))
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert f"{API}/cases/{{reference}}/searches" in paths and f"{API}/audit/events" in paths
    for headers in (spec.headers, client.get(f"{API}/nowhere").headers):
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
    missing = client.get(f"{API}/nowhere")
    assert (
        missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    )
    # No route carries biometric data or credentials in its URL: no path parameter is a
    # template, an image or a token.
    for path in paths:
        assert not any(word in path for word in ("embedding", "template", "token", "password"))


def test_repeated_failed_logins_lock_the_name_then_it_unlocks(app: App) -> None:
    """Five wrong passwords under one name within the window lock that name: even the right
    password is then refused with 429 and Retry-After, and audited; an unknown name locks
    the same way (no hint of who exists); others log in; the lock ends after the window and
    a success clears the count."""
    app.settings = app.settings.with_(login_lockout_s=2.0)
    register_users(app, dict.fromkeys((OPERATOR, SUPERVISOR), PASSWORD))
    with TestClient(create_server(application=app), raise_server_exceptions=False) as http:
        _lock_and_unlock(app, http)


def _lock_and_unlock(app: App, client: TestClient) -> None:
    wrong = {"username": OPERATOR.username, "password": "not the password"}
    for _ in range(app.settings.login_max_failures):
        assert client.post(f"{API}/auth/login", json=wrong).status_code == 401
    right = {"username": OPERATOR.username, "password": PASSWORD}
    locked = client.post(f"{API}/auth/login", json=right)
    assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 2
    assert "too many failed log-ins" in locked.json()["detail"]
    for _ in range(app.settings.login_max_failures):
        client.post(f"{API}/auth/login", json={"username": "nobody", "password": "x"})
    assert (
        client.post(f"{API}/auth/login", json={"username": "nobody", "password": "x"}).status_code
        == 429
    )
    login(client, SUPERVISOR.username)  # another name is unaffected
    with app.unit_of_work() as uow:
        events = uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == OPERATOR.username)
        ).all()
    assert events.count("login.failed") == 5 and events.count("login.locked") == 1
    time.sleep(2.1)
    login(client, OPERATOR.username)
    # A success cleared the count: one more failure does not lock again.
    assert client.post(f"{API}/auth/login", json=wrong).status_code == 401
    login(client, OPERATOR.username)


def test_many_failed_logins_from_one_address_throttle_that_address(app: App) -> None:
    """One password tried against many names never trips a per-name lock; the address
    throttle refuses the address (even a correct log-in) once its failures reach the limit,
    on both the API and the web form, until the window has passed."""
    # A window long enough for five argon2 checks on a loaded CI machine.
    app.settings = app.settings.with_(login_max_failures_per_address=3, login_lockout_s=5.0)
    register_users(app, dict.fromkeys((OPERATOR,), PASSWORD))
    with TestClient(create_server(application=app), raise_server_exceptions=False) as http:
        for name in ("amy", "ben", "cat"):
            answer = http.post(f"{API}/auth/login", json={"username": name, "password": "x"})
            assert answer.status_code == 401
        right = {"username": OPERATOR.username, "password": PASSWORD}
        refused = http.post(f"{API}/auth/login", json=right)
        assert refused.status_code == 429 and "this address" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        page = browser_login(http, OPERATOR.username, follow_redirects=False)
        assert page.status_code == 429 and "this address" in page.text
        time.sleep(5.1)
        assert http.post(f"{API}/auth/login", json=right).status_code == 200


def test_address_throttle_counts_only_failures_inside_its_window() -> None:
    now = [0.0]
    throttle = AddressThrottle(max_failures=2, window_s=10.0, clock=lambda: now[0])
    throttle.failed("10.0.0.1")
    now[0] = 6.0
    throttle.failed("10.0.0.1")
    assert throttle.wait_s("10.0.0.1") == pytest.approx(4.0)
    assert throttle.wait_s("10.0.0.2") == 0.0
    now[0] = 10.5  # the first failure has left the window
    assert throttle.wait_s("10.0.0.1") == 0.0
    assert AddressThrottle(max_failures=0, window_s=10.0).wait_s("10.0.0.1") == 0.0
    for i in range(100):  # addresses that only ever log in successfully are not kept
        throttle.wait_s(f"10.1.0.{i}")
    # What is left: the address that failed at 6.0 (still in the window) and the last one
    # checked (dropped at the next call).
    assert set(throttle._failures) == {"10.0.0.1", "10.1.0.99"}
