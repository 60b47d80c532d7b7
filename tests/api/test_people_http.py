"""Accounts over HTTP: an admin's change to a user holds from that user's next request, for
every bearer token and API key they hold; the typed name of a failed log-in is not kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retroface.services import App
from retroface.store.models import AuditEvent
from tests.api.conftest import login
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR
from tests.helpers import PASSWORD

pytestmark = pytest.mark.needs_data
API = "/api/v1"
NEW_PASSWORD = "a completely new passphrase"


def _key_for(client: TestClient, admin: dict[str, str], username: str) -> dict[str, str]:
    created = client.post(
        f"{API}/api-keys", json={"username": username, "name": "case-system"}, headers=admin
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def test_a_deactivated_user_is_refused_on_the_next_request_of_every_token_and_key(
    client: TestClient, app: App
) -> None:
    admin, operator = login(client, ADMIN.username), login(client, OPERATOR.username)
    machine = _key_for(client, admin, OPERATOR.username)
    for credentials in (operator, machine):
        assert client.get(f"{API}/cases", headers=credentials).status_code == 200
    done = client.post(
        f"{API}/users/{OPERATOR.username}/deactivate", json={"reason": "left"}, headers=admin
    )
    assert done.status_code == 200 and done.json()["active"] is False
    for credentials in (operator, machine):
        assert client.get(f"{API}/cases", headers=credentials).status_code == 401
    again = {"username": OPERATOR.username, "password": PASSWORD}
    assert client.post(f"{API}/auth/login", json=again).status_code == 401
    back = client.post(f"{API}/users/{OPERATOR.username}/reactivate", headers=admin)
    assert back.status_code == 200 and back.json()["active"] is True
    assert client.get(f"{API}/cases", headers=login(client, OPERATOR.username)).status_code == 200


def test_a_role_change_holds_from_the_next_request_and_a_new_admin_loses_their_keys(
    client: TestClient,
) -> None:
    admin, operator = login(client, ADMIN.username), login(client, OPERATOR.username)
    assert client.get(f"{API}/audit/events", headers=operator).status_code == 403
    changed = client.put(
        f"{API}/users/{OPERATOR.username}/role", json={"role": "auditor"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["role"] == "auditor"
    assert client.get(f"{API}/audit/events", headers=operator).status_code == 200
    machine = _key_for(client, admin, SUPERVISOR.username)
    assert client.get(f"{API}/galleries", headers=machine).status_code == 200
    promoted = client.put(
        f"{API}/users/{SUPERVISOR.username}/role", json={"role": "admin"}, headers=admin
    )
    assert promoted.status_code == 200
    assert client.get(f"{API}/galleries", headers=machine).status_code == 401


def test_a_credential_reset_and_a_revocation_end_the_users_sessions(client: TestClient) -> None:
    admin, operator = login(client, ADMIN.username), login(client, OPERATOR.username)
    reset = client.post(
        f"{API}/users/{OPERATOR.username}/credential-reset",
        json={"password": NEW_PASSWORD},
        headers=admin,
    )
    assert reset.status_code == 200, reset.text
    assert client.get(f"{API}/cases", headers=operator).status_code == 401
    fresh = client.post(
        f"{API}/auth/login", json={"username": OPERATOR.username, "password": NEW_PASSWORD}
    )
    assert fresh.status_code == 200
    token = {"Authorization": f"Bearer {fresh.json()['token']}"}
    machine = _key_for(client, admin, OPERATOR.username)
    revoked = client.post(f"{API}/users/{OPERATOR.username}/revoke-sessions", headers=admin)
    assert revoked.json() == {"username": OPERATOR.username, "sessions": 1, "api_keys": 1}
    for credentials in (token, machine):
        assert client.get(f"{API}/cases", headers=credentials).status_code == 401


def test_the_last_active_admin_is_told_they_cannot_deactivate_themselves(
    client: TestClient,
) -> None:
    admin = login(client, ADMIN.username)
    refused = client.post(f"{API}/users/{ADMIN.username}/deactivate", json={}, headers=admin)
    assert refused.status_code == 403
    assert "you are the last active admin" in refused.json()["detail"]
    demoted = client.put(
        f"{API}/users/{ADMIN.username}/role", json={"role": "auditor"}, headers=admin
    )
    assert demoted.status_code == 403 and "last active admin" in demoted.json()["detail"]
    assert client.get(f"{API}/users", headers=admin).status_code == 200  # still an admin


def test_a_password_typed_as_a_name_is_not_kept_in_the_audit_log(
    client: TestClient, app: App
) -> None:
    typed = "MyS3cret!Passw0rd"
    answer = client.post(f"{API}/auth/login", json={"username": typed, "password": "x"})
    assert answer.status_code == 401
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(AuditEvent.actor, AuditEvent.object_id, AuditEvent.details)
        ).all()
    assert rows and typed.casefold() not in repr(rows).casefold()
