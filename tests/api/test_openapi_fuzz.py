"""Schemathesis generates requests from the OpenAPI spec for every operation and sends them
as three different roles: the API must never answer with a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from retroface.server import create_server
from retroface.services import App
from tests.api.conftest import PEOPLE
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR
from tests.helpers import PASSWORD, register_users

pytestmark = pytest.mark.needs_data
_tokens: dict[str, dict[str, str]] = {}


@pytest.fixture
def server(app: App) -> Iterator[FastAPI]:
    register_users(app, dict.fromkeys(PEOPLE, PASSWORD))
    api = create_server(application=app)

    with TestClient(api) as client:
        for person in (ADMIN, SUPERVISOR, OPERATOR):
            token = client.post(
                "/api/v1/auth/login", json={"username": person.username, "password": PASSWORD}
            ).json()["token"]
            _tokens[person.username] = {"Authorization": f"Bearer {token}"}
        yield api


def test_no_operation_answers_with_a_server_error(server: FastAPI) -> None:
    # The schema is served to logged-in users only.
    assert TestClient(server).get("/api/v1/openapi.json").status_code == 401
    schema = schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", server, headers=_tokens[ADMIN.username]
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    calls: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def no_server_error(case: schemathesis.Case) -> None:
            for username in (ADMIN.username, SUPERVISOR.username, OPERATOR.username):
                response = case.call(headers=_tokens[username])
                calls.append(response.status_code)
                assert response.status_code < 500, (
                    case.method, case.path, username, response.text
                )  # fmt: skip

        no_server_error()
    assert len(calls) >= 3 * 5 * len(operations)  # several generated requests per operation
