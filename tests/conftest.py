"""Shared fixtures: the real data set, one real face engine per test session, fresh apps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retroface.faces import EngineSpec, FaceEngine
from retroface.services import App, open_app
from retroface.settings import Settings

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
    return FaceEngine.from_spec(EngineSpec())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "retroface-data", actor="test-operator", workers=2)


@pytest.fixture
def app(settings: Settings, engine: FaceEngine) -> Iterator[App]:
    application = open_app(settings)
    application._engine = engine  # share the loaded models across tests
    yield application
    application.close()
