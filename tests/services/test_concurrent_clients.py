"""Two supervisors enrolling into one gallery and an operator searching it, all at once, as
separate processes on one database (SQLite here; PostgreSQL when the suite runs on it): nothing
is lost, no gallery version is written twice, the audit chain stays whole."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.galleries.manage import create_gallery
from retroface.services.galleries.versions import bump_version
from retroface.services.oversight.audit_log import verify_audit
from retroface.store.models import Gallery, GalleryChange, ReferenceImage, Search, Subject
from tests.conftest import AUDITOR, OPERATOR, SUPERVISOR
from tests.databases import cli_env
from tests.helpers import PASSWORD, authorised_case, register_users, write_provenance_csv

pytestmark = pytest.mark.needs_data
SECOND_SUPERVISOR = Principal("sgt-7", Role.SUPERVISOR)
PHOTOS_PER_SUBJECT = 3


def _tree(root: Path, subjects: list[str], att: Path) -> Path:
    """A folder per subject holding links to a few of their AT&T photos (no copies)."""
    for name in subjects:
        folder = root / name
        folder.mkdir(parents=True)
        for photo in sorted((att / name).glob("*.pgm"))[:PHOTOS_PER_SUBJECT]:
            (folder / photo.name).symlink_to(photo)
    return root


def _start(app: App, user: Principal, *args: str | Path) -> subprocess.Popen[str]:
    env = cli_env(
        app.settings.home, RETROFACE_USER=user.username, RETROFACE_PASSWORD=PASSWORD,
        RETROFACE_WORKERS="1", RETROFACE_JITTERS="1",
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "retroface.cli.main", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(app: App, model: type, *where: object) -> int:
    with app.unit_of_work() as uow:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int(uow.session.scalar(query) or 0)


def test_concurrent_enrolment_and_search_lose_nothing(app: App, data: Path, tmp_path: Path) -> None:
    att = data / "att_faces"
    register_users(app, {SUPERVISOR: PASSWORD, SECOND_SUPERVISOR: PASSWORD, OPERATOR: PASSWORD})
    create_gallery(app.acting_as(SUPERVISOR), "shared")
    case = authorised_case(app, "CONCURRENT-1")
    first = _tree(tmp_path / "a", [f"s{i}" for i in range(1, 5)], att)
    second = _tree(tmp_path / "b", [f"s{i}" for i in range(5, 9)], att)

    clients = [
        _start(app, SUPERVISOR, "gallery", "enroll", "shared", first,
               "--provenance", write_provenance_csv(tmp_path / "a.csv", [first])),
        _start(app, SECOND_SUPERVISOR, "gallery", "enroll", "shared", second,
               "--provenance", write_provenance_csv(tmp_path / "b.csv", [second])),
    ]  # fmt: skip
    probes = [sorted((att / f"s{i}").glob("*.pgm"))[-1] for i in (1, 5)]
    deadline = time.monotonic() + 300
    while _count(app, ReferenceImage) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # search while the enrolments are still going
    source = ("--source-type", "cctv", "--supplied-by", "DC Test")
    searches = [
        _start(app, OPERATOR, "search", probe, "--case", case, "--gallery", "shared", *source)
        for probe in probes
    ]
    for process in clients + searches:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err

    expected = 8 * PHOTOS_PER_SUBJECT
    assert _count(app, Subject) == 8
    assert _count(app, ReferenceImage) == expected
    with app.unit_of_work() as uow:
        gallery = uow.session.scalars(select(Gallery).where(Gallery.name == "shared")).one()
        versions = list(
            uow.session.scalars(
                select(GalleryChange.version).where(GalleryChange.gallery_id == gallery.id)
            )
        )
        assert sorted(versions) == list(range(1, gallery.version + 1))  # none written twice
        assert gallery.version == 1 + expected  # created, then one version per photo
        done = list(uow.session.scalars(select(Search.status)))
    assert done == ["completed", "completed"]
    assert verify_audit(app.acting_as(AUDITOR)).ok


def test_a_second_gallery_change_waits_for_the_first_and_gets_the_next_version(
    app: App,
) -> None:
    """The race the test above can only hope to hit, forced: B reads the gallery while A's
    change is uncommitted; B must wait for A and then write the version after A's."""
    create_gallery(app.acting_as(SUPERVISOR), "raced")
    got: list[int] = []

    def second_change() -> None:
        with app.unit_of_work() as uow:
            gallery = uow.galleries.get("raced")
            assert gallery is not None
            got.append(bump_version(uow, gallery, "b", "image-added"))
            uow.commit()

    with app.unit_of_work() as uow:
        gallery = uow.galleries.get("raced")
        assert gallery is not None
        start = gallery.version
        first = bump_version(uow, gallery, "a", "image-added")
        uow.flush()
        other = threading.Thread(target=second_change)
        other.start()
        time.sleep(0.5)
        assert other.is_alive(), "the second change must wait for the first"
        uow.commit()
    other.join(timeout=30)
    assert (first, got) == (start + 1, [start + 2])
