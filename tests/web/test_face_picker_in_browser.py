"""The search form's face picker in a real headless browser (CSP and accessibility checked on
every page): a group photo's faces are outlined, one is clicked and only it is searched; a
missed face is marked with four clicks (box corners, eye centres) into the form's fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from retroface.services import App
from tests.conftest import EXAMPLES, OPERATOR
from tests.helpers import authorised_case, gallery_with
from tests.web.page_checks import screenshot

pytest.importorskip("playwright.sync_api")
pytest.importorskip("axe_playwright_python")
pytestmark = pytest.mark.needs_data

GROUP = EXAMPLES / "knn_examples" / "test" / "obama_and_biden.jpg"
TRAIN = EXAMPLES / "knn_examples" / "train"


@pytest.fixture
def server_url(app: App, ui_server: str) -> Iterator[str]:
    gallery_with(
        app,
        "custody",
        {"obama": [TRAIN / "obama" / "obama.jpg"], "biden": [TRAIN / "biden" / "biden.jpg"]},
    )
    authorised_case(app, "PICK-1")
    yield ui_server


def test_the_operator_clicks_one_face_of_a_group_photo_and_only_it_is_searched(
    server_url: str, checks: Any
) -> None:
    page = checks.log_in(server_url, OPERATOR.username, start="/ui/cases/PICK-1")
    page.get_by_label("Gallery").select_option("custody")
    page.get_by_label("Evidence (photos or video)").set_input_files(str(GROUP))
    status = page.locator("#picker-status")
    page.locator("#picker-status", has_text="faces found").wait_for(timeout=60_000)
    boxes = page.locator("rect.face-box")
    assert boxes.count() >= 2  # Obama, Biden (and whoever else the detector sees)
    assert status.inner_text() == f"{boxes.count()} faces found: click the one to search."
    checks.check(page)

    # Marking by hand: two corners of a box, then the two eyes, in the photo's own pixels.
    page.get_by_role("button", name="Mark a face the detector missed").click()
    stage = page.locator("#picker-overlay")
    for x, y in ((20, 20), (80, 90), (35, 45), (65, 45)):
        stage.click(position={"x": x, "y": y})
    mark, eyes = page.locator("#mark").input_value(), page.locator("#eyes").input_value()
    assert re.fullmatch(r"\d+,\d+,\d+,\d+", mark) and re.fullmatch(r"\d+,\d+,\d+,\d+", eyes)
    assert "marked by hand will be searched" in status.inner_text()

    # Choosing a detected face instead clears the mark.
    boxes.nth(1).click()
    assert page.locator("#face").input_value() == "2" and page.locator("#mark").input_value() == ""
    assert boxes.nth(1).get_attribute("aria-pressed") == "true"
    screenshot(page, "20-face-picker")

    page.get_by_label("Where the evidence came from").select_option("cctv")
    page.get_by_label("Supplied by (name and organisation)").fill("DC Test, Test Police")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("heading", name="Search: done").wait_for(timeout=120_000)
    checks.check(page)
    with page.expect_navigation():
        page.get_by_role("link", name="See the results").click()
    checks.check(page)
    assert page.locator("section.probe-face").count() == 1
    assert "1 face(s): 1 searched" in page.get_by_role("status").inner_text()
