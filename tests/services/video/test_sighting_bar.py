"""A sighting's fused template is held to a bar raised by how little its views agree.

Why: the template is the re-normalised mean of the sighting's best views, which scores
higher against everyone than its views do, while the bar was calibrated on single
images (docs/trust.md). Real footage, a real LFW gallery, the real search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from retroface.faces.probe_fusion import UNRECORDED_AGREEMENT
from retroface.services import App
from retroface.services.cases.workbench import search_results
from retroface.services.search.photos import search
from retroface.services.search.sightings import search_sightings
from retroface.services.video.ingest import ingest_videos
from retroface.store.models import Face, Sighting
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _lfw_gallery(app: App, data: Path, people: int) -> str:
    lfw = data / "lfw"
    names = sorted(p.name for p in lfw.iterdir() if len(list(p.glob("*.jpg"))) >= 2)[:people]
    return gallery_with(app, "custody", {n: [sorted((lfw / n).glob("*.jpg"))[0]] for n in names})


def test_sightings_record_their_agreement_and_are_held_to_a_higher_bar(
    app: App, data: Path
) -> None:
    gallery = _lfw_gallery(app, data, 20)
    case = authorised_case(app)
    ingest_videos(app, case, [data / "video" / "covent_garden_crowd.mp4"])
    with app.unit_of_work() as uow:
        rows = list(uow.session.scalars(select(Sighting)))
        agreement = {s.id: s.views_agreement for s in rows}
        single_view = {s.id for s in rows if s.detections == 1}
    assert all(a is not None and 0.8 < a <= 1.0 for a in agreement.values())
    assert all(agreement[i] == pytest.approx(1.0) for i in single_view)
    assert min(a for a in agreement.values() if a is not None) < 0.99  # views do differ

    # A still searched against the same gallery gets the single-image bar.
    still = search(app, case, gallery, [sorted((data / "lfw" / "Tony_Blair").glob("*.jpg"))[1]])
    still_bar = still.probes[0].bar
    assert still_bar is not None

    footage = search(app, case, gallery, [data / "video" / "covent_garden_crowd.mp4"])
    searched = [p for p in footage.probes if p.bar is not None and p.sighting_id is not None]
    assert searched
    for probe in searched:
        assert probe.bar is not None and probe.bar >= still_bar
        # the target, give or take the rounding of the recorded figure
        assert probe.expected_fpir is not None
        assert probe.expected_fpir <= app.settings.target_fpir * 1.001
        # shown with the bar: in the report, and on the results page (as the CLI prints it)
        assert probe.views_agreement == pytest.approx(agreement[probe.sighting_id], abs=1e-4)
        if agreement[probe.sighting_id] == pytest.approx(1.0):
            assert probe.bar == pytest.approx(still_bar)
    shown = {f.sighting_id: f.views_agreement for f in search_results(app, footage.search_id).faces}
    assert shown == {p.sighting_id: p.views_agreement for p in footage.probes}
    assert still.probes[0].views_agreement is None  # a still is not a fusion
    # The less a sighting's views agree, the higher its bar (above the deployment's floor).
    ordered = sorted(searched, key=lambda p: agreement[p.sighting_id] or 0.0)
    bars = [p.bar or 0.0 for p in ordered]
    assert bars == sorted(bars, reverse=True) and bars[0] > still_bar
    lowest = ordered[0].sighting_id
    assert lowest is not None
    assert _decision(app, lowest)["views_agreement"] == pytest.approx(agreement[lowest], abs=1e-4)

    # A sighting stored before agreements were recorded counts as a low agreement.
    with app.unit_of_work() as uow:
        row = uow.session.get(Sighting, lowest)
        assert row is not None
        row.views_agreement = None
        uow.commit()
    again = search_sightings(app, case, gallery, [lowest])
    assert again.probes[0].bar is not None and again.probes[0].bar >= max(bars)
    assert _decision(app, lowest)["views_agreement"] == UNRECORDED_AGREEMENT


def _decision(app: App, sighting_id: int) -> dict[str, Any]:
    """The latest decision recorded on the sighting's face."""
    with app.unit_of_work() as uow:
        row = uow.session.get(Sighting, sighting_id)
        assert row is not None
        face = uow.session.get(Face, row.face_id)
        assert face is not None and face.decision is not None
        return dict(face.decision)
