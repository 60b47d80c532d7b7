"""Shared fixtures: the real data set, one real face engine per test session, fresh apps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from retroface.faces import EngineSpec, FaceEngine
from retroface.governance.deployment_policy import DpiaRecord
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App, open_app
from retroface.services.deployment.rules import register_dpia, register_policy
from retroface.settings import Settings
from tests.databases import drop_database, fresh_database

OPERATOR = Principal("officer-1", Role.OPERATOR)
SUPERVISOR = Principal("sgt-2", Role.SUPERVISOR)
REVIEWER = Principal("reviewer-3", Role.REVIEWER)
AUDITOR = Principal("auditor-4", Role.AUDITOR)
ADMIN = Principal("admin-5", Role.ADMIN)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EXAMPLES = DATA / "face_recognition" / "examples"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not DATA.is_dir():
        skip = pytest.mark.skip(reason=f"real face data not found at {DATA}")
        for item in items:
            if "needs_data" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real face data not found at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The real dlib engine, loaded once: tests of behaviour never mock it."""
    return FaceEngine.from_spec(EngineSpec(jitters=Settings().jitters))


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """A fresh data directory, with its own database (SQLite in it, or PostgreSQL)."""
    home = tmp_path / "retroface-data"
    url = fresh_database(home)
    yield Settings(home=home, actor="test-operator", workers=2, database_url=url)
    drop_database(url)


def make_ready(app: App) -> App:
    """Register the DPIA and policy document a deployment needs before any search."""
    admin = app.acting_as(ADMIN)
    today = app.now().date()
    register_dpia(admin, DpiaRecord("DPIA-TEST", "1.0", today, today + timedelta(days=365)))
    register_policy(admin, "POLICY-TEST-1", "test policy")
    return app


@pytest.fixture
def bare_app(settings: Settings, engine: FaceEngine) -> Iterator[App]:
    """A fresh deployment with nothing registered yet, acting as an operator."""
    application = open_app(settings, principal=OPERATOR)
    application._engines[repr(application.engine_spec)] = engine  # share the loaded models
    yield application
    application.close()


@pytest.fixture
def app(bare_app: App) -> App:
    """A ready deployment (DPIA and policy on record) acting as an operator."""
    return make_ready(bare_app)


@pytest.fixture
def supervisor(app: App) -> App:
    """The same deployment acting as a supervisor (galleries, authorisations)."""
    return app.acting_as(SUPERVISOR)


@pytest.fixture
def auditor(app: App) -> App:
    return app.acting_as(AUDITOR)
