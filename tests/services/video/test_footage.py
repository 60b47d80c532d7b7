"""Footage end to end on real clips: sightings with time ranges, search and find by
sighting, empty and broken files, resumable parallel jobs (local processes and Dask)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import pytest
from sqlalchemy import func, select

from retroface.errors import InvalidInputError, NotFoundError
from retroface.services import App
from retroface.services.cases.manage import close_case
from retroface.services.deployment.rules import set_threshold_floor
from retroface.services.search.footage import find_person
from retroface.services.search.photos import search
from retroface.services.video.ingest import IngestOptions, ingest_videos
from retroface.store.models import Search, Sighting, Template, VideoSegment
from tests.conftest import ADMIN, OPERATOR
from tests.databases import cli_env
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    register_measurement_calibration,
    register_users,
)

pytestmark = pytest.mark.needs_data


@pytest.fixture
def video(data: Path) -> Path:
    return data / "video"


@pytest.fixture
def hamilton_gallery(app: App, data: Path) -> str:
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


def test_lin_manuel_miranda_is_found_with_his_time_ranges(
    app: App, hamilton_gallery: str, video: Path
) -> None:
    """Checked by eye (contact sheet at 1 frame/s): Miranda is on stage, small, from 0.0 to
    about 0.7 s; the shot cuts to Lacamoire at the piano, then to the audience; Miranda is
    in close-up from about 2.8 s to 7.1 s; the audience (the Obamas) fills 7.2 s to the end."""
    case = authorised_case(app)
    ingest = ingest_videos(app, case, [video / "short_hamilton_clip.mp4"])
    assert ingest.errors == [] and ingest.files[0].sightings >= 3
    # A name typed wrong reads no evidence: refused before a search exists, not counted.
    searches_before = _count(app, Search)
    with pytest.raises(NotFoundError, match="no subject named 'lin-manuel-mirander'"):
        find_person(app, case, hamilton_gallery, "lin-manuel-mirander")
    assert _count(app, Search) == searches_before
    timeline = find_person(app, case, hamilton_gallery, "lin-manuel-miranda")
    ranges = [(a.first_s, a.last_s) for a in timeline.appearances]
    assert ranges, "Miranda must be found"
    assert ranges[0][0] == pytest.approx(0.0, abs=0.25) and ranges[0][1] < 1.0
    close_up = max(ranges, key=lambda r: r[1] - r[0])
    assert close_up[0] == pytest.approx(2.8, abs=0.5) and close_up[1] == pytest.approx(7.0, abs=0.5)
    assert all(last <= 7.3 for _, last in ranges)  # never into the audience shot
    assert timeline.notice.startswith("investigative lead")

    # A search of the same footage reuses the case's sightings: candidates per sighting.
    report = search(app, case, hamilton_gallery, [video / "short_hamilton_clip.mp4"])
    assert _count(app, Sighting) == ingest.files[0].sightings  # nothing scanned twice
    led = [p for p in report.probes if p.candidates]
    assert all(p.first_s is not None and p.sighting_id is not None for p in report.probes)
    # Each lead names the person on screen: Miranda, or Lacamoire in his glimpse at the
    # piano (0.8-1.4 s), which a detector framing it well (BlazeFace) lifts over the 1:N bar.
    for p in led:
        at_piano = (
            p.first_s is not None and p.last_s is not None and 0.5 <= p.first_s <= p.last_s <= 1.7
        )
        on_screen = "alex-lacamoire" if at_piano else "lin-manuel-miranda"
        assert p.candidates[0].subject == on_screen, (p.first_s, p.last_s)
    miranda_led = [p for p in led if p.candidates[0].subject == "lin-manuel-miranda"]
    assert sorted((p.first_s, p.last_s) for p in miranda_led) == sorted(ranges)


#: LFW's accuracy-optimal 1:1 threshold for the default engine (10-fold: 0.914-0.916,
#: bench/lfw_verify.py); the 1:N default (0.93) sits higher because a gallery search
#: meets many impostors at once.
ONE_TO_ONE_THRESHOLD = 0.915


def test_alex_lacamoire_is_found_at_the_piano_by_a_targeted_find(
    app: App, hamilton_gallery: str, video: Path, data: Path, tmp_path: Path
) -> None:
    """Checked by eye: Lacamoire is at the piano from about 0.8 s to 1.4 s, looking down at
    the keys. Against his one reference photo that glimpse scores about 0.92, under the 1:N
    default but over the 1:1 operating point. "Where does this named person appear?" is a
    1:1 question, so an admin lowers the floor to that point (under a registered calibration,
    as governance demands) and the find runs there; each appearance still goes to the right
    person and none falls in the audience shot."""
    register_measurement_calibration(app, data, tmp_path)
    set_threshold_floor(app.acting_as(ADMIN), ONE_TO_ONE_THRESHOLD)
    case = authorised_case(app)
    ingest_videos(app, case, [video / "short_hamilton_clip.mp4"])

    def ranges(subject: str) -> list[tuple[float, float]]:
        found = find_person(app, case, hamilton_gallery, subject, threshold=ONE_TO_ONE_THRESHOLD)
        return [(a.first_s, a.last_s) for a in found.appearances]

    alex = ranges("alex-lacamoire")
    assert len(alex) == 1, alex
    assert alex[0][0] == pytest.approx(0.8, abs=0.3) and alex[0][1] == pytest.approx(1.4, abs=0.3)
    miranda = ranges("lin-manuel-miranda")
    assert len(miranda) == 2 and all(last <= 7.3 for _, last in miranda)
    assert not set(alex) & set(miranda)  # no sighting given to both


def test_crowd_tracks_are_stable(app: App, video: Path) -> None:
    """Counted by eye on the 4.2 s clip: six people show a frontal face big enough to
    detect (the red-haired young man, the boy in the blue hoodie, the white-haired woman,
    the woman with the scarf, the man with glasses, the grey-haired man in the centre);
    others are too far, turned away or pass for a moment. Frame-by-frame detection would
    give about 70 faces at 5 frames/s; tracking must give about one sighting per person."""
    case = authorised_case(app)
    report = ingest_videos(app, case, [video / "covent_garden_crowd.mp4"])
    assert report.errors == []
    sightings = report.files[0].sightings
    assert 5 <= sightings <= 9, sightings
    with app.unit_of_work() as uow:
        long_tracks = uow.session.scalar(
            select(func.count(Sighting.id)).where(Sighting.last_s - Sighting.first_s >= 2.0)
        )
    assert long_tracks >= 3  # the people walking the length of the clip are single tracks


def test_footage_without_faces_gives_no_sightings_and_no_error(app: App, video: Path) -> None:
    case = authorised_case(app)
    report = ingest_videos(
        app, case, [video / "overhead_crowd_no_faces.avi"], IngestOptions(sampling="fps:1")
    )
    assert report.errors == [] and report.files[0].sightings == 0
    assert report.frames_sampled >= 13 and report.realtime_factor is not None


def test_truncated_clip_keeps_partial_results_and_says_why(
    app: App, hamilton_gallery: str, video: Path, tmp_path: Path
) -> None:
    remuxed = tmp_path / "clip.mkv"
    with av.open(str(video / "short_hamilton_clip.mp4")) as src, av.open(str(remuxed), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(remuxed.read_bytes()[: remuxed.stat().st_size * 2 // 3])
    case = authorised_case(app)
    report = search(app, case, hamilton_gallery, [cut])
    assert [e.source for e in report.errors] == [str(cut)]
    assert "truncated" in report.errors[0].error or "decoding failed" in report.errors[0].error
    assert any(p.candidates for p in report.probes)  # Miranda, before the cut
    assert all(p.last_s is not None and p.last_s < 7.0 for p in report.probes)


def test_bad_inputs_are_clear_errors(app: App, video: Path, tmp_path: Path) -> None:
    case = authorised_case(app)
    with pytest.raises(InvalidInputError, match="at least one"):
        ingest_videos(app, case, [])
    with pytest.raises(Exception, match="unknown sampling"):
        ingest_videos(
            app, case, [video / "short_hamilton_clip.mp4"], IngestOptions(sampling="often")
        )
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not really")
    report = ingest_videos(app, case, [empty, photo, tmp_path / "missing.mp4"])
    reasons = " | ".join(e.error for e in report.errors)
    assert len(report.errors) == 3 and "empty" in reasons and "not a video" in reasons
    assert "no such file" in reasons


def test_case_closure_deletes_sighting_templates(app: App, video: Path) -> None:
    case = authorised_case(app)
    ingest_videos(app, case, [video / "covent_garden_crowd.mp4"], IngestOptions(sampling="fps:2"))
    with app.unit_of_work() as uow:
        kept = uow.session.scalar(
            select(func.count(Template.id)).where(Template.subject_id.is_(None))
        )
    assert kept == _count(app, Sighting) > 0
    close_case(app, case, "no further action")
    with app.unit_of_work() as uow:
        left = uow.session.scalar(
            select(func.count(Template.id)).where(Template.subject_id.is_(None))
        )
    assert left == 0


def test_killed_job_resumes_without_duplicate_sightings(
    app: App, hamilton_gallery: str, video: Path
) -> None:
    case = authorised_case(app)
    register_users(app, {OPERATOR: PASSWORD})
    env = cli_env(
        app.settings.home,
        RETROFACE_WORKERS="1",
        RETROFACE_USER=OPERATOR.username,
        RETROFACE_PASSWORD=PASSWORD,
    )
    clip = video / "short_hamilton_clip.mp4"
    args = ["video", "ingest", str(clip), "--case", case, "--segment-s", "2"]
    args += ["--source-type", "cctv", "--supplied-by", "DC Test"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "retroface.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while _count(app, VideoSegment) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _count(app, VideoSegment)
    assert 1 <= done < 4, "the kill should land mid-job"

    resumed = ingest_videos(
        replace(app, settings=app.settings.with_(workers=2)),
        case,
        [clip],
        IngestOptions(segment_s=2),
    )
    assert resumed.resumed and resumed.files[0].segments_skipped == done
    assert _count(app, VideoSegment) == resumed.files[0].segments == 4
    with app.unit_of_work() as uow:
        stored = dict(
            uow.session.execute(
                select(Sighting.segment_id, func.count(Sighting.id)).group_by(Sighting.segment_id)
            ).all()
        )
        expected = {
            seg.id: seg.sightings
            for seg in uow.session.scalars(select(VideoSegment))
            if seg.sightings
        }
    assert stored == expected  # each window's sightings stored once, none twice

    find = ["video", "find", "--case", case, "--gallery", hamilton_gallery]
    found = subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", *find, "--subject", "lin-manuel-miranda"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert "cast/lin-manuel-miranda" in found.stdout and "not an identification" in found.stdout
    assert " – 0:00:0" in found.stdout  # time ranges, as h:mm:ss.s


def test_dask_cluster_runs_the_same_job(app: App, video: Path) -> None:
    distributed = pytest.importorskip("distributed")
    case = authorised_case(app)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        report = ingest_videos(
            app,
            case,
            [video / "short_hamilton_clip.mp4"],
            IngestOptions(segment_s=3, dask_address=cluster.scheduler_address),
        )
    assert report.errors == [] and report.files[0].segments == 3
    assert report.files[0].sightings == _count(app, Sighting) >= 3
    with pytest.raises(InvalidInputError, match="Dask scheduler"):
        ingest_videos(
            app,
            case,
            [video / "covent_garden_crowd.mp4"],
            IngestOptions(dask_address="tcp://127.0.0.1:1"),
        )
