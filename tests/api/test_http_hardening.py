"""Attacks on the HTTP layer itself, each performed and refused: uploads kept after a refusal
or read before authentication, a body streamed past the size limit, a spoofed client
address, huge numbers and naive times, a forged log-in, an unexpected error's response,
server paths and case references leaking out, and the API schema and docs page."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from retroface.cli import server_commands
from retroface.faces import FaceEngine
from retroface.server import create_server
from retroface.services import App, open_app
from retroface.services.biometrics.face_views import candidate_faces
from retroface.services.biometrics.uploaded_files import (
    case_upload_files,
    case_upload_folder,
    uploads_root,
)
from retroface.services.cases.manage import authorise_case, close_case, open_case
from retroface.services.operations import keys
from retroface.services.search.gate import MAX_CANDIDATES_LIMIT
from retroface.settings import Settings
from retroface.store.data_protection import is_sealed, sealed_key_id
from retroface.store.models import AuditEvent
from tests.api.conftest import PEOPLE, browser_login, login, login_form_token
from tests.conftest import ADMIN, AUDITOR, EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR, make_ready
from tests.helpers import PASSWORD, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data
API = "/api/v1"
TRAIN = EXAMPLES / "knn_examples" / "train"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
SUBJECT_FORM = {
    "subject": "new-person",
    "category": "suspect",
    "source_system": "custody",
    "record_id": "R-9",
    "holding_basis": "custody-image",
}

#: Where the evidence came from and who supplied it: required of every search upload.
SOURCE = {"source_type": "cctv", "supplied_by": "DC Test, Test Police"}


def _photo(name: str = "obama.jpg") -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, (TRAIN / "obama" / "obama.jpg").read_bytes(), "image/jpeg"))


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _audited(app: App, action: str) -> list[tuple[str, dict]]:
    """(actor, details) of each audit event of ``action``."""
    with app.unit_of_work() as uow:
        rows = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [(e.actor, dict(e.details or {})) for e in rows]


def _has_security_headers(response: httpx.Response) -> bool:
    headers = response.headers
    return all(headers.get(k) == v for k, v in SECURITY_HEADERS.items()) and (
        "frame-ancestors 'none'" in headers.get("content-security-policy", "")
    )


# --- 5. uploads: nothing kept after a refusal, nothing read before authentication ---------


def test_a_search_refused_at_its_gate_stores_no_evidence_and_is_audited(
    client: TestClient, app: App
) -> None:
    """Out of the authorisation's scope, an unknown gallery, a threshold under the floor, a
    candidate cap over the services' limit: each is refused before a byte is stored (the
    gate's refusals audited); the largest cap the services allow is accepted."""
    gallery_with(app, "custody", {"obama": [TRAIN / "obama" / "obama.jpg"]})
    gallery_with(app, "other", {"biden": [TRAIN / "biden" / "biden.jpg"]})
    open_case(
        app,
        "GATE-1",
        purpose="gate",
        lawful_basis="law-enforcement",
        offence="robbery",
        seriousness="indictable-only",
    )
    authorise_case(
        app.acting_as(SUPERVISOR),
        "GATE-1",
        until=app.now() + timedelta(days=7),
        galleries=["custody"],
    )
    operator = login(client, OPERATOR.username)
    refusals = [
        ({**SOURCE, "gallery": "other"}, 403, "outside the authorised scope"),
        ({**SOURCE, "gallery": "no-such-gallery"}, 404, "no-such-gallery"),
        ({**SOURCE, "gallery": "custody", "threshold": "0.5"}, 403, "below the deployment's floor"),
        (
            {**SOURCE, "gallery": "custody", "max_candidates": str(MAX_CANDIDATES_LIMIT + 1)},
            422,
            "",
        ),
    ]
    for form, status, said in refusals:
        before = len(_audited(app, "search.refused"))
        response = client.post(
            f"{API}/cases/GATE-1/searches", data=form, files=[_photo()], headers=operator
        )
        assert response.status_code == status, (form, response.text)
        assert said in response.json().get("detail", ""), (form, response.text)
        assert _files_under(uploads_root(app.settings.home)) == set(), form
        audited = len(_audited(app, "search.refused")) - before
        assert audited == (0 if status == 422 else 1), form
    accepted = client.post(
        f"{API}/cases/GATE-1/searches",
        data={**SOURCE, "gallery": "custody", "max_candidates": str(MAX_CANDIDATES_LIMIT)},
        files=[_photo()],
        headers=operator,
    )
    assert accepted.status_code == 202, accepted.text
    client.app.state.jobs.wait_idle()  # type: ignore[attr-defined]
    assert (
        client.get(f"{API}/jobs/{accepted.json()['id']}", headers=operator).json()["status"]
        == "done"
    )
    assert len(case_upload_files(app.settings.home, "GATE-1")) == 1


def test_evidence_a_search_could_not_use_is_deleted_and_named_as_uploaded(
    client: TestClient, app: App
) -> None:
    """A file the engine cannot read is reported under the uploader's name (no server path
    in the job) and is not kept; the photo that was searched is."""
    gallery_with(app, "custody", {"obama": [TRAIN / "obama" / "obama.jpg"]})
    authorised_case(app, "LEAK-1")
    operator = login(client, OPERATOR.username)
    broken = ("files", ("broken scan.jpg", b"\xff\xd8\xff\xe0 not a photo", "image/jpeg"))
    response = client.post(
        f"{API}/cases/LEAK-1/searches",
        data={**SOURCE, "gallery": "custody"},
        files=[_photo("obama2.jpg"), broken],
        headers=operator,
    )
    assert response.status_code == 202, response.text
    client.app.state.jobs.wait_idle()  # type: ignore[attr-defined]
    job = client.get(f"{API}/jobs/{response.json()['id']}", headers=operator).json()
    assert job["status"] == "done", job
    assert [e["source"] for e in job["result"]["errors"]] == ["broken scan.jpg"]
    assert {p["source"] for p in job["result"]["probes"]} == {"obama2.jpg"}
    text = json.dumps(job)
    assert str(app.settings.home.resolve()) not in text and "uploads/" not in text
    assert [p.name for p in case_upload_files(app.settings.home, "LEAK-1")] == ["000-obama2.jpg"]


def test_refused_reference_photos_are_not_kept(client: TestClient, app: App) -> None:
    """Reference photos refused for their provenance, an unknown gallery, or for holding no
    usable face leave nothing under uploads/; the report names files as uploaded."""
    supervisor = login(client, SUPERVISOR.username)
    assert client.post(f"{API}/galleries", json={"name": "refs"}, headers=supervisor).is_success
    uploads = uploads_root(app.settings.home)
    bad_category = client.post(
        f"{API}/galleries/refs/subjects",
        data=SUBJECT_FORM | {"category": "gossip"},
        files=[_photo()],
        headers=supervisor,
    )
    assert bad_category.status_code == 422, bad_category.text
    unknown = client.post(
        f"{API}/galleries/nowhere/subjects", data=SUBJECT_FORM, files=[_photo()], headers=supervisor
    )
    assert unknown.status_code == 404, unknown.text
    assert _files_under(uploads) == set()
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "grey").save(blank, format="PNG")
    no_face = ("files", ("blank.png", blank.getvalue(), "image/png"))
    empty = client.post(
        f"{API}/galleries/refs/subjects", data=SUBJECT_FORM, files=[no_face], headers=supervisor
    )
    assert empty.status_code == 201, empty.text
    assert [s["source"] for s in empty.json()["skipped"]] == ["blank.png"]
    assert str(app.settings.home.resolve()) not in empty.text
    assert _files_under(uploads) == set()
    kept = client.post(
        f"{API}/galleries/refs/subjects", data=SUBJECT_FORM, files=[_photo()], headers=supervisor
    )
    assert kept.status_code == 201 and kept.json()["enrolled"] == 1, kept.text
    assert len(_files_under(uploads)) == 1


def test_an_anonymous_upload_is_refused_before_a_byte_of_it_is_read(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 MB multipart body without credentials is answered 401 (audited) by the API and
    sent to the log-in page by the UI without the server reading any of it: nothing is
    written under the data directory or the temp directory."""
    register_users(app, dict.fromkeys(PEOPLE, PASSWORD))
    server = create_server(application=app)
    read = [0]

    async def counting(scope, receive, send):  # type: ignore[no-untyped-def]
        async def counted():  # type: ignore[no-untyped-def]
            message = await receive()
            read[0] += len(message.get("body", b""))
            return message

        await server(scope, counted, send)

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    home = app.settings.home
    before = _files_under(home)
    big = ("files", ("probe.jpg", b"\xff\xd8\xff\xe0" + os.urandom(10 * 2**20), "image/jpeg"))
    with TestClient(counting, raise_server_exceptions=False) as http:
        for path, form in (
            (f"{API}/cases/ANY-1/searches", {**SOURCE, "gallery": "g"}),
            (f"{API}/galleries/g/subjects", SUBJECT_FORM),
        ):
            refusals = len(_audited(app, "access.refused"))
            response = http.post(path, data=form, files=[big])
            assert response.status_code == 401, response.text
            assert len(_audited(app, "access.refused")) == refusals + 1
        page = http.post(
            "/ui/cases/ANY-1/search", data={"gallery": "g"}, files=[big], follow_redirects=False
        )
        assert page.status_code == 303 and page.headers["location"] == "/ui/login"
    assert read[0] == 0
    assert {p for p in _files_under(home) if "sqlite" not in p.name} <= before
    assert list(spool.iterdir()) == []


def test_upload_folders_are_keyed_per_installation_and_old_folders_go_with_their_case(
    app: App, tmp_path: Path
) -> None:
    """A folder name is no unkeyed digest of the case reference and differs between
    installations; evidence in a folder named the old way is still deleted at closure."""
    home = app.settings.home
    keyed = case_upload_folder(home, "CASE-K")
    unkeyed = hashlib.sha256(b"CASE-K").hexdigest()
    assert keyed.name not in unkeyed and "CASE-K" not in str(keyed)
    assert case_upload_folder(tmp_path / "another-installation", "CASE-K").name != keyed.name
    assert case_upload_folder(home, "CASE-K") == keyed  # stable: the key is made once
    assert (home / "installation.key").stat().st_mode & 0o077 == 0
    authorised_case(app, "CASE-K")
    legacy = uploads_root(home) / "evidence" / unkeyed[:24] / "f1" / "000-old.jpg"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"evidence uploaded by an earlier version")
    (keyed / "f2").mkdir(parents=True)
    (keyed / "f2" / "000-new.jpg").write_bytes(b"evidence")
    assert len(case_upload_files(home, "CASE-K")) == 2
    close_case(app, "CASE-K", "done")
    assert not legacy.exists() and not keyed.exists()


# --- 12. the request size limit holds while the body streams ------------------------------


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(app: App) -> None:
    """Without a Content-Length (chunked), a body is counted as it arrives and answered 413
    once past the whole-request limit, on an upload and on a JSON endpoint; more files than
    a request may carry are refused too, and nothing is stored."""
    app.settings = app.settings.with_(max_file_bytes=20_000)  # the request limit: 1 MB
    register_users(app, dict.fromkeys(PEOPLE, PASSWORD))
    authorised_case(app, "BIG-1")
    gallery_with(app, "custody", {"obama": [TRAIN / "obama" / "obama.jpg"]})
    boundary = "retroface-test-boundary"

    def multipart(size: int) -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="gallery"\r\n\r\ncustody\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            'filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for _ in range(size // 65536):
            yield b"\xff" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    with TestClient(create_server(application=app), raise_server_exceptions=False) as http:
        operator = login(http, OPERATOR.username)
        upload = http.post(
            f"{API}/cases/BIG-1/searches",
            content=multipart(1_200_000),
            headers=operator | {"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert upload.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in upload.request.headers
        assert upload.status_code == 413, upload.text
        assert upload.json()["type"] == "urn:retroface:problem:too-large"
        assert _has_security_headers(upload)

        def padded_login() -> Iterator[bytes]:
            yield b'{"username": "x", "password": "'
            for _ in range(20):
                yield b"a" * 65536
            yield b'"}'

        flooded = http.post(
            f"{API}/auth/login",
            content=padded_login(),
            headers={"content-type": "application/json"},
        )
        assert flooded.status_code == 413, flooded.text
        many = [("files", (f"p{i}.jpg", b"\xff\xd8\xff", "image/jpeg")) for i in range(51)]
        crowd = http.post(
            f"{API}/cases/BIG-1/searches",
            data={**SOURCE, "gallery": "custody"},
            files=many,
            headers=operator,
        )
        assert crowd.status_code == 413 and "at most 50" in crowd.json()["detail"], crowd.text
    assert _files_under(uploads_root(app.settings.home)) == set()


# --- 8. X-Forwarded-For is believed only from a configured proxy ---------------------------


def _wrong_logins(http: httpx.Client | TestClient, base: str, forwarded: list[str]) -> list[int]:
    return [
        http.post(
            f"{base}{API}/auth/login",
            json={"username": f"nobody-{i}-{ip}", "password": "guess"},
            headers={"X-Forwarded-For": ip},
        ).status_code
        for i, ip in enumerate(forwarded)
    ]


def test_forwarded_for_is_believed_only_from_a_configured_proxy(app: App) -> None:
    """A client on the server's own machine cannot dodge the per-address log-in throttle by
    claiming other addresses; a configured proxy's X-Forwarded-For names the client."""
    app.settings = app.settings.with_(login_max_failures_per_address=3, login_lockout_s=60.0)
    register_users(app, {OPERATOR: PASSWORD})
    right = {"username": OPERATOR.username, "password": PASSWORD}
    spoofed = [f"203.0.113.{i}" for i in range(3)]
    with TestClient(
        create_server(application=app), client=("127.0.0.1", 40000), raise_server_exceptions=False
    ) as direct:
        assert _wrong_logins(direct, "", spoofed) == [401, 401, 401]
        refused = direct.post(
            f"{API}/auth/login", json=right, headers={"X-Forwarded-For": "198.51.100.7"}
        )
        assert refused.status_code == 429 and "this address" in refused.json()["detail"]

    app.settings = app.settings.with_(forwarded_allow_ips="10.0.0.2")
    with TestClient(
        create_server(application=app), client=("10.0.0.2", 40000), raise_server_exceptions=False
    ) as proxy:
        assert _wrong_logins(proxy, "", [f"192.0.2.{i}" for i in range(6)]) == [401] * 6
        ok = proxy.post(
            f"{API}/auth/login", json=right, headers={"X-Forwarded-For": "198.51.100.7"}
        )
        assert ok.status_code == 200, ok.text
        assert _wrong_logins(proxy, "", ["192.0.2.99"] * 3) == [401] * 3
        behind = proxy.post(
            f"{API}/auth/login", json=right, headers={"X-Forwarded-For": "192.0.2.99"}
        )
        assert behind.status_code == 429
    with TestClient(
        create_server(application=app), client=("127.0.0.1", 40001), raise_server_exceptions=False
    ) as not_the_proxy:
        assert _wrong_logins(not_the_proxy, "", spoofed) == [401, 401, 401]
        assert not_the_proxy.post(f"{API}/auth/login", json=right).status_code == 429


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retroface_serve_does_not_believe_forwarded_headers_from_loopback(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`retroface serve` as started (uvicorn's own proxy handling off): a loopback client
    claiming other addresses over real HTTP is still throttled as one address."""
    app.settings = app.settings.with_(login_max_failures_per_address=3, login_lockout_s=60.0)
    register_users(app, {OPERATOR: PASSWORD})
    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda server, **kw: started.update(kw, server=server))
    monkeypatch.setattr(server_commands, "open_cli_app", lambda identify=True: app)
    port = _free_port()
    server_commands.serve(host="127.0.0.1", port=port, forwarded_allow_ips=None)
    assert started["proxy_headers"] is False
    config = {k: v for k, v in started.items() if k != "server"} | {"log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(started["server"], **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30) as http:
            statuses = _wrong_logins(http, base, [f"203.0.113.{i}" for i in range(4)])
        assert statuses == [401, 401, 401, 429]
    finally:
        server.should_exit = True
        thread.join(timeout=20)


# --- 9. huge numbers, naive times, and every response's headers ---------------------------


def test_huge_numbers_and_times_without_a_zone_are_422_with_the_security_headers(
    client: TestClient, app: App
) -> None:
    huge, huger = "99999999999999999999", 2**70
    admin, supervisor = login(client, ADMIN.username), login(client, SUPERVISOR.username)
    auditor, reviewer = login(client, AUDITOR.username), login(client, REVIEWER.username)
    operator = login(client, OPERATOR.username)
    client.post(f"{API}/galleries", json={"name": "g"}, headers=supervisor)
    authorised_case(app, "NUM-1")
    naive = (datetime.now(UTC) + timedelta(days=3)).replace(tzinfo=None).isoformat()
    attempts = [
        ("DELETE", f"/api-keys/{huge}", {}, admin),
        ("POST", f"/candidates/{huger}/reviews", {"json": {"outcome": "no-match", "reason": "r"}}, reviewer),
        ("GET", "/audit/events", {"params": {"before_id": "1e30"}}, auditor),
        ("GET", "/audit/events", {"params": {"before_id": huge}}, auditor),
        ("POST", f"/live/alerts/{huge}/adjudication", {"json": {"engaged": True, "outcome": "true-alert"}}, operator),
        ("PUT", "/galleries/g/cap", {"json": {"max_subjects": huger}}, supervisor),
        ("POST", "/galleries", {"json": {"name": "g2", "max_subjects": 1e30}}, supervisor),
        ("GET", "/galleries/g/manifest", {"params": {"version": huge}}, supervisor),
        ("POST", "/cases/NUM-1/authorisation", {"json": {"until": naive}}, supervisor),
        (
            "POST",
            "/cases/NUM-1/authorisation",
            {"json": {"until": naive + "Z", "max_searches": huger}},
            supervisor,
        ),
        (
            "POST",
            "/live/deployments",
            {
                "json": {
                    "id": "L-9",
                    "purpose": "p",
                    "location": "l",
                    "starts_at": naive,
                    "ends_at": naive,
                    "watchlist": "g",
                    "public_notice": "n",
                }
            },
            supervisor,
        ),
    ]  # fmt: skip
    for method, path, kwargs, headers in attempts:
        response = client.request(method, API + path, headers=headers, **kwargs)
        assert response.status_code == 422, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert _has_security_headers(response), (method, path)
    browser_login(client, REVIEWER.username)
    for page in (f"/ui/candidates/{huge}", f"/ui/candidates/{huger}"):
        response = client.get(page)
        assert response.status_code == 422 and _has_security_headers(response), response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]


def test_an_unexpected_error_is_a_bare_500_with_the_security_headers_and_no_traceback(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug's exception reaches neither the client nor the log (type only), and its 500
    carries the same headers as every other response, on the API and the UI."""
    from retroface.api import routes_oversight  # noqa: PLC0415 - the module a bug is planted in
    from retroface.web import pages  # noqa: PLC0415 - the module a bug is planted in

    def bug(*_: object, **__: object) -> None:
        raise RuntimeError("secret detail /srv/retroface-data/uploads/evidence/x")

    monkeypatch.setattr(routes_oversight, "deployment_status", bug)
    monkeypatch.setattr(pages, "list_cases", bug)
    register_users(app, dict.fromkeys(PEOPLE, PASSWORD))
    caplog.set_level(logging.DEBUG)
    # raise_server_exceptions: an exception re-raised to the server would fail this test.
    with TestClient(create_server(application=app)) as http:
        api = http.get(f"{API}/deployment", headers=login(http, OPERATOR.username))
        browser_login(http, OPERATOR.username)
        page = http.get("/ui/")
    assert api.status_code == 500 and api.json() == {
        "type": "urn:retroface:problem:internal-error",
        "title": "Internal server error",
        "status": 500,
    }
    assert page.status_code == 500 and "secret" not in page.text
    for response in (api, page):
        assert _has_security_headers(response)
    assert "default-src 'none'; style-src 'self'" in page.headers["content-security-policy"]
    assert "RuntimeError" in caplog.text and "secret" not in caplog.text
    assert not any(record.exc_info for record in caplog.records)


# --- 13. log-in CSRF -------------------------------------------------------------------------


def test_a_login_post_without_its_form_token_is_refused_and_audited(
    client: TestClient, app: App
) -> None:
    """A cross-site page posting the log-in form (no token, a token of another browser, a
    made-up one) is refused 403 without a session, and audited; the shown form works."""
    right = {"username": OPERATOR.username, "password": PASSWORD}
    forged = client.post("/ui/login", data=right, follow_redirects=False)
    assert forged.status_code == 403 and "did not come from this site" in forged.text
    assert "rf_session" not in forged.headers.get("set-cookie", "")
    other_browser = login_form_token(client)
    client.cookies.clear()
    login_form_token(client)  # this browser's own form, with its own cookie
    for token in (other_browser, "0" * 64):
        replayed = client.post(
            "/ui/login", data=right | {"login_token": token}, follow_redirects=False
        )
        assert replayed.status_code == 403, token
    refused = _audited(app, "login.refused")
    assert len(refused) == 3 and {actor for actor, _ in refused} == {"anonymous"}
    assert all(OPERATOR.username not in json.dumps(details) for _, details in refused)
    form = client.get("/ui/login")
    cookie = form.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui/login" in cookie
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post("/ui/login", data=right | {"login_token": token[1]}, follow_redirects=False)
    assert done.status_code == 303 and "rf_session=" in done.headers["set-cookie"]


# --- the API schema and the docs page ------------------------------------------------------


def test_the_docs_page_is_off_by_default_and_the_schema_needs_a_login(
    client: TestClient, app: App
) -> None:
    assert client.get(f"{API}/docs").status_code == 404
    refusals = len(_audited(app, "access.refused"))
    anonymous = client.get(f"{API}/openapi.json")
    assert anonymous.status_code == 401 and "paths" not in anonymous.text
    assert len(_audited(app, "access.refused")) == refusals + 1
    schema = client.get(f"{API}/openapi.json", headers=login(client, REVIEWER.username))
    assert (
        schema.status_code == 200
        and f"{API}/cases/{{reference}}/searches" in schema.json()["paths"]
    )
    upload = schema.json()["paths"][f"{API}/cases/{{reference}}/searches"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    (cap,) = [t for t in form["properties"]["max_candidates"]["anyOf"] if "maximum" in t]
    assert cap["maximum"] == MAX_CANDIDATES_LIMIT
    assert set(form["required"]) == {"gallery", "files", "source_type", "supplied_by"}

    app.settings = app.settings.with_(api_docs=True)
    with TestClient(create_server(application=app), raise_server_exceptions=False) as http:
        assert http.get(f"{API}/docs").status_code == 401
        browser_login(http, REVIEWER.username)  # a UI session opens it too
        page = http.get(f"{API}/docs")
        assert page.status_code == 200 and "swagger-ui-dist@5." in page.text
        policy = page.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce is not None and f'<script nonce="{nonce[1]}">' in page.text
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert http.get(f"{API}/openapi.json").status_code == 200  # what the page fetches


# --- 5. uploads are encrypted at rest where the data directory is ---------------------------


def test_uploads_are_sealed_at_rest_and_still_searched_reviewed_and_re_keyed(
    settings: Settings, engine: FaceEngine, tmp_path: Path, data: Path
) -> None:
    """With a key configured, uploaded evidence (a photo, a video) and reference photos are
    stored sealed (no image bytes on disk), yet enrolment, search and review read them, no
    plaintext copy outlives its reading, and a data key rotation re-seals them."""
    key = keys.write_new_key_file(tmp_path / "secrets" / "kek", settings.home)
    application = open_app(settings.with_(key_file=key), principal=OPERATOR)
    application._engines[repr(application.engine_spec)] = engine  # share the loaded models
    try:
        make_ready(application)
        keys.encrypt_data_directory(application.acting_as(ADMIN))
        register_users(application, dict.fromkeys(PEOPLE, PASSWORD))
        authorised_case(application, "SEAL-1")
        probe = EXAMPLES / "knn_examples" / "test" / "obama1.jpg"
        clip = data / "video" / "short_hamilton_clip.mp4"
        with TestClient(create_server(application=application)) as http:
            supervisor = login(http, SUPERVISOR.username)
            assert http.post(f"{API}/galleries", json={"name": "custody"}, headers=supervisor)
            enrolled = http.post(
                f"{API}/galleries/custody/subjects",
                data=SUBJECT_FORM | {"subject": "obama"},
                files=[_photo()],
                headers=supervisor,
            )
            assert enrolled.status_code == 201 and enrolled.json()["enrolled"] == 1
            lin = EXAMPLES / "lin-manuel-miranda.png"
            enrolled = http.post(
                f"{API}/galleries/custody/subjects",
                data=SUBJECT_FORM | {"subject": "lin-manuel-miranda", "record_id": "R-10"},
                files=[("files", (lin.name, lin.read_bytes(), "image/png"))],
                headers=supervisor,
            )
            assert enrolled.status_code == 201 and enrolled.json()["enrolled"] == 1
            operator = login(http, OPERATOR.username)
            submitted = http.post(
                f"{API}/cases/SEAL-1/searches",
                data={**SOURCE, "gallery": "custody"},
                files=[
                    ("files", ("obama1.jpg", probe.read_bytes(), "image/jpeg")),
                    ("files", (clip.name, clip.read_bytes(), "video/mp4")),
                ],
                headers=operator,
            )
            assert submitted.status_code == 202, submitted.text
            http.app.state.jobs.wait_idle()  # type: ignore[attr-defined]
            job = http.get(f"{API}/jobs/{submitted.json()['id']}", headers=operator).json()
            assert job["status"] == "done", job
            leads = [p for p in job["result"]["probes"] if p["candidates"]]
            (lead,) = [p for p in leads if p["source"] == "obama1.jpg"]
            candidate = lead["candidates"][0]
            assert candidate["subject"] == "obama"
            sighting = next(p for p in leads if p["source"] == clip.name)["candidates"][0]
            assert sighting["subject"] == "lin-manuel-miranda"
            browser_login(http, REVIEWER.username)
            page = http.get(f"/ui/candidates/{candidate['candidate_id']}")
            assert page.status_code == 200 and "not shown" not in page.text
            for face in ("Probe face from the evidence", "Reference face of obama"):  # both read
                assert re.search(rf'src="data:image/jpeg;base64,[^"]+" alt="{face}"', page.text)
        home = application.settings.home
        stored = _files_under(uploads_root(home))
        assert len(stored) == 4
        originals = [
            probe.read_bytes(),
            (TRAIN / "obama" / "obama.jpg").read_bytes(),
            (EXAMPLES / "lin-manuel-miranda.png").read_bytes(),
            clip.read_bytes(),
        ]
        for path in stored:
            blob = path.read_bytes()
            assert is_sealed(blob) and not any(o[:4096] in blob for o in originals), path
        assert _files_under(home / "tmp") == set()  # the plaintext copies are gone
        before = {sealed_key_id(p.read_bytes()) for p in stored}
        keys.rotate_data_key(application.acting_as(ADMIN))
        after = {sealed_key_id(p.read_bytes()) for p in stored}
        assert len(before) == len(after) == 1 and before != after
        for chosen in (candidate, sighting):  # a photo's face, a video frame's face
            faces = candidate_faces(application.acting_as(REVIEWER), chosen["candidate_id"])
            assert faces.probe_png.startswith(b"\x89PNG") and faces.reference_png is not None
    finally:
        application.close()
