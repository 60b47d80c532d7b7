"""Crash safety: bulk enrollment and video ingest are killed outright (SIGKILL to the whole
process group) at random points several times, then run to the end. Afterwards the database,
the index and the files agree: nothing lost, nothing stored twice, ``retroface doctor`` clean,
and searches still find the right people."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Select, func, select

from retroface.faces.video_analysis import plan_segments
from retroface.media import sha256_file
from retroface.media.video_reader import SamplingPolicy, probe_video
from retroface.services import App
from retroface.services.galleries.enrol_plan import plan_enrollment
from retroface.services.galleries.manage import create_gallery
from retroface.services.operations.doctor import DoctorReport, run_doctor
from retroface.services.search.footage import find_person
from retroface.services.search.photos import search
from retroface.store.models import (
    AuditEvent,
    Face,
    Gallery,
    GalleryChange,
    MediaItem,
    ReferenceImage,
    Sighting,
    Subject,
    Template,
    VideoJob,
    VideoSegment,
)
from tests.cli_process import kill_hard, run_cli_json, start_cli, user_env
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    register_users,
    write_provenance_csv,
)

pytestmark = pytest.mark.needs_data

SEED = 20261126
PEOPLE = 10  # AT&T subjects s1..s10
ENROLLED_PER_PERSON = 7  # images 1..7; image 10 is each person's held-out probe


def _count(app: App, query: Select[tuple[int]]) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(query) or 0)


def _kill_at_random_points(
    rng: random.Random,
    env: dict[str, str],
    args: list[str],
    progress: Callable[[], int],
    total: int,
    kills: int,
    max_delay_s: float,
) -> list[str]:
    """Start the command ``kills`` times and SIGKILL it at a random point of each run: the
    first during start-up, the others once a random number of the ``total`` units left are
    committed, or a random time after the run's first commit. Returns where each kill landed
    (for failure messages and the record)."""
    landed: list[str] = []
    for round_no in range(kills):
        before = progress()
        left = total - before
        proc = start_cli(env, *args)
        deadline = time.monotonic() + 120
        if round_no == 0:
            delay = rng.uniform(0.2, 1.5)
            time.sleep(delay)
            how = f"{delay:.2f} s after start"
        elif rng.random() < 0.5:
            target = before + rng.randint(1, max(1, left // 2))
            while progress() < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            how = f"once {target} were committed"
        else:
            while progress() == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            delay = rng.uniform(0.0, max_delay_s)
            time.sleep(delay)
            how = f"{delay:.2f} s after its first commit"
        finished = proc.poll() is not None
        kill_hard(proc)
        landed.append(f"{how}: {before} -> {progress()}{' (had finished)' if finished else ''}")
    print(f"kill points ({' '.join(args[:2])}): {landed}")  # shown with pytest -s
    return landed


def _repaired(report: DoctorReport) -> dict[str, int]:
    return {f.name: f.repaired for f in report.findings if f.repaired}


def _att_tree(data: Path, root: Path) -> tuple[Path, dict[Path, str]]:
    """people/<subject>/<n>.pgm links to AT&T images 1..7; returns the tree and the probes."""
    tree = root / "people"
    probes: dict[Path, str] = {}
    for person in range(1, PEOPLE + 1):
        source = data / "att_faces" / f"s{person}"
        folder = tree / f"s{person}"
        folder.mkdir(parents=True)
        for n in range(1, ENROLLED_PER_PERSON + 1):
            (folder / f"{n}.pgm").symlink_to(source / f"{n}.pgm")
        probes[source / "10.pgm"] = f"s{person}"
    return tree, probes


def test_bulk_enrollment_killed_at_random_points_loses_nothing_and_stores_nothing_twice(
    app: App, data: Path, tmp_path: Path
) -> None:
    tree, probes = _att_tree(data, tmp_path)
    planned = plan_enrollment([tree])
    create_gallery(app.acting_as(SUPERVISOR), "att")
    register_users(app, {SUPERVISOR: PASSWORD})  # and ADMIN, who runs doctor
    home = app.settings.home
    enroller = user_env(home, SUPERVISOR.username, RETROFACE_WORKERS="1")
    admin = user_env(home, ADMIN.username)
    sheet = write_provenance_csv(tmp_path / "provenance.csv", [tree])
    enroll_args = ["gallery", "enroll", "att", str(tree), "--provenance", str(sheet)]

    def enrolled() -> int:
        return _count(app, select(func.count(ReferenceImage.id)))

    rng = random.Random(SEED)
    landed = _kill_at_random_points(rng, enroller, enroll_args, enrolled, len(planned), 3, 1.0)
    partial = enrolled()
    assert 0 < partial < len(planned), f"the kills should land mid-enrollment: {landed}"

    # The kills leave the index behind the database (it is saved after the commits):
    # doctor names it, and only that, and --repair rebuilds it.
    found = run_cli_json(admin, "doctor", "--stale-after", "0", exit_code=1)
    problems = {f["name"] for f in found["findings"] if f["status"] == "problem"}
    assert "gallery-indexes" in problems, landed
    assert problems <= {"gallery-indexes", "leftover-temp-files"}, found
    repaired = run_doctor(app.acting_as(ADMIN), repair=True, stale_after=timedelta(0))
    assert repaired.ok and _repaired(repaired) == {"gallery-indexes": 1}

    final = run_cli_json(enroller, *enroll_args)
    assert final["already_enrolled"] == partial, landed
    assert final["enrolled"] + partial + len(final["skipped"]) == len(planned)

    # The database holds each usable input file exactly once, with one face, one template
    # and one audit event each, and one gallery version per image.
    expected = {(p.subject, sha256_file(p.path)) for p in planned} - {
        (Path(s["source"]).parent.name, sha256_file(Path(s["source"]))) for s in final["skipped"]
    }
    with app.unit_of_work() as uow:
        stored = uow.session.execute(
            select(Subject.name, ReferenceImage.sha256).join(
                ReferenceImage, ReferenceImage.subject_id == Subject.id
            )
        ).all()
        gallery = uow.session.scalar(select(Gallery).where(Gallery.name == "att"))
        assert gallery is not None
        version = gallery.version
    assert sorted(stored) == sorted(expected) and len(stored) == len(set(stored))
    images = len(stored)
    assert images >= len(planned) - 2, final["skipped"]  # AT&T faces are nearly all usable
    assert _count(app, select(func.count(Subject.id))) == PEOPLE
    references = select(func.count(Face.id)).where(Face.reference_image_id.is_not(None))
    assert _count(app, references) == images
    assert _count(app, select(func.count(Template.id))) == images
    assert (
        _count(
            app, select(func.count(AuditEvent.id)).where(AuditEvent.action == "reference.enrolled")
        )
        == images
    )
    assert version == 1 + images
    assert _count(app, select(func.count(GalleryChange.id))) == 1 + images  # + its creation

    clean = run_cli_json(admin, "doctor")
    assert clean["problems"] == 0, clean

    case = authorised_case(app)
    report = search(app, case, "att", list(probes))
    tops = {p.source: p.candidates[0].subject for p in report.probes if p.candidates}
    assert tops == {str(path): subject for path, subject in probes.items()}, landed


def test_video_ingest_killed_at_random_points_resumes_without_losing_or_doubling_sightings(
    app: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(
        app,
        "cast",
        {
            "lin-manuel-miranda": [examples / "lin-manuel-miranda.png"],
            "alex-lacamoire": [examples / "alex-lacamoire.png"],
        },
    )
    case = authorised_case(app)
    register_users(app, {OPERATOR: PASSWORD})
    home = app.settings.home
    operator = user_env(home, OPERATOR.username, RETROFACE_WORKERS="1")
    admin = user_env(home, ADMIN.username)
    clip = data / "video" / "short_hamilton_clip.mp4"
    ingest_args = ["video", "ingest", str(clip), "--case", case, "--segment-s", "1",
                   "--source-type", "cctv", "--supplied-by", "DC Test"]  # fmt: skip

    def segments() -> int:
        return _count(app, select(func.count(VideoSegment.id)))

    windows = plan_segments(
        clip, probe_video(clip).duration_s, SamplingPolicy.parse("fps:5"), 1.0, template_jitters=2
    )
    rng = random.Random(SEED)
    landed = _kill_at_random_points(rng, operator, ingest_args, segments, len(windows), 3, 1.5)
    done = segments()
    assert done >= 1, landed

    # A killed job stays marked "running": within --stale-after it counts as live work;
    # past it, doctor names it, and --repair marks it interrupted.
    assert run_doctor(app.acting_as(ADMIN)).ok
    stale = run_doctor(app.acting_as(ADMIN), stale_after=timedelta(0))
    problems = {f.name: f.count for f in stale.findings if f.status == "problem"}
    assert problems == {"interrupted-video-jobs": 1}, landed
    repaired = run_cli_json(admin, "doctor", "--repair", "--stale-after", "0")
    assert repaired["problems"] == 0, repaired
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(VideoJob.status)).all() == ["interrupted"]

    resumed = run_cli_json(operator, *ingest_args)
    clip_out = resumed["files"][0]
    assert resumed["resumed"] and clip_out["segments_skipped"] == done, landed

    # Every planned window exactly once; each holds exactly the sightings it recorded, each
    # sighting one face and one fused template; one audit event per window.
    with app.unit_of_work() as uow:
        stored = uow.session.execute(
            select(VideoSegment.media_item_id, VideoSegment.start_s, VideoSegment.sightings)
        ).all()
        per_segment = dict(
            uow.session.execute(
                select(Sighting.segment_id, func.count(Sighting.id)).group_by(Sighting.segment_id)
            ).all()
        )
        recorded = {
            s.id: s.sightings for s in uow.session.scalars(select(VideoSegment)) if s.sightings
        }
        statuses = uow.session.scalars(select(VideoJob.status)).all()
    assert (
        len(stored) == clip_out["segments"] == len(windows) == len({(m, s) for m, s, _ in stored})
    )
    assert per_segment == recorded
    sightings = sum(n for _, _, n in stored)
    assert sightings > 0
    assert _count(app, select(func.count(Sighting.id))) == sightings
    assert _count(app, select(func.count(Face.id)).where(Face.media_item_id.is_not(None))) == (
        sightings
    )
    assert _count(app, select(func.count(Template.id)).where(Template.subject_id.is_(None))) == (
        sightings
    )
    assert _count(app, select(func.count(MediaItem.id))) == 1
    segment_events = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "video.segment_processed"
    )
    assert _count(app, segment_events) == len(stored)
    assert statuses == ["completed"]

    assert run_doctor(app.acting_as(ADMIN)).ok
    timeline = find_person(app, case, "cast", "lin-manuel-miranda")
    assert timeline.appearances, landed
