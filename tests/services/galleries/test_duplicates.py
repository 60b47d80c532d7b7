"""Duplicate and alias records: the self-search reports one LFW person enrolled under two
names, a person decides (merge or distinct, audited), and a merge can be undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.services import App
from retroface.services.galleries.duplicates import (
    decide_duplicate,
    find_duplicates,
    undo_duplicate_decision,
)
from retroface.services.galleries.manage import show_gallery
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data

OTHERS = [
    "Tony_Blair",
    "Gerhard_Schroeder",
    "Ariel_Sharon",
    "Hugo_Chavez",
    "Junichiro_Koizumi",
    "Jean_Chretien",
    "John_Ashcroft",
    "Jacques_Chirac",
]


def _photos(lfw: Path, person: str, numbers: range) -> list[Path]:
    return [lfw / person / f"{person}_{n:04d}.jpg" for n in numbers]


@pytest.fixture
def custody(app: App, data: Path) -> str:
    """Colin Powell under his name and under an alias, and eight other people."""
    lfw = data / "lfw"
    people = {
        "colin powell": _photos(lfw, "Colin_Powell", range(1, 3)),
        "c. l. powell (alias)": _photos(lfw, "Colin_Powell", range(3, 5)),
    }
    people |= {name.replace("_", " ").lower(): _photos(lfw, name, range(1, 2)) for name in OTHERS}
    return gallery_with(app, "custody", people)


def _events(app: App, action: str) -> list[dict[str, object]]:
    """The details of every audit event of ``action``, oldest first."""
    with app.unit_of_work() as uow:
        rows = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [{"action": e.action, **e.details} for e in rows]


def test_the_scan_reports_the_alias_and_a_person_merges_then_undoes(
    app: App, supervisor: App, custody: str, data: Path
) -> None:
    before = show_gallery(supervisor, custody)
    report = find_duplicates(supervisor, custody)
    assert report.subjects == 10 and report.templates == before.templates
    names = [{p.subject_a, p.subject_b} for p in report.pairs]
    assert names[0] == {"colin powell", "c. l. powell (alias)"}, report.pairs
    assert len(report.pairs) == 1  # no two different people over the bar
    assert report.threshold >= app.settings.threshold
    assert report.decision_rule.startswith("open-set")  # the shipped calibration's bar
    assert _events(app, "gallery.duplicates_scanned")[-1]["pairs"] == 1

    merged = decide_duplicate(
        supervisor, custody, "colin powell", "c. l. powell (alias)", "merge", "same scar, ears"
    )
    assert merged.moved_images == 2
    after = show_gallery(supervisor, custody)
    assert after.images == before.images and after.subjects == before.subjects - 1
    probe = data / "lfw" / "Colin_Powell" / "Colin_Powell_0005.jpg"
    case = authorised_case(app)
    [found] = search(app, case, custody, [probe]).probes
    assert [c.subject for c in found.candidates] == ["colin powell"]
    assert find_duplicates(supervisor, custody).pairs == []  # decided pairs are not re-reported

    undo_duplicate_decision(supervisor, merged.id, "merged the wrong record")
    again = find_duplicates(supervisor, custody)
    assert [{p.subject_a, p.subject_b} for p in again.pairs] == [
        {"colin powell", "c. l. powell (alias)"}
    ]
    actions = [e["action"] for e in _events(app, "gallery.duplicate_decided")]
    actions += [e["action"] for e in _events(app, "gallery.duplicate_undone")]
    assert actions == ["gallery.duplicate_decided", "gallery.duplicate_undone"]


def test_distinct_pairs_stay_quiet_and_only_supervisors_scan_or_decide(
    app: App, supervisor: App, custody: str
) -> None:
    with pytest.raises(AuthorisationError):
        find_duplicates(app, custody)  # an operator
    with pytest.raises(InvalidInputError, match="needs a reason"):
        decide_duplicate(supervisor, custody, "colin powell", "tony blair", "distinct", " ")
    with pytest.raises(InvalidInputError, match="decision must be one of"):
        decide_duplicate(supervisor, custody, "colin powell", "tony blair", "same", "x")
    decide_duplicate(
        supervisor, custody, "colin powell", "c. l. powell (alias)", "distinct", "twins on file"
    )
    report = find_duplicates(supervisor, custody)
    assert report.pairs == [] and report.already_decided == 1
    with pytest.raises(InvalidInputError, match="already have a decision"):
        decide_duplicate(supervisor, custody, "c. l. powell (alias)", "colin powell", "merge", "x")


def test_the_scan_only_ivf_index_reports_what_the_exact_scan_reports(
    app: App, supervisor: App, custody: str
) -> None:
    """A large gallery is scanned through an IVF index built for the scan (index/self_search.py):
    forced here on a small one, it reports the same pair at the same score, and the report
    and the audit event say how the gallery was searched."""
    exact = find_duplicates(supervisor, custody, exact=True)
    approximate = find_duplicates(supervisor, custody, exact=False)
    assert exact.scan == "exact" and approximate.scan.startswith("IVF")
    assert [(p.subject_a, p.subject_b, p.score) for p in approximate.pairs] == [
        (p.subject_a, p.subject_b, p.score) for p in exact.pairs
    ]
    assert approximate.subjects == exact.subjects == 10
    scans = [e["scan"] for e in _events(app, "gallery.duplicates_scanned")]
    assert scans == ["exact", approximate.scan]


def test_a_gallery_of_one_says_there_is_nothing_to_compare(
    app: App, supervisor: App, data: Path
) -> None:
    lone = gallery_with(
        app, "lone", {"tony blair": _photos(data / "lfw", "Tony_Blair", range(1, 2))}
    )
    report = find_duplicates(supervisor, lone)
    assert report.pairs == [] and "fewer than two templates" in report.decision_rule
