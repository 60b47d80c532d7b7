"""The web UI is tested over the same HTTP client as the API (tests/api/conftest.py), and in a
real headless browser (Debian's Chromium driven by Playwright) against a real server."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from retroface.server import create_server
from retroface.services import App
from tests.api.conftest import PEOPLE, client
from tests.helpers import PASSWORD, register_users

__all__ = ["client"]

CHROMIUM = os.environ.get("RETROFACE_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ui_server(app: App) -> Iterator[str]:
    """The server over ``app`` on a free local port, with the people of the API tests and an
    admin as accounts (all with ``PASSWORD``); its base URL."""
    register_users(app, dict.fromkeys(PEOPLE, PASSWORD))  # and the admin, ADMIN
    server = uvicorn.Server(
        uvicorn.Config(
            create_server(application=app), host="127.0.0.1", port=_free_port(), log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


_TEST_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_TEST_FAILED] = report.failed
    return report


@pytest.fixture
def checks(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens the test's pages; fails the test on a CSP violation on any page, and on a page
    visited that the test never checked (tests/web/page_checks.py); a test that failed
    already is not failed again for the pages it did not reach."""
    from tests.web.page_checks import PageChecks  # noqa: PLC0415 - needs Playwright

    watcher = PageChecks(browser)
    yield watcher
    if not request.node.stash.get(_TEST_FAILED, False):
        watcher.finish()
