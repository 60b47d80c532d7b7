"""``retroface doctor`` finds what a crash or an outside edit leaves behind, changes nothing
unless asked to repair, audits every repair, and never "repairs" the audit log."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from retroface.services import App
from retroface.services.biometrics.gallery_index import forget_held_indexes
from retroface.services.biometrics.uploaded_files import case_upload_folder
from retroface.services.operations.doctor import DoctorReport, run_doctor
from retroface.services.search.gate import start_search
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Face, MediaItem, Search, Sighting, Template
from tests.cli_process import run_cli, user_env
from tests.conftest import ADMIN, OPERATOR
from tests.helpers import authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data

NOW = timedelta(0)
TWO_HOURS_S = 2 * 3600


@pytest.fixture
def deployment(app: App, data: Path) -> App:
    """A gallery of two people and an authorised case; acting as the admin who runs doctor."""
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    authorised_case(app, "CASE-1")
    return app.acting_as(ADMIN)


def _problems(report: DoctorReport) -> dict[str, int]:
    return {f.name: f.count for f in report.findings if f.status == "problem"}


def _repaired(report: DoctorReport) -> dict[str, int]:
    return {f.name: f.repaired for f in report.findings if f.repaired}


def _events(app: App, action: str | None = None) -> int:
    query = select(func.count(AuditEvent.id))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(query) or 0)


def _index_files(app: App) -> list[Path]:
    return sorted(app.settings.index_dir.glob("gallery-*.faiss"))


def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_working_deployment_is_clean_and_without_repair_nothing_changes(
    deployment: App,
) -> None:
    report = run_doctor(deployment)
    assert report.ok and report.problems == 0
    names = {f.name for f in report.findings}
    assert {"sqlite-integrity", "schema-revision", "audit-chain", "gallery-indexes"} <= names
    sqlite_only = {"sqlite-integrity", "sqlite-foreign-keys"}
    expected = "ok" if deployment.db.engine.dialect.name == "sqlite" else "not-applicable"
    assert {f.status for f in report.findings if f.name in sqlite_only} == {expected}

    (index,) = _index_files(deployment)
    index.unlink()
    leftover = deployment.settings.index_dir / "gallery-1-x.faiss.tmp"
    leftover.write_bytes(b"half an index")
    _age(leftover, TWO_HOURS_S)
    events = _events(deployment)
    found = run_doctor(deployment)
    assert _problems(found) == {"gallery-indexes": 1, "leftover-temp-files": 1}
    assert not found.ok and all(f.repaired == 0 for f in found.findings)
    assert not index.exists() and leftover.exists()  # nothing changed
    assert _events(deployment) == events  # not even the audit log


def test_a_deleted_corrupted_or_stale_index_is_found_and_rebuilt(
    deployment: App, data: Path
) -> None:
    (index,) = _index_files(deployment)
    meta = index.with_suffix(".json")
    damages = {
        "deleted": index.unlink,
        "corrupted": lambda: index.write_bytes(b"\x00" * 64 + b"not a faiss index"),
        "stale": lambda: meta.write_text(meta.read_text().replace("version=", "version=9")),
    }
    for what, damage in damages.items():
        forget_held_indexes()  # as a fresh process would start
        damage()
        found = run_doctor(deployment)
        assert _problems(found) == {"gallery-indexes": 1}, what
        (finding,) = [f for f in found.findings if f.name == "gallery-indexes"]
        expected = {"deleted": "missing", "corrupted": "unreadable", "stale": "another gallery"}
        assert expected[what] in finding.examples[0]
        repaired = run_doctor(deployment, repair=True)
        assert repaired.ok and _repaired(repaired) == {"gallery-indexes": 1}, what
    assert _events(deployment, "maintenance.repaired") == len(damages)

    forget_held_indexes()
    probe = data / "face_recognition" / "examples" / "obama2.jpg"
    report = search(deployment.acting_as(OPERATOR), "CASE-1", "g", [probe])
    assert report.probes[0].candidates[0].subject == "obama"


def test_leftover_temp_files_and_unreferenced_uploads_are_deleted_after_the_grace_period(
    deployment: App, data: Path
) -> None:
    home = deployment.settings.home
    evidence = data / "face_recognition" / "examples" / "obama2.jpg"
    folder = case_upload_folder(home, "CASE-1") / "a1"
    folder.mkdir(parents=True)
    kept = folder / "000-obama2.jpg"
    kept.write_bytes(evidence.read_bytes())
    partial = folder / "001-half.jpg"
    partial.write_bytes(evidence.read_bytes()[:1000])  # a killed server's partial upload
    with deployment.unit_of_work() as uow:  # the kept upload belongs to a search's media item
        case_id = uow.cases.get("CASE-1").id  # type: ignore[union-attr]
        uow.session.add(
            MediaItem(
                case_id=case_id, source_path=str(kept.resolve()), sha256="0" * 64,
                byte_size=1, width=1, height=1, format="JPEG",
            )
        )  # fmt: skip
        uow.commit()
    meta_tmp = deployment.settings.index_dir / "gallery-1-m.faiss.json"  # an atomic save's
    meta_tmp.write_text("{}")
    database_files = sorted(p.name for p in home.glob("retroface.sqlite3*"))

    fresh = run_doctor(deployment)  # within the grace period: maybe a live server's work
    assert fresh.ok, _problems(fresh)
    for path in (kept, partial, meta_tmp):
        _age(path, TWO_HOURS_S)
    found = run_doctor(deployment)
    assert _problems(found) == {"leftover-temp-files": 1, "unreferenced-uploads": 1}
    repaired = run_doctor(deployment, repair=True)
    assert repaired.ok
    assert _repaired(repaired) == {"leftover-temp-files": 1, "unreferenced-uploads": 1}
    assert kept.exists() and not partial.exists() and not meta_tmp.exists()
    assert sorted(p.name for p in home.glob("retroface.sqlite3*")) == database_files
    with deployment.unit_of_work() as uow:
        details = [
            e.details
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "maintenance.repaired")
            )
        ]
    assert sorted(f for d in details for f in d["files"]) == sorted(
        str(p.relative_to(home)) for p in (partial, meta_tmp)
    )


def test_a_search_left_running_is_marked_interrupted(deployment: App) -> None:
    search_id, _, _ = start_search(deployment.acting_as(OPERATOR), "CASE-1", "g", None, 10, {})
    assert run_doctor(deployment).ok  # just started: it may still be running
    assert _problems(run_doctor(deployment, stale_after=NOW)) == {"interrupted-searches": 1}
    repaired = run_doctor(deployment, repair=True, stale_after=NOW)
    assert repaired.ok and _repaired(repaired) == {"interrupted-searches": 1}
    with deployment.unit_of_work() as uow:
        assert uow.session.get(Search, search_id).status == "interrupted"  # type: ignore[union-attr]


def test_rows_that_lost_their_place_are_found_and_repaired(deployment: App) -> None:
    """Rows another tool wrote: a face of nothing with a template, a sighting's vanished
    cluster, a gallery template filed under no gallery."""
    with deployment.unit_of_work() as uow:
        reference_face = uow.session.scalars(select(Face)).first()
        assert reference_face is not None
        stray = Face(
            box_x=0, box_y=0, box_w=50, box_h=50, landmarks=[], detector="hog",
            detector_score=1.0, quality=0.5, quality_parts={},
        )  # fmt: skip
        uow.session.add(stray)
        uow.flush()
        template = uow.session.scalars(select(Template)).first()
        assert template is not None
        uow.session.add(
            Template(
                face_id=stray.id, model_name=template.model_name,
                model_version=template.model_version, dimension=template.dimension,
                vector=template.vector, quality=0.5,
            )
        )  # fmt: skip
        template.gallery_id = None
        media = MediaItem(
            case_id=uow.cases.get("CASE-1").id,  # type: ignore[union-attr]
            source_path="/evidence/clip.mp4", sha256="1" * 64, media_type="video",
            byte_size=1, width=1, height=1, format="h264",
        )  # fmt: skip
        uow.session.add(media)
        uow.flush()
        uow.session.add(
            Sighting(
                media_item_id=media.id, face_id=reference_face.id, first_frame=0, last_frame=1,
                first_s=0.0, last_s=0.1, detections=2, exemplars=[], cluster_id=999,
            )
        )  # fmt: skip
        uow.commit()
    found = run_doctor(deployment)
    assert _problems(found) == {
        "orphan-faces": 1,
        "template-gallery-mismatch": 1,
        "sighting-cluster-links": 1,
    }
    repaired = run_doctor(deployment, repair=True)
    assert repaired.ok, _problems(repaired)
    with deployment.unit_of_work() as uow:
        assert uow.session.get(Face, stray.id) is None
        assert uow.session.scalar(select(Sighting.cluster_id)) is None
        assert (
            None
            not in uow.session.scalars(
                select(Template.gallery_id).where(Template.subject_id.is_not(None))
            ).all()
        )


def test_a_broken_audit_chain_is_reported_and_never_repaired(deployment: App) -> None:
    on_table = " ON audit_events" if deployment.db.engine.dialect.name == "postgresql" else ""
    with deployment.db.engine.begin() as conn:  # an insider with direct database access
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_events_no_UPDATE{on_table}")
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE id = 2"))
    report = run_doctor(deployment, repair=True)
    assert _problems(report) == {"audit-chain": 1} and not report.ok
    (chain,) = [f for f in report.findings if f.name == "audit-chain"]
    assert chain.examples == ["2"] and chain.repaired == 0 and "never" in chain.repair


def test_doctor_command_prints_findings_and_exits_non_zero_while_problems_remain(
    deployment: App, tmp_path: Path
) -> None:
    register_users(deployment, {})
    env = user_env(deployment.settings.home, ADMIN.username)
    for index in _index_files(deployment):
        index.unlink()
    result = run_cli(env, "doctor")
    assert result.returncode == 1, result.stderr
    assert "PROBLEM  gallery-indexes (1)" in result.stdout
    assert "'retroface doctor --repair' fixes" in result.stdout
    if deployment.db.engine.dialect.name != "sqlite":
        return  # a server database has no data directory file to look for
    missing = run_cli(env | {"RETROFACE_HOME": str(tmp_path / "nowhere")}, "doctor")
    assert missing.returncode == 1 and missing.stderr.startswith("retroface: error:")
    assert "no retroface data directory" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "nowhere").exists()  # doctor never creates a data directory
