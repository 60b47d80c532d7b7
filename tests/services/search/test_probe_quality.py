"""Probes too poor to search reliably, and the per-search bar, on real faces."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from retroface.media import load_image
from retroface.media.degrade import Degradation, degrade
from retroface.services import App
from retroface.services.cases.review import show_candidate
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import create_gallery
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Face
from tests.conftest import SUPERVISOR
from tests.helpers import authorised_case, gallery_with, provenance

pytestmark = pytest.mark.needs_data

PEOPLE = ("George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder")


def lfw(data: Path, name: str, number: int) -> Path:
    return data / "lfw" / name / f"{name}_{number:04d}.jpg"


def poor_copies(data: Path, folder: Path) -> list[Path]:
    """A heavily blurred and a heavily downscaled copy of a real face photo."""
    source = load_image(lfw(data, "Colin_Powell", 2)).pixels
    out = []
    for degradation in (Degradation("gaussian_blur", 5.0), Degradation("downscale", 5.0)):
        path = folder / f"{degradation.kind}.png"
        Image.fromarray(degrade(source, degradation, inter_eye_px=40.0)).save(path)
        out.append(path)
    return out


def test_poor_probes_are_not_searched_unless_justified(
    app: App, data: Path, tmp_path: Path
) -> None:
    gallery_with(app, "custody", {n: [lfw(data, n, 1)] for n in PEOPLE})
    case = authorised_case(app)
    poor = poor_copies(data, tmp_path)

    refused = search(app, case, "custody", poor)
    assert len(refused.probes) == 2
    for probe in refused.probes:
        assert not probe.searched and probe.candidates == []
        assert probe.warning and "too poor to search reliably" in probe.warning
        assert probe.quality < app.settings.probe_quality_floor
    assert "blurred" in next(p.warning for p in refused.probes if "gaussian" in p.source)
    # Not searched means no template is kept, and the audit says how many were too poor.
    with app.unit_of_work() as uow:
        event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.media_processed")
        ).first()
        assert event is not None and event.details["faces_too_poor"] == 1

    justified = search(
        app, case, "custody", poor, low_quality_justification="the only image of the suspect"
    )
    assert all(p.searched and p.bar is not None for p in justified.probes)
    assert all(p.warning and "justification" in p.warning for p in justified.probes)
    found = [c for p in justified.probes for c in p.candidates]
    for candidate in found:  # a candidate of a poor probe carries the warning to the reviewer
        detail = show_candidate(app.acting_as(SUPERVISOR), candidate.candidate_id)
        assert detail.probe_warning and "low-quality" in detail.probe_warning


def test_every_searched_face_records_its_bar_and_expected_fpir(app: App, data: Path) -> None:
    gallery_with(app, "custody", {n: [lfw(data, n, 1)] for n in PEOPLE})
    case = authorised_case(app)
    report = search(app, case, "custody", [lfw(data, "Tony_Blair", 2)])
    assert report.target_fpir == app.settings.target_fpir and report.gallery_templates == 5
    (probe,) = report.probes
    assert probe.searched and probe.warning is None
    assert probe.bar is not None and probe.bar >= report.threshold
    assert probe.expected_fpir is not None and probe.expected_fpir <= report.target_fpir
    assert [c.subject for c in probe.candidates] == ["Tony_Blair"]
    with app.unit_of_work() as uow:
        face = uow.session.scalars(select(Face).where(Face.decision.is_not(None))).one()
        assert face.decision["threshold"] == pytest.approx(probe.bar, abs=1e-4)


def test_a_reference_below_the_quality_floor_is_refused_unless_overridden(
    supervisor: App, data: Path, tmp_path: Path
) -> None:
    create_gallery(supervisor, "custody")
    (blurred, _) = poor_copies(data, tmp_path)
    refused = enroll(supervisor, "custody", [blurred], subject="Colin Powell",
                     provenance=provenance("REC-1"))  # fmt: skip
    assert refused.enrolled == 0
    assert "below the reference floor" in refused.skipped[0].error
    assert "blurred" in refused.skipped[0].error
    kept = enroll(supervisor, "custody", [blurred], subject="Colin Powell",
                  provenance=provenance("REC-1"), quality_override="only custody image")  # fmt: skip
    assert kept.enrolled == 1
    with supervisor.unit_of_work() as uow:
        event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "reference.enrolled")
        ).one()
        assert event.details["quality_override"] == "only custody image"
