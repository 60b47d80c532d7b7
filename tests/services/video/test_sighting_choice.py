"""The operator picks which sightings of ingested footage to search; the others are not
searched. Chosen sightings of one person may be searched as one fused probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.errors import InvalidInputError, NotFoundError
from retroface.governance.probe_sources import ProbeSourceRefusedError
from retroface.services import App
from retroface.services.search.footage import find_person
from retroface.services.search.sightings import search_sightings
from retroface.services.video.ingest import IngestOptions, ingest_videos
from retroface.store.models import AuditEvent, Candidate, Face, MediaItem, Search, Sighting
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


@pytest.fixture
def cast(app: App, data: Path) -> str:
    examples = data / "face_recognition" / "examples"
    return gallery_with(
        app,
        "cast",
        {
            "lin-manuel-miranda": [examples / "lin-manuel-miranda.png"],
            "alex-lacamoire": [examples / "alex-lacamoire.png"],
        },
    )


def _count(app: App, model: type) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_only_the_chosen_sightings_are_searched_alone_or_as_one_person(
    app: App, cast: str, data: Path
) -> None:
    case = authorised_case(app)
    clip = data / "video" / "short_hamilton_clip.mp4"
    with pytest.raises(ProbeSourceRefusedError):
        ingest_videos(app, case, [clip], source_type="sketch", supplied_by="DC Smith")
    ingest = ingest_videos(
        app, case, [clip], IngestOptions(sampling="fps:4"),
        source_type="cctv", supplied_by="Theatre security, via DC Smith",
    )  # fmt: skip
    assert ingest.errors == []
    with app.unit_of_work() as uow:
        media = uow.session.scalars(select(MediaItem)).one()
        assert (media.source_type, media.supplied_by) == ("cctv", "Theatre security, via DC Smith")
        footage_sha256 = media.sha256
        refused = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "video.ingest_refused")
        ).one()
        assert "not an image of the person sought" in refused.details["reason"]
        # Miranda's sightings: on stage (before 1 s) and in close-up (about 2.8 s to 7 s).
        sightings = uow.session.scalars(select(Sighting).order_by(Sighting.first_s)).all()
        everyone = [s.id for s in sightings]
        miranda = [s.id for s in sightings if s.last_s < 1.0 or 2.5 < s.first_s < 4.0]
    assert len(everyone) > len(miranda) >= 2

    # Mistakes are refused before a search exists: nothing named, a sighting not in the case.
    with pytest.raises(InvalidInputError, match="name the sightings to search"):
        search_sightings(app, case, cast, [])
    with pytest.raises(NotFoundError, match=f"no sighting {max(everyone) + 1} in case"):
        search_sightings(app, case, cast, [miranda[-1], max(everyone) + 1])
    assert _count(app, Search) == 0

    close_up = miranda[-1]
    report = search_sightings(app, case, cast, [close_up])
    (probe,) = report.probes  # the others are not searched
    assert probe.sighting_id == close_up and probe.source_type == "cctv"
    assert probe.candidates[0].subject == "lin-manuel-miranda"
    with app.unit_of_work() as uow:
        decided = uow.session.scalars(
            select(Sighting.id)
            .join(Face, Sighting.face_id == Face.id)
            .where(Face.decision.is_not(None))
        ).all()
        assert decided == [close_up]  # no other sighting was ranked or decided
        row = uow.session.get(Search, report.search_id)
        assert row is not None and row.parameters["sightings"] == [close_up]
    assert _count(app, Candidate) == len(probe.candidates)

    fused = search_sightings(app, case, cast, miranda, one_person=True).probes
    (one,) = fused
    assert one.candidates[0].subject == "lin-manuel-miranda"
    assert sorted(p.sighting_id or 0 for p in one.parts or []) == sorted(miranda)
    with app.unit_of_work() as uow:
        lead = uow.session.scalars(select(Face).where(Face.fused_parts.is_not(None))).one()
        assert sorted(p["sighting_id"] for p in lead.fused_parts) == sorted(miranda)
        assert all(p["sha256"] == footage_sha256 for p in lead.fused_parts)
    with pytest.raises(InvalidInputError, match="two or more sightings"):
        search_sightings(app, case, cast, [close_up], one_person=True)
    # A timeline shows where the footage came from, as recorded at ingest.
    timeline = find_person(app, case, cast, "lin-manuel-miranda")
    assert {(a.source_type, a.supplied_by) for a in timeline.appearances} == {
        ("cctv", "Theatre security, via DC Smith")
    }
