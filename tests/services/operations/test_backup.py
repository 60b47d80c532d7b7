"""Backups: a consistent snapshot with a manifest of hashes; verify names what was tampered
with; restore verifies first, never overwrites a data directory (it moves it aside), is
audited in the restored database, and gives back the same search results."""

from __future__ import annotations

import io
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.faces import FaceEngine
from retroface.governance.identity import Principal
from retroface.services import App, open_app
from retroface.services.access.users import authenticate
from retroface.services.biometrics.uploaded_files import case_upload_folder
from retroface.services.galleries.erase import erase_subject
from retroface.services.operations.backup import (
    BackupError,
    create_backup,
    restore_backup,
    verify_backup,
)
from retroface.services.operations.doctor import run_doctor
from retroface.services.oversight.audit_log import verify_audit
from retroface.services.search.photos import search
from retroface.settings import Settings
from retroface.store.models import AuditEvent, MediaItem, ReferenceImage, Subject
from tests.cli_process import run_cli, run_cli_json, user_env
from tests.conftest import ADMIN, AUDITOR, OPERATOR, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data

SQLITE_ONLY = (
    "backup/restore copy a data directory whose database is its SQLite file; a PostgreSQL "
    "deployment is backed up with pg_dump (docs/security.md)"
)


def _as_admin(app: App) -> Principal:
    return authenticate(app, ADMIN.username, PASSWORD)


@pytest.fixture
def deployment(app: App, data: Path) -> App:
    """A gallery, a case, a search of evidence uploaded into the data directory, a contact
    sheet and a CLI session file; acting as the admin."""
    if app.settings.database_url is not None:
        pytest.skip(SQLITE_ONLY)
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    authorised_case(app, "CASE-1")
    register_users(app, {})
    home = app.settings.home
    upload = case_upload_folder(home, "CASE-1") / "f00" / "000-obama2.jpg"
    upload.parent.mkdir(parents=True)
    shutil.copyfile(examples / "obama2.jpg", upload)
    search(app, "CASE-1", "g", [upload])
    sheet = home / "exports" / "contact-sheets" / "CASE-1-cluster-1.png"
    sheet.parent.mkdir(parents=True)
    shutil.copyfile(examples / "biden.jpg", sheet)  # stands in for a written contact sheet
    (home / "session.json").write_text('{"token": "secret"}')
    return app.acting_as(ADMIN)


def _search(app: App, engine: FaceEngine, data: Path) -> list[tuple[str, float]]:
    app._engines[repr(app.engine_spec)] = engine
    probe = data / "face_recognition" / "examples" / "obama2.jpg"
    report = search(app.acting_as(OPERATOR), "CASE-1", "g", [probe])
    return [(c.subject, c.score) for p in report.probes for c in p.candidates]


def _private(root: Path) -> bool:
    """Folders 0700 and files 0600 throughout: a backup holds every biometric."""
    return all(
        stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600)
        for p in [root, *root.rglob("*")]
    )


def test_backup_verify_restore_round_trip_gives_the_same_search_results(
    deployment: App, engine: FaceEngine, data: Path, tmp_path: Path
) -> None:
    before = _search(deployment, engine, data)
    assert before and before[0][0] == "obama"
    made = create_backup(deployment, tmp_path / "backup")
    check = verify_backup(tmp_path / "backup")
    assert check.ok and check.files == made.files and check.created_by == ADMIN.username
    assert _private(tmp_path / "backup")
    backup = tmp_path / "backup"
    listed = {p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file()}
    assert "retroface.sqlite3" in listed and "manifest.json" in listed
    assert "exports/contact-sheets/CASE-1-cluster-1.png" in listed
    assert any(name.startswith("index/gallery-") for name in listed)
    assert any(name.startswith("uploads/evidence/") for name in listed)
    assert "session.json" not in listed and "retroface.sqlite3-wal" not in listed
    assert made.left_out == ["session.json (a person's login session)"]
    with deployment.unit_of_work() as uow:
        created = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "backup.created")
        ).one()
    assert created["manifest_sha256"] == made.manifest_sha256

    restored_home = tmp_path / "elsewhere" / "retroface-data"
    report = restore_backup(Settings(home=restored_home), tmp_path / "backup", _as_admin)
    assert report.moved_aside is None and report.paths_repointed == 1
    assert _private(restored_home) and not (restored_home / "session.json").exists()
    restored = open_app(Settings(home=restored_home, workers=1), principal=ADMIN)
    try:
        assert run_doctor(restored).ok  # index files agree with the restored database
        assert _search(restored, engine, data) == before
        assert verify_audit(restored.acting_as(AUDITOR)).ok
        with restored.unit_of_work() as uow:
            actor, details = uow.session.execute(
                select(AuditEvent.actor, AuditEvent.details).where(
                    AuditEvent.action == "backup.restored"
                )
            ).one()
            media_path = Path(
                uow.session.scalars(select(MediaItem.source_path).order_by(MediaItem.id)).first()
                or ""
            )
        assert actor == ADMIN.username
        assert details["manifest_sha256"] == made.manifest_sha256
        assert media_path.is_relative_to(restored_home.resolve()) and media_path.is_file()
    finally:
        restored.close()


def _tamper_archive(source: Path, target: Path, change: str, drop: str, add: str) -> None:
    with tarfile.open(source) as old, tarfile.open(target, "w") as new:
        for member in old.getmembers():
            content = old.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == drop:
                continue
            if member.name == change:
                content = content[:-1] + bytes([content[-1] ^ 1])
            member.size = len(content)
            new.addfile(member, io.BytesIO(content))
        extra = tarfile.TarInfo(add)
        extra.size = 3
        new.addfile(extra, io.BytesIO(b"new"))


def test_verify_names_every_missing_extra_or_changed_file_and_restore_refuses_it(
    deployment: App, tmp_path: Path
) -> None:
    folder = tmp_path / "folder-backup"
    create_backup(deployment, folder)
    index_file = next(p for p in (folder / "index").iterdir() if p.suffix == ".faiss")
    data = bytearray(index_file.read_bytes())
    data[-1] ^= 1
    index_file.write_bytes(bytes(data))
    (folder / "exports" / "contact-sheets" / "CASE-1-cluster-1.png").unlink()
    (folder / "uploads" / "planted.jpg").write_bytes(b"planted")
    check = verify_backup(folder)
    assert not check.ok
    assert check.changed == [index_file.relative_to(folder).as_posix()]
    assert check.missing == ["exports/contact-sheets/CASE-1-cluster-1.png"]
    assert check.extra == ["uploads/planted.jpg"]

    archive = tmp_path / "backup.tar.gz"
    create_backup(deployment, archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert verify_backup(archive).ok
    tampered = tmp_path / "tampered.tar"
    sheet = "exports/contact-sheets/CASE-1-cluster-1.png"
    _tamper_archive(archive, tampered, "retroface.sqlite3", sheet, "../escape.txt")
    check = verify_backup(tampered)
    assert check.changed == ["retroface.sqlite3"]
    assert check.missing == ["exports/contact-sheets/CASE-1-cluster-1.png"]
    assert check.extra == ["../escape.txt"]

    target = tmp_path / "restored"
    for bad in (folder, tampered):
        with pytest.raises(BackupError, match="does not verify, nothing restored"):
            restore_backup(Settings(home=target), bad, _as_admin)
    assert not target.exists() and not (tmp_path / "escape.txt").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]  # no temp left


def test_restore_refuses_a_non_empty_data_directory_unless_forced_and_keeps_the_old_one(
    deployment: App, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar"
    create_backup(deployment, archive)
    target = tmp_path / "data"
    target.mkdir()
    (target / "notes.txt").write_text("someone's data")
    with pytest.raises(InvalidInputError, match="is not empty"):
        restore_backup(Settings(home=target), archive, _as_admin)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]

    report = restore_backup(Settings(home=target), archive, _as_admin, force=True)
    assert report.moved_aside is not None
    aside = Path(report.moved_aside)
    assert (aside / "notes.txt").read_text() == "someone's data"  # moved aside, never deleted
    assert (target / "retroface.sqlite3").is_file() and not (target / "notes.txt").exists()


def test_restore_is_done_by_an_admin_of_the_backed_up_deployment(
    deployment: App, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar"
    create_backup(deployment, archive)
    target = tmp_path / "data"
    with pytest.raises(AuthorisationError, match="RETROFACE_USER"):
        restore_backup(Settings(home=target), archive, lambda _: None)
    with pytest.raises(AuthorisationError, match="may not system maintain"):
        restore_backup(Settings(home=target), archive, lambda _: OPERATOR)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]  # no temp folder left
    with pytest.raises(AuthorisationError, match="may not system maintain"):
        create_backup(deployment.acting_as(OPERATOR), tmp_path / "by-operator")


def test_backup_commands_create_verify_and_restore(deployment: App, tmp_path: Path) -> None:
    env = user_env(deployment.settings.home, ADMIN.username)
    archive = tmp_path / "nightly.tar.gz"
    made = run_cli_json(env, "backup", "create", archive)
    assert made["archive"] and made["files"] >= 5
    checked = run_cli_json(env, "backup", "verify", archive)
    assert checked["ok"] and checked["manifest_sha256"] == made["manifest_sha256"]
    restored = run_cli_json(env, "backup", "restore", archive, "--home", tmp_path / "copy")
    assert restored["home"] == str(tmp_path / "copy") and restored["files"] == made["files"]
    refused = run_cli(env, "backup", "restore", archive, "--home", tmp_path / "copy")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("retroface: error:") and "is not empty" in refused.stderr


def test_backup_of_a_postgresql_deployment_points_to_pg_dump(app: App) -> None:
    if app.settings.database_url is None:
        pytest.skip("only a PostgreSQL deployment is refused (SQLite is backed up directly)")
    register_users(app, {})
    with pytest.raises(BackupError, match="pg_dump"):
        create_backup(app.acting_as(ADMIN), app.settings.home.parent / "backup")
    with pytest.raises(BackupError, match="pg_restore"):
        restore_backup(app.settings, app.settings.home.parent / "backup", _as_admin)


def test_restoring_an_older_backup_does_not_bring_back_an_erased_person(
    deployment: App, data: Path, engine: FaceEngine, tmp_path: Path
) -> None:
    """Erasure is final: a backup made before it, restored over the deployment, gets the
    person erased again (audited as a replay); restored into an empty folder, where nothing
    can tell, the report says so."""
    archive = tmp_path / "backup.tar"
    create_backup(deployment, archive)
    fresh = restore_backup(Settings(home=tmp_path / "elsewhere"), archive, _as_admin)
    assert not fresh.replaced_database and fresh.erasures_replayed == 0
    assert fresh.backup_created_at is not None

    erase_subject(deployment.acting_as(SUPERVISOR), "g", "obama", "REQ-1")
    home = deployment.settings.home
    deployment.close()
    report = restore_backup(Settings(home=home), archive, _as_admin, force=True)
    assert report.replaced_database and report.erasures_replayed == 1

    restored = open_app(Settings(home=home), principal=ADMIN)
    try:
        with restored.unit_of_work() as uow:
            subjects = {s.name: (s.id, s.erased_at) for s in uow.session.scalars(select(Subject))}
            replays = uow.session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "subject.erasure_replayed")
            ).all()
            images = uow.session.scalars(select(ReferenceImage.subject_id)).all()
        assert "obama" not in subjects and "biden" in subjects
        erased_id, erased_at = next(
            row for name, row in subjects.items() if name.startswith("erased-subject-")
        )
        assert erased_at is not None and erased_id not in images
        assert len(replays) == 1
        assert "replayed on its restore" in replays[0]["request_reference"]
        assert verify_audit(restored.acting_as(AUDITOR)).ok
        assert [name for name, _ in _search(restored, engine, data)] == []  # obama2: nobody
    finally:
        restored.close()


def test_a_refused_restore_is_on_the_record_of_the_deployment_it_targeted(
    deployment: App, tmp_path: Path
) -> None:
    """Refused for a non-empty target, then for a person who is no admin of the backup: the
    deployment that would have been replaced records both attempts, and is unchanged."""
    archive = tmp_path / "backup.tar"
    create_backup(deployment, archive)
    home = deployment.settings.home
    with pytest.raises(InvalidInputError, match="is not empty"):
        restore_backup(Settings(home=home), archive, _as_admin)
    with pytest.raises(AuthorisationError, match="may not system maintain"):
        restore_backup(Settings(home=home), archive, lambda _: OPERATOR, force=True)
    with deployment.unit_of_work() as uow:
        refusals = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "backup.restore_refused")
        ).all()
    assert [r["reason"][:40] for r in refusals] == [
        f"{home} is not empty"[:40],
        "officer-1 (operator) may not system main"[:40],
    ]
    assert all(r["authenticated"] is False for r in refusals)
    assert verify_audit(deployment.acting_as(AUDITOR)).ok
    empty = tmp_path / "empty"
    with pytest.raises(AuthorisationError):
        restore_backup(Settings(home=empty), archive, lambda _: None)
    assert not empty.exists()  # no deployment there: nothing recorded, nothing created
