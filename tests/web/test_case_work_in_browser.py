"""Case work in a real headless browser, every page checked for CSP violations and
accessibility (tests/web/page_checks.py): two reviewers disagree and a supervisor resolves
the candidate; an operator opens a case, a supervisor authorises it, creates a gallery and
enrols by upload with a provenance sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retroface.services import App
from retroface.services.cases.manage import show_case
from retroface.services.cases.review import record_review, show_candidate
from retroface.services.search.photos import search
from tests.api.conftest import SECOND_REVIEWER
from tests.conftest import EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import authorised_case, gallery_with
from tests.web.page_checks import screenshot

pytest.importorskip("playwright.sync_api")
pytest.importorskip("axe_playwright_python")
pytestmark = pytest.mark.needs_data


def test_two_reviewers_disagree_and_a_supervisor_resolves_the_candidate(
    app: App, ui_server: str, checks: Any
) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app, "DISPUTE-B")
    probe = search(app, case, "g", [EXAMPLES / "obama2.jpg"]).probes[0]
    candidate = probe.candidates[0]
    record_review(
        app.acting_as(REVIEWER), candidate.candidate_id, "possible-match", "same ear shape"
    )
    record_review(
        app.acting_as(SECOND_REVIEWER), candidate.candidate_id, "no-match", "jaw line differs"
    )

    page = checks.log_in(ui_server, SUPERVISOR.username, start="/ui/case-work/disputes")
    assert page.get_by_role("heading", name="Disputed candidates").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name=f"#{candidate.candidate_id}").click()
    checks.check(page)
    assert page.get_by_text("jaw line differs").is_visible()
    # the bar the candidate cleared and what it means, as on the candidate's own page
    assert f"bar {probe.bar}:" in page.content() and "of searches for someone not" in (
        page.content()
    )
    for face in ("Probe face from the evidence", "Reference face of obama"):  # both shown
        assert page.get_by_alt_text(face).evaluate("img => img.naturalWidth") > 0
    screenshot(page, "case-work-1-dispute")
    page.get_by_role("radio", name="possible match").check()
    page.get_by_label("Reason").fill("the same scar above the left eyebrow")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the resolution").click()
    checks.check(page)
    assert page.get_by_role("status").inner_text() == (
        f"Candidate #{candidate.candidate_id} is resolved."
    )
    assert "No disputed candidate" in page.content()
    resolved = show_candidate(app.acting_as(SUPERVISOR), candidate.candidate_id)
    assert resolved.status == "confirmed" and resolved.resolution is not None


def test_an_operator_opens_a_case_a_supervisor_authorises_it_and_enrols_by_upload(
    app: App, ui_server: str, checks: Any, tmp_path: Path
) -> None:
    page = checks.log_in(ui_server, OPERATOR.username, start="/ui/case-work/open")
    page.get_by_label("Case reference").fill("WEB-OPEN-1")
    page.get_by_label("Purpose").fill("identify a robbery suspect from a CCTV still")
    page.get_by_label("Offence category").select_option("robbery")
    page.get_by_label("Seriousness").select_option("indictable-only")
    with page.expect_navigation():
        page.get_by_role("button", name="Open the case").click()
    checks.check(page)
    assert page.get_by_role("heading", name="Case WEB-OPEN-1").is_visible()

    page = checks.log_in(ui_server, SUPERVISOR.username, start="/ui/case-work/galleries")
    page.get_by_label("Name").fill("custody")
    with page.expect_navigation():
        page.get_by_role("button", name="Create the gallery").click()
    checks.check(page)
    sheet = tmp_path / "provenance.csv"
    sheet.write_text(
        "subject,category,source_system,record_id,holding_basis\n"
        "obama,suspect,custody-test,REC-1,custody-image\n"
        "biden,suspect,custody-test,REC-2,custody-image\n"
    )
    page.get_by_label("Provenance sheet (CSV)").set_input_files(str(sheet))
    page.get_by_label("Reference photos").set_input_files(
        [str(EXAMPLES / "obama.jpg"), str(EXAMPLES / "biden.jpg")]
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Enrol").click()
    checks.check(page)
    assert "Enrolled 2 photo(s); 2 new subject(s)" in page.get_by_role("status").inner_text()
    screenshot(page, "case-work-2-enrolled")

    with page.expect_navigation():
        page.get_by_role("link", name="Authorise").click()
    checks.check(page)
    page.get_by_label("custody").check()
    page.get_by_label("Most searches (empty: no limit)").fill("3")
    with page.expect_navigation():
        page.get_by_role("button", name="Authorise case WEB-OPEN-1").click()
    checks.check(page)
    assert page.get_by_role("status").inner_text() == "Case WEB-OPEN-1 is authorised."
    (granted,) = show_case(app.acting_as(SUPERVISOR), "WEB-OPEN-1").authorisations
    assert granted.active and granted.galleries == ["custody"] and granted.max_searches == 3

    with page.expect_navigation():
        page.get_by_role("link", name="Deployment rules").click()
    checks.check(page)
    assert "Searching is allowed" in page.get_by_role("status").inner_text()
