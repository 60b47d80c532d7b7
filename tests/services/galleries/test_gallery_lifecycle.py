"""Enrollment is resumable and idempotent; removal is immediate and reversible until final;
the persisted index is rebuilt whenever it disagrees with the database."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from retroface.errors import AlreadyExistsError, NotFoundError
from retroface.services import App, open_app
from retroface.services.biometrics.gallery_index import forget_held_indexes
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import (
    create_gallery,
    remove_subject,
    restore_subject,
    show_gallery,
)
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, ReferenceImage, Template
from tests.conftest import OPERATOR, SUPERVISOR
from tests.databases import cli_env
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    provenance,
    provenances,
    register_users,
    write_provenance_csv,
)

pytestmark = pytest.mark.needs_data


def _count(app: App, model: type) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_enrolling_twice_adds_nothing(app: App, supervisor: App, data: Path) -> None:
    train = data / "face_recognition" / "examples" / "knn_examples" / "train"
    create_gallery(supervisor, "g")
    first = enroll(supervisor, "g", [train], provenance=provenances([train]))
    second = enroll(supervisor, "g", [train], provenance=provenances([train]))
    assert first.enrolled == 9 and second.enrolled == 0 and second.already_enrolled == 9
    assert _count(app, ReferenceImage) == 9 and _count(app, Template) == 9


def test_duplicate_gallery_name_refused(supervisor: App) -> None:
    create_gallery(supervisor, "g")
    with pytest.raises(AlreadyExistsError):
        create_gallery(supervisor, "g")


def test_unusable_images_are_skipped_and_reported(
    app: App, supervisor: App, data: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "people"
    (tree / "obama").mkdir(parents=True)
    (tree / "obama" / "good.jpg").symlink_to(data / "face_recognition" / "examples" / "obama.jpg")
    (tree / "obama" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (tree / "nobody").mkdir()
    group = Image.open(
        data / "face_recognition" / "examples" / "knn_examples" / "test" / "obama_and_biden.jpg"
    )
    group.crop((0, 0, 400, 400)).save(tree / "nobody" / "flags.png")  # bunting, no face
    (tree / "pair").mkdir()
    (tree / "pair" / "two.jpg").symlink_to(
        data / "face_recognition" / "examples" / "two_people.jpg"
    )
    create_gallery(supervisor, "g")
    report = enroll(supervisor, "g", [tree], provenance=provenances([tree]))
    reasons = {Path(s.source).name: s.error for s in report.skipped}
    assert report.enrolled == 1
    assert "corrupt or truncated" in reasons["broken.jpg"]
    assert "faces of similar size" in reasons["two.jpg"]
    assert reasons["flags.png"] == "no face found"
    assert len(report.skipped) == 3


def test_interrupted_enrollment_resumes_without_duplicates(
    app: App, supervisor: App, data: Path, tmp_path: Path
) -> None:
    att = data / "att_faces"
    create_gallery(supervisor, "att")
    register_users(app, {SUPERVISOR: PASSWORD})
    home = app.settings.home
    env = cli_env(
        home,
        RETROFACE_WORKERS="1",
        RETROFACE_USER=SUPERVISOR.username,
        RETROFACE_PASSWORD=PASSWORD,
    )
    sheet = write_provenance_csv(tmp_path / "provenance.csv", [att])
    cmd = [sys.executable, "-m", "retroface.cli.main", "gallery", "enroll", "att", str(att)]
    cmd += ["--provenance", str(sheet)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _count(app, ReferenceImage) < 15 and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _count(app, ReferenceImage)
    assert 15 <= partial < 400, "the kill should land mid-enrollment"

    report = enroll(supervisor, "att", [att], provenance=provenances([att]))
    assert report.already_enrolled == partial
    total = _count(app, ReferenceImage)
    assert total == partial + report.enrolled
    assert _count(app, Template) == total
    with app.unit_of_work() as uow:
        enrolled_events = uow.session.scalar(
            select(func.count()).where(AuditEvent.action == "reference.enrolled")
        )
    assert enrolled_events == total
    assert show_gallery(supervisor, "att").images == total


def test_removed_subject_leaves_search_at_once_and_can_be_restored(
    app: App, supervisor: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    case = authorised_case(app)
    probe = examples / "obama2.jpg"
    assert search(app, case, "g", [probe]).probes[0].candidates[0].subject == "obama"

    remove_subject(supervisor, "g", "obama")
    assert search(app, case, "g", [probe]).probes[0].candidates == []
    restore_subject(supervisor, "g", "obama")
    assert search(app, case, "g", [probe]).probes[0].candidates[0].subject == "obama"

    remove_subject(supervisor, "g", "obama", final=True)
    assert _count(app, ReferenceImage) == 1  # only biden's remains
    assert search(app, case, "g", [probe]).probes[0].candidates == []
    with pytest.raises(NotFoundError):
        remove_subject(supervisor, "g", "nobody")


def test_stale_or_missing_index_is_rebuilt_from_the_database(
    app: App, supervisor: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    case = authorised_case(app)
    index_files = list(app.settings.index_dir.glob("gallery-*.faiss"))
    assert len(index_files) == 1
    # Simulate a crash after the DB commit but before the index save: the token is old.
    meta = index_files[0].with_suffix(".json")
    meta.write_text(meta.read_text().replace("version=", "version=999"))
    forget_held_indexes()  # a new process: nothing held in memory
    assert (
        search(app, case, "g", [examples / "biden.jpg"]).probes[0].candidates[0].subject == "biden"
    )
    index_files[0].unlink()
    forget_held_indexes()
    assert (
        search(app, case, "g", [examples / "obama2.jpg"]).probes[0].candidates[0].subject == "obama"
    )
    assert index_files[0].exists()


def test_a_server_holding_an_index_sees_another_servers_change(
    app: App, supervisor: App, data: Path, tmp_path: Path
) -> None:
    """Two servers, one database, each with its own data directory and index in memory:
    an enrolment on one moves the gallery version, so the other rebuilds before searching."""
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(app)
    other_home = tmp_path / "second-server"
    other = open_app(app.settings.with_(home=other_home, database_url=app.settings.url))
    other._engines.update(app._engines)
    other = other.acting_as(OPERATOR)
    probe = [examples / "biden.jpg"]
    assert search(other, case, "g", probe).probes[0].candidates == []  # held, without biden
    enroll(supervisor, "g", probe, subject="biden", provenance=provenance("REC-biden"))
    assert search(other, case, "g", probe).probes[0].candidates[0].subject == "biden"
    other.close()
