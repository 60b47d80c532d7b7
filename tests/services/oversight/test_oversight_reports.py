"""Transparency statistics counted from real searches and reviews, and the DPIA evidence pack."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.faces.face_choice import FaceChoice
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.cases.manage import authorise_case, open_case
from retroface.services.cases.review import record_review
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import create_gallery
from retroface.services.oversight.audit_log import verify_audit
from retroface.services.oversight.reports import dpia_report, transparency_report
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Search
from tests.conftest import ADMIN
from tests.helpers import PASSWORD, provenance

pytestmark = pytest.mark.needs_data


def _reviewers(app: App, *names: str) -> list[App]:
    admin = app.acting_as(ADMIN)
    for name in names:
        add_user(admin, name, Role.REVIEWER, PASSWORD, training_completed_on=app.now().date())
    return [app.acting_as(Principal(n, Role.REVIEWER)) for n in names]


def _case(app: App, supervisor: App, reference: str, offence: str, basis: str) -> str:
    open_case(
        app,
        reference,
        purpose="p",
        lawful_basis=basis,
        offence=offence,
        seriousness="indictable-only",
    )
    authorise_case(supervisor, reference, until=app.now() + timedelta(days=1))
    return reference


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(newline="") as handle:
        return {(r["section"], r["group"]): r for r in csv.DictReader(handle)}


def test_transparency_figures_follow_searches_reviews_and_supplied_labels(
    app: App, supervisor: App, auditor: App, data: Path, tmp_path: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    create_gallery(supervisor, "g")
    for name, sex in (("obama", "male"), ("biden", "male")):
        enroll(
            supervisor,
            "g",
            [examples / f"{name}.jpg"],
            subject=name,
            provenance=provenance(f"CR-{name}", labels={"sex": sex}),
        )
    robbery = _case(app, supervisor, "R-1", "robbery", "law-enforcement")
    missing = _case(app, supervisor, "M-1", "missing-person", "vulnerable-person")
    hit = search(app, robbery, "g", [examples / "obama2.jpg"], probe_labels={"age-band": "40-60"})
    search(app, robbery, "g", [examples / "obama2.jpg"])
    search(
        app,
        missing,
        "g",
        [examples / "two_people.jpg"],
        face_choice=FaceChoice(all_faces_reason="both people are sought"),
    )
    first, second = _reviewers(app, "rev-1", "rev-2")
    candidate = hit.probes[0].candidates[0].candidate_id
    record_review(first, candidate, "possible-match", "same ears")
    record_review(second, candidate, "possible-match", "same scar")

    today = app.now().date()
    files = transparency_report(auditor, today, today, tmp_path / "report")
    assert files.searches == 3
    md, sheet = sorted(Path(f) for f in files.files)[::-1]  # .md then .csv
    rows = _rows(sheet)
    total = rows[("all searches", "total")]
    assert total["searches"] == "3" and total["confirmed"] == "1"
    assert rows[("by offence category", "robbery")]["searches"] == "2"
    assert rows[("by offence category", "missing-person")]["searches"] == "1"
    assert rows[("by lawful basis", "vulnerable-person")]["searches"] == "1"
    assert rows[("by probe label (operator-supplied)", "age-band=40-60")]["confirmed"] == "1"
    by_sex = rows[("candidates by subject label (operator-supplied)", "sex=male")]
    assert by_sex["confirmed"] == "1" and int(by_sex["candidates"]) >= 2
    text = md.read_text()
    assert "never infers race" in text and "| robbery | 2 |" in text

    yesterday = today - timedelta(days=1)
    empty = transparency_report(auditor, yesterday, yesterday, tmp_path / "none")
    assert empty.searches == 0
    with pytest.raises(InvalidInputError, match="before"):
        transparency_report(auditor, today, yesterday, tmp_path / "bad")


def test_dpia_pack_states_the_running_configuration_and_the_audit_head(
    app: App, supervisor: App, auditor: App, data: Path, tmp_path: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    create_gallery(supervisor, "custody", max_subjects=500)
    enroll(
        supervisor,
        "custody",
        [examples / "obama.jpg"],
        subject="obama",
        provenance=provenance("CR-1", category="wanted"),
    )
    out = tmp_path / "dpia" / "pack.md"
    head_before = verify_audit(auditor).head
    dpia_report(auditor, out)
    text = out.read_text()
    assert "DPIA-TEST" in text and "POLICY-TEST-1" in text
    assert "custody" in text and "500" in text and "wanted" in text
    assert f"embedder `{app.engine_spec.embedder}`" in text
    assert "Last measured accuracy" in text and "LFW" in text
    with app.unit_of_work() as uow:
        recorded = uow.session.scalar(
            select(AuditEvent.details).where(AuditEvent.action == "report.dpia")
        )
        assert recorded is not None and recorded["audit_head"] in text
        assert recorded["audit_head"] == head_before  # the head as the pack was written
        assert uow.session.query(Search).count() == 0  # the pack reads, it never searches


def test_reports_are_never_written_into_the_data_directory_or_over_a_file(
    auditor: App, tmp_path: Path
) -> None:
    home, today = auditor.settings.home, auditor.now().date()
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        dpia_report(auditor, home / "retroface.sqlite3", force=True)
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        transparency_report(auditor, today, today, home, force=True)
    earlier = tmp_path / "dpia.md"
    earlier.write_text("last year's pack")
    with pytest.raises(InvalidInputError, match="--force"):
        dpia_report(auditor, earlier)
    assert earlier.read_text() == "last year's pack"
    dpia_report(auditor, earlier, force=True)
    assert "DPIA-TEST" in earlier.read_text()
    transparency_report(auditor, today, today, tmp_path)
    with pytest.raises(InvalidInputError, match="already holds"):
        transparency_report(auditor, today, today, tmp_path)
    assert verify_audit(auditor).ok  # the database was never touched
