"""Every evidence item records where it came from and who supplied it; a sketch, a
composite, an artist's impression or a look-alike is refused, audited, never searched."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.governance.probe_sources import ProbeSourceRefusedError
from retroface.services import App
from retroface.services.cases.report import case_report
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, MediaItem, Search
from tests.conftest import EXAMPLES
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _rows(app: App, model: type) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_source_and_supplier_are_recorded_on_the_evidence_and_shown_with_its_leads(
    app: App,
) -> None:
    gallery = gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    report = search(
        app, case, gallery, [EXAMPLES / "obama2.jpg"],
        source_type="CCTV", supplied_by="DC Smith, Met Police",
    )  # fmt: skip
    (probe,) = report.probes
    assert probe.candidates[0].subject == "obama"
    assert (probe.source_type, probe.supplied_by) == ("cctv", "DC Smith, Met Police")
    with app.unit_of_work() as uow:
        media = uow.session.scalars(select(MediaItem)).one()
        assert (media.source_type, media.supplied_by) == ("cctv", "DC Smith, Met Police")
        row = uow.session.get(Search, report.search_id)
        assert row is not None
        assert row.parameters["provenance"] == {
            "source_type": "cctv",
            "supplied_by": "DC Smith, Met Police",
        }
        started = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.started")
        ).one()
        assert started.details["provenance"]["source_type"] == "cctv"
    html = Path(case_report(app, case).html).read_text(encoding="utf-8")
    assert "Evidence source</dt><dd>cctv, supplied by DC Smith, Met Police" in html


@pytest.mark.parametrize("declared", ["composite", "look-alike"])
def test_a_probe_declared_as_not_the_person_is_refused_and_audited_before_anything(
    app: App, declared: str
) -> None:
    gallery = gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    with pytest.raises(ProbeSourceRefusedError, match="not an image of the person sought"):
        search(
            app, case, gallery, [EXAMPLES / "obama2.jpg"],
            source_type=declared, supplied_by="DC Smith",
        )  # fmt: skip
    assert (_rows(app, Search), _rows(app, MediaItem)) == (0, 0)  # no search, no evidence
    with app.unit_of_work() as uow:
        refused = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.refused")
        ).one()
        assert "not an image of the person sought" in refused.details["reason"]
        assert refused.case_reference == case
