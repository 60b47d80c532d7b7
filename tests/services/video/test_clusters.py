"""Clustering a case's sightings across clips, with people's corrections and contact sheets."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image
from sqlalchemy import select

from retroface.errors import InvalidInputError, NotFoundError
from retroface.media.video_reader import SamplingPolicy, iter_frames
from retroface.services import App
from retroface.services.video.clusters import (
    cluster_case,
    contact_sheet,
    list_clusters,
    merge_clusters,
    split_cluster,
)
from retroface.services.video.ingest import IngestOptions, ingest_videos
from retroface.store.models import AuditEvent
from tests.helpers import authorised_case

pytestmark = pytest.mark.needs_data


def _reencode(source: Path, target: Path, start_s: float) -> Path:
    """A second clip of the same event: the part from ``start_s`` on, re-encoded."""
    with av.open(str(target), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for frame in iter_frames(source, SamplingPolicy("all", 0), start_s=start_s):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame.pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return target


@pytest.fixture
def two_clips_case(app: App, data: Path, tmp_path: Path) -> str:
    original = data / "video" / "short_hamilton_clip.mp4"
    later = _reencode(original, tmp_path / "second_camera.mp4", 4.5)
    case = authorised_case(app)
    report = ingest_videos(app, case, [original, later], IngestOptions(sampling="fps:3"))
    assert report.errors == [], report.errors
    return case


def test_the_same_person_in_two_clips_is_one_cluster_and_people_can_correct_it(
    app: App, two_clips_case: str
) -> None:
    case = two_clips_case
    report = cluster_case(app, case)
    assert report.notice.startswith("investigative lead")
    top = report.clusters[0]
    assert top.files == 2  # Miranda is in both clips
    sightings = sum(len(c.sightings) for c in report.clusters)
    assert len(report.clusters) < sightings  # clustering grouped something

    # A person splits one sighting off, then merges it back.
    moved = top.sightings[-1].sighting_id
    after_split = split_cluster(app, case, top.cluster_id, [moved])
    new = next(c for c in after_split.clusters if [m.sighting_id for m in c.sightings] == [moved])
    merged = merge_clusters(app, case, top.cluster_id, new.cluster_id)
    again = next(c for c in merged.clusters if c.cluster_id == top.cluster_id)
    assert moved in [m.sighting_id for m in again.sightings]
    assert list_clusters(app, case).clusters == merged.clusters
    with pytest.raises(InvalidInputError, match="merged into"):
        merge_clusters(app, case, top.cluster_id, new.cluster_id)
    with pytest.raises(InvalidInputError, match="at least one"):
        split_cluster(app, case, top.cluster_id, [m.sighting_id for m in again.sightings])
    with pytest.raises(NotFoundError):
        split_cluster(app, case, 99999, [moved])
    with app.unit_of_work() as uow:
        actions = list(
            uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("clusters.%"))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == ["clusters.computed", "clusters.split", "clusters.merged"]


def test_contact_sheet_is_written_inside_the_data_directory(app: App, two_clips_case: str) -> None:
    case = two_clips_case
    top = cluster_case(app, case).clusters[0]
    path = contact_sheet(app, case, top.cluster_id)
    assert path.is_relative_to(app.settings.home.resolve()) or path.is_relative_to(
        app.settings.home
    )
    with Image.open(path) as sheet:
        tiles = (sheet.width // 160) * (sheet.height // 160)
        assert sheet.format == "PNG" and tiles >= min(len(top.sightings), 6)
    with app.unit_of_work() as uow:
        logged = uow.session.scalar(
            select(AuditEvent.details).where(AuditEvent.action == "cluster.contact_sheet_written")
        )
    assert logged is not None and logged["path"] == str(path)


def test_clustering_needs_sightings(app: App) -> None:
    case = authorised_case(app)
    with pytest.raises(InvalidInputError, match="no sightings"):
        cluster_case(app, case)
    with pytest.raises(InvalidInputError, match="min-similarity"):
        cluster_case(app, case, 1.5)
