"""``retroface video ingest --fps``: a raw H.264 stream (what many CCTV recorders export) is
refused without a stated frame rate, read at it with one, and every time derived from it
is recorded as coming from that rate. Files are recognised by content, not by suffix."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from retroface.errors import MediaError
from retroface.services import App
from retroface.services.search.photos import search
from retroface.services.video.ingest import IngestOptions, run_ingest
from retroface.store.models import AuditEvent, Face, MediaItem, Sighting, VideoJob
from tests.cli_process import run_cli_json, user_env
from tests.conftest import EXAMPLES, OPERATOR
from tests.helpers import PASSWORD, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data

FPS = 12.5


def _raw_h264(clip: Path, path: Path, frames: int) -> Path:
    """The clip's first coded frames as an Annex B elementary stream: no timestamps."""
    with av.open(str(clip)) as src, av.open(str(path), "w", format="h264") as out:
        source = src.streams.video[0]
        stream = out.add_stream_from_template(source)
        for copied, packet in enumerate(p for p in src.demux(source) if p.dts is not None):
            if copied == frames:
                break
            packet.stream = stream
            out.mux(packet)
    return path


@pytest.fixture
def case(app: App) -> Iterator[str]:
    """An open, authorised case, and an operator who logs in to the CLI."""
    register_users(app, {OPERATOR: PASSWORD})
    yield authorised_case(app)


def test_raw_stream_needs_fps_is_read_at_it_and_says_so(
    app: App, case: str, data: Path, tmp_path: Path
) -> None:
    clip = data / "video" / "short_hamilton_clip.mp4"
    raw = _raw_h264(clip, tmp_path / "camera3.h264", frames=40)
    renamed = Path(shutil.copy(raw, tmp_path / "camera3-export.bin"))  # the suffix says nothing
    notes = tmp_path / "notes.bin"
    notes.write_text("not footage\n")
    env = user_env(app.settings.home, OPERATOR.username)

    source = ("--source-type", "cctv", "--supplied-by", "DC Test")  # required of every ingest
    refused = run_cli_json(env, "video", "ingest", raw, notes, "--case", case, *source, exit_code=1)
    errors = {Path(e["source"]).name: e["error"] for e in refused["errors"]}
    assert refused["files"] == [] and set(errors) == {"camera3.h264", "notes.bin"}
    assert "no timestamps" in errors["camera3.h264"] and "--fps N" in errors["camera3.h264"]
    assert "not a video (nor an image)" in errors["notes.bin"]

    report = run_cli_json(
        env, "video", "ingest", renamed, "--case", case, "--fps", str(FPS), *source
    )
    assert report["errors"] == [] and report["files"][0]["frames_sampled"] > 0
    assert report["files"][0]["timestamps_from_fps"] is True  # the report says so too

    with app.unit_of_work() as uow:
        job = uow.session.get_one(VideoJob, report["job_id"])
        assert job.parameters["stream_fps"] == FPS
        started = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "video.ingest_started", AuditEvent.object_id == job.id
            )
        ).one()
        assert started.details["stream_fps"] == FPS
        [file] = started.details["files"]
        assert file["timestamps_from_fps"] is True and file["fps"] == FPS
        media = uow.session.scalars(select(MediaItem)).one()
        assert media.sha256 == report["files"][0]["sha256"] and media.duration_s is None
        faces = uow.session.scalars(select(Face).where(Face.media_item_id == media.id)).all()
        assert faces, "the clip's first frames show faces"
        for face in faces:  # provenance: frame index and the time the stated rate gives it
            assert face.frame_index is not None
            assert face.timestamp_s == pytest.approx(face.frame_index / FPS, abs=1e-6)
        for sighting in uow.session.scalars(select(Sighting)):
            assert sighting.first_s == pytest.approx(sighting.first_frame / FPS, abs=1e-6)
            assert sighting.last_s == pytest.approx(sighting.last_frame / FPS, abs=1e-6)

    # A search of the case's footage (no --fps of its own) reuses the rate for the streams
    # read at it, and their sightings; a stream new to the case is refused, saying how.
    again = run_ingest(app, case, [raw], [], IngestOptions())
    assert again.errors == [] and again.resumed and again.files[0].segments_skipped == 1
    other = _raw_h264(clip, tmp_path / "camera4.h264", frames=20)
    new = run_ingest(app, case, [other], [], IngestOptions())
    assert new.files == [] and "retroface video ingest --fps N" in new.errors[0].error
    assert "retroface search ... --fps N" in new.errors[0].error
    with pytest.raises(MediaError, match="--fps must be above 0"):
        run_ingest(app, case, [other], [], IngestOptions(fps=0))

    # A search can state the rate itself (`search --fps`): the new stream is read at it.
    gallery_with(app, "cast", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    found = search(app, case, "cast", [other], fps=FPS)
    assert found.errors == [] and found.probes
    for probe in found.probes:  # the best view's time is its frame at the stated rate
        assert probe.frame is not None and probe.first_s is not None and probe.last_s
        assert probe.first_s - 1e-6 <= probe.frame / FPS <= probe.last_s + 1e-6
