"""Watchlist rules: fixed categories with provenance, the under-18 gate, the size cap,
versioned membership with a manifest per version, and erasure on request."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.services import App
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.erase import erase_subject
from retroface.services.galleries.manage import (
    create_gallery,
    gallery_manifest,
    remove_subject,
    restore_subject,
    set_gallery_cap,
    show_gallery,
)
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, ReferenceImage, Search, Subject, Template
from tests.helpers import authorised_case, provenance

pytestmark = pytest.mark.needs_data


@pytest.fixture
def examples(data: Path) -> Path:
    return data / "face_recognition" / "examples"


def _count(app: App, model: type) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"category": "person of interest"}, InvalidInputError, "watchlist category"),
        ({"category": "demo"}, InvalidInputError, "only for quickstart"),
        ({"holding_basis": "found online"}, InvalidInputError, "holding basis"),
        ({"holding_basis": "demo"}, InvalidInputError, "only for quickstart"),
        ({"source_system": " "}, InvalidInputError, "source system"),
        ({"record_id": ""}, InvalidInputError, "record id"),
        ({"retention_class": "forever"}, InvalidInputError, "retention class"),
        ({"taken_on": date.today() + timedelta(days=3)}, InvalidInputError, "in the future"),
        ({"labels": {"sex": ""}}, InvalidInputError, "key=value"),
        (
            {"date_of_birth": date.today() - timedelta(days=365 * 15)},
            AuthorisationError,
            "under 18",
        ),
    ],
)
def test_entries_need_a_fixed_category_and_full_provenance(
    app: App, supervisor: App, examples: Path, changes: dict, error: type, message: str
) -> None:
    create_gallery(supervisor, "g")
    with pytest.raises(error, match=message):
        enroll(
            supervisor,
            "g",
            [examples / "obama.jpg"],
            subject="obama",
            provenance=provenance("CR-1", **changes),
        )
    assert _count(app, Subject) == 0 and _count(app, ReferenceImage) == 0


def test_new_subjects_without_provenance_are_refused_before_analysis(
    app: App, supervisor: App, data: Path
) -> None:
    train = data / "face_recognition" / "examples" / "knn_examples" / "train"
    create_gallery(supervisor, "g")
    with pytest.raises(InvalidInputError, match="provenance"):
        enroll(supervisor, "g", [train])
    partial = {"biden": provenance("CR-B")}  # one of the folder's three people
    with pytest.raises(InvalidInputError, match="obama"):
        enroll(supervisor, "g", [train], provenance=partial)
    assert _count(app, ReferenceImage) == 0


def test_a_child_is_listed_only_with_a_recorded_reason(
    app: App, supervisor: App, examples: Path
) -> None:
    create_gallery(supervisor, "g")
    born = app.now().date() - timedelta(days=365 * 16)
    reason = "missing 14-year-old; parents' report M-77"
    report = enroll(
        supervisor,
        "g",
        [examples / "obama.jpg"],
        subject="child",
        provenance=provenance(
            "M-77",
            category="missing-or-vulnerable",
            holding_basis="missing-person-report",
            date_of_birth=born,
            under_18_reason=reason,
        ),
    )
    assert report.enrolled == 1
    with app.unit_of_work() as uow:
        child = uow.session.scalar(select(Subject).where(Subject.name == "child"))
        assert child is not None and child.under_18_reason == reason
        assert child.category == "missing-or-vulnerable" and child.external_ref == "M-77"
        details = uow.session.scalar(
            select(AuditEvent.details).where(AuditEvent.action == "reference.enrolled")
        )
    assert details is not None and details["under_18_reason"] == reason
    assert details["subject_created"] is True


def test_gallery_cap_refuses_new_subjects_until_raised(
    app: App, supervisor: App, examples: Path
) -> None:
    create_gallery(supervisor, "small", max_subjects=1)
    enroll(
        supervisor, "small", [examples / "obama.jpg"], subject="obama", provenance=provenance("A")
    )
    with pytest.raises(AuthorisationError, match="its cap"):
        enroll(
            supervisor,
            "small",
            [examples / "biden.jpg"],
            subject="biden",
            provenance=provenance("B"),
        )
    # More images of someone already listed are not a new entry.
    more = enroll(supervisor, "small", [examples / "obama2.jpg"], subject="obama")
    assert more.enrolled == 1
    with pytest.raises(InvalidInputError, match="at least 1"):
        set_gallery_cap(supervisor, "small", 0)
    assert set_gallery_cap(supervisor, "small", 2).max_subjects == 2
    enroll(
        supervisor, "small", [examples / "biden.jpg"], subject="biden", provenance=provenance("B")
    )
    assert show_gallery(supervisor, "small").subjects == 2


def test_every_change_is_a_version_and_each_version_has_a_manifest(
    app: App, supervisor: App, auditor: App, examples: Path
) -> None:
    create_gallery(supervisor, "g")
    enroll(supervisor, "g", [examples / "obama.jpg"], subject="obama", provenance=provenance("O"))
    v_obama = show_gallery(supervisor, "g").version
    enroll(supervisor, "g", [examples / "biden.jpg"], subject="biden", provenance=provenance("B"))
    v_both = show_gallery(supervisor, "g").version
    case = authorised_case(app)
    first = search(app, case, "g", [examples / "obama2.jpg"])
    remove_subject(supervisor, "g", "obama")
    v_removed = show_gallery(supervisor, "g").version
    restore_subject(supervisor, "g", "obama")
    v_restored = show_gallery(supervisor, "g").version
    assert v_obama < v_both < v_removed < v_restored

    def records(version: int) -> list[str | None]:
        return sorted(e.record_id for e in gallery_manifest(auditor, "g", version).subjects)

    assert records(v_obama) == ["O"]
    assert records(v_both) == ["B", "O"]
    assert records(v_removed) == ["B"]
    assert records(v_restored) == ["B", "O"]
    assert gallery_manifest(auditor, "g").version == v_restored
    with app.unit_of_work() as uow:
        row = uow.session.get(Search, first.search_id)
        assert row is not None and row.gallery_version == v_both
    with pytest.raises(InvalidInputError):
        gallery_manifest(auditor, "g", v_restored + 1)


def test_erasure_reaches_every_listing_of_the_person_and_is_final(
    app: App, supervisor: App, auditor: App, examples: Path
) -> None:
    for name in ("local", "regional"):
        create_gallery(supervisor, name)
        enroll(
            supervisor,
            name,
            [examples / "obama.jpg"],
            subject="obama",
            provenance=provenance("CR-9", source_system="custody"),
        )
        enroll(
            supervisor,
            name,
            [examples / "biden.jpg"],
            subject="biden",
            provenance=provenance("CR-2"),
        )
    case = authorised_case(app)
    before = search(app, case, "regional", [examples / "obama2.jpg"])
    assert before.probes[0].candidates[0].subject == "obama"

    report = erase_subject(supervisor, "local", "obama", "SAR-2026-14")
    assert len(report.subject_ids) == 2  # both listings of custody record CR-9
    assert report.images_deleted == 2 and report.templates_deleted == 2
    assert _count(app, ReferenceImage) == 2  # biden's remain
    with app.unit_of_work() as uow:
        gallery_templates = uow.session.scalar(
            select(func.count(Template.id)).where(Template.subject_id.is_not(None))
        )
    assert gallery_templates == 2
    after = search(app, case, "regional", [examples / "obama2.jpg"])
    assert all(c.subject != "obama" for p in after.probes for c in p.candidates)
    with app.unit_of_work() as uow:
        names = set(uow.session.scalars(select(Subject.name)))
        events = list(
            uow.session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "subject.erased")
            )
        )
    assert "obama" not in names
    assert [e["request_reference"] for e in events] == ["SAR-2026-14"] * 2
    assert all("obama" not in str(e) for e in events)
    manifest = gallery_manifest(auditor, "local")
    assert [e.erased for e in manifest.subjects if e.record_id != "CR-2"] == []  # left the list
    with pytest.raises(InvalidInputError):
        restore_subject(supervisor, "local", f"erased-subject-{report.subject_ids[0]}")
    with pytest.raises(InvalidInputError, match="request"):
        erase_subject(supervisor, "local", "biden", " ")
