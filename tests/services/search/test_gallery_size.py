"""The gallery size a search records and sets its bar for is the size it searches: taken from
the gallery's index at the search's version, so it follows every enrolment and removal
without counting the gallery in SQL (seconds at a million subjects on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import NotFoundError
from retroface.services import App
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import create_gallery, remove_subject, restore_subject
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Search
from tests.conftest import SUPERVISOR
from tests.helpers import authorised_case, gallery_with, provenance

pytestmark = pytest.mark.needs_data

PEOPLE = ("George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld")


def lfw(data: Path, name: str, number: int) -> Path:
    return data / "lfw" / name / f"{name}_{number:04d}.jpg"


def _last_search(app: App) -> tuple[int, int]:
    """(templates in the last search's parameters, subjects in its ``search.started``)."""
    with app.unit_of_work() as uow:
        row = uow.session.scalars(select(Search).order_by(Search.started_at.desc())).first()
        event = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "search.started")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert row is not None and event is not None
        return int(row.parameters["gallery_templates"]), int(event.details["gallery_subjects"])


def test_the_recorded_size_and_the_bar_follow_enrolment_and_removal(app: App, data: Path) -> None:
    supervisor = app.acting_as(SUPERVISOR)
    people = {n: [lfw(data, n, 1)] for n in PEOPLE}
    people["George_W_Bush"].append(lfw(data, "George_W_Bush", 2))  # two templates
    gallery_with(app, "custody", people)
    case = authorised_case(app)
    probe = lfw(data, "Tony_Blair", 2)

    first = search(app, case, "custody", [probe])
    assert first.gallery_templates == 5 and _last_search(app) == (5, 4)

    remove_subject(supervisor, "custody", "George_W_Bush")
    smaller = search(app, case, "custody", [probe])
    assert smaller.gallery_templates == 3 and _last_search(app) == (3, 3)
    # fewer comparisons, a lower (or equal) bar for the same target FPIR
    assert smaller.probes[0].bar is not None and first.probes[0].bar is not None
    assert smaller.probes[0].bar <= first.probes[0].bar

    restore_subject(supervisor, "custody", "George_W_Bush")
    enroll(
        supervisor, "custody", [lfw(data, "Gerhard_Schroeder", 1)],
        subject="Gerhard_Schroeder", provenance=provenance("REC-GS"),
    )  # fmt: skip
    larger = search(app, case, "custody", [probe])
    assert larger.gallery_templates == 6 and _last_search(app) == (6, 5)
    assert larger.probes[0].bar is not None and larger.probes[0].bar >= first.probes[0].bar


def test_a_gallery_with_no_active_template_is_refused_before_a_search(app: App, data: Path) -> None:
    supervisor = app.acting_as(SUPERVISOR)
    create_gallery(supervisor, "empty")
    gallery_with(app, "one", {"Tony_Blair": [lfw(data, "Tony_Blair", 1)]})
    case = authorised_case(app)
    with pytest.raises(NotFoundError, match="no enrolled faces"):
        search(app, case, "empty", [lfw(data, "Tony_Blair", 2)])
    remove_subject(supervisor, "one", "Tony_Blair")
    with pytest.raises(NotFoundError, match="no enrolled faces"):
        search(app, case, "one", [lfw(data, "Tony_Blair", 2)])


def test_the_subject_count_moves_on_by_the_change_log_and_agrees_with_a_count(
    app: App, data: Path
) -> None:
    """After the first search, a search's ``gallery_subjects`` comes from the change log of
    the subjects changed since (not a count over the gallery); it must agree with one,
    through removals, a purge of someone already removed, restores and enrolments."""
    supervisor = app.acting_as(SUPERVISOR)
    gallery_with(app, "custody", {n: [lfw(data, n, 1)] for n in PEOPLE})
    case = authorised_case(app)
    probe = lfw(data, "Tony_Blair", 2)

    def searched_subjects() -> int:
        search(app, case, "custody", [probe])
        return _last_search(app)[1]

    def counted() -> tuple[int, int]:
        with app.unit_of_work() as uow:
            gallery = uow.galleries.require("custody")
            return gallery.version, uow.galleries.active_subjects(gallery.id)

    assert searched_subjects() == 4
    steps = [
        lambda: remove_subject(supervisor, "custody", "Colin_Powell"),
        lambda: remove_subject(supervisor, "custody", "Colin_Powell", final=True),
        lambda: remove_subject(supervisor, "custody", "Donald_Rumsfeld"),
        lambda: restore_subject(supervisor, "custody", "Donald_Rumsfeld"),
        lambda: enroll(
            supervisor,
            "custody",
            [lfw(data, "Gerhard_Schroeder", 1)],
            subject="Gerhard_Schroeder",
            provenance=provenance("REC-GS"),
        ),
        lambda: enroll(supervisor, "custody", [lfw(data, "Tony_Blair", 3)], subject="Tony_Blair"),
    ]
    for step in steps:
        version_before, before = counted()
        step()
        version_after, after = counted()
        assert searched_subjects() == after
        with app.unit_of_work() as uow:
            gallery = uow.galleries.require("custody")
            log = uow.galleries.membership_change(gallery.id, version_before, version_after, 100)
            assert log == after - before
            assert uow.galleries.membership_change(gallery.id, 0, version_after, 1) is None
    assert counted()[1] == 4  # Bush, Blair, Rumsfeld, Schroeder
