"""Encryption at rest with real faces: a copied data directory (or the database's raw column
bytes) holds no template, the right key is needed, keys rotate, a plaintext directory is
converted, and altered ciphertext is a clear error."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from retroface.errors import AuthorisationError, DataIntegrityError, DataKeyError
from retroface.faces import FaceEngine
from retroface.faces.face_choice import FaceChoice
from retroface.media import load_image
from retroface.server import create_server
from retroface.services import App, open_app
from retroface.services.biometrics.gallery_index import forget_held_indexes
from retroface.services.biometrics.sealed_files import decrypt_protected_file, protected_files
from retroface.services.cases.report import case_report
from retroface.services.galleries.manage import set_live_watchlist
from retroface.services.live.deployments import list_live_alerts
from retroface.services.live.run import LiveOptions, run_live
from retroface.services.operations import keys
from retroface.services.search.photos import search
from retroface.settings import Settings
from retroface.store.data_protection import (
    HEADER_BYTES,
    is_sealed,
    load_key_encryption_key,
    sealed_key_id,
)
from retroface.store.models import AuditEvent, Template
from tests.conftest import ADMIN, AUDITOR, OPERATOR, REVIEWER, SUPERVISOR, make_ready
from tests.databases import cli_env
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    live_deployment,
    register_users,
)

pytestmark = pytest.mark.needs_data


@pytest.fixture
def key_files(tmp_path: Path, settings: Settings) -> tuple[Path, Path]:
    """Two key-encryption keys, kept outside the data directory."""
    first = keys.write_new_key_file(tmp_path / "secrets" / "kek-1", settings.home)
    second = keys.write_new_key_file(tmp_path / "secrets" / "kek-2", settings.home)
    return first, second


def _open(settings: Settings, engine: FaceEngine, key: Path | None) -> App:
    application = open_app(settings.with_(key_file=key), principal=OPERATOR)
    application._engines[repr(application.engine_spec)] = engine  # share the loaded models
    return application


@pytest.fixture
def politicians(data: Path) -> dict[str, list[Path]]:
    examples = data / "face_recognition" / "examples"
    return {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]}


@pytest.fixture
def encrypted(
    settings: Settings,
    engine: FaceEngine,
    key_files: tuple[Path, Path],
    politicians: dict[str, list[Path]],
) -> Iterator[App]:
    """A deployment encrypted from the start, with Obama and Biden enrolled."""
    application = make_ready(_open(settings, engine, key_files[0]))
    keys.encrypt_data_directory(application.acting_as(ADMIN))
    gallery_with(application, "politicians", politicians)
    yield application
    application.close()


def _group_photo(data: Path) -> Path:
    return data / "face_recognition" / "examples" / "knn_examples" / "test" / "obama_and_biden.jpg"


def _leads(application: App, data: Path, reference: str | None = None) -> list[str]:
    """Search the group photo: the top candidate per face with a lead, left to right."""
    case = authorised_case(application, reference or f"CASE-{uuid.uuid4().hex[:8]}")
    everyone = FaceChoice(all_faces_reason="every face of the group photo")
    report = search(application, case, "politicians", [_group_photo(data)], face_choice=everyone)
    with_leads = sorted((p for p in report.probes if p.candidates), key=lambda p: p.box[0])
    return [p.candidates[0].subject for p in with_leads]


def _audit(application: App, action: str) -> list[dict[str, object]]:
    with application.unit_of_work() as uow:
        return list(
            uow.session.scalars(select(AuditEvent.details).where(AuditEvent.action == action))
        )


def _recomputed(engine: FaceEngine, paths: list[Path]) -> list[np.ndarray]:
    """The float32 embeddings of the enrolled photos, computed afresh with the engine."""
    return [f.embedding for p in paths for f in engine.analyse(load_image(p).pixels)]


def _stored_vectors(application: App) -> list[np.ndarray]:
    with application.unit_of_work() as uow:
        rows = uow.session.execute(select(Template.face_id, Template.vector)).all()
        return [uow.templates.vector_of(face_id, blob) for face_id, blob in rows]


def _at_rest(application: App, copy_to: Path) -> bytes:
    """What a thief gets: every file of a copy of the data directory (the SQLite file, its
    log, the index files, exports) and, on PostgreSQL, the templates' raw column bytes."""
    shutil.copytree(application.settings.home, copy_to)
    parts = [p.read_bytes() for p in sorted(copy_to.rglob("*")) if p.is_file()]
    if application.db.engine.dialect.name != "sqlite":
        with application.db.engine.connect() as connection:
            rows = connection.execute(text("SELECT vector FROM templates")).scalars()
            parts += [bytes(v) for v in rows]
    return b"\0".join(parts)


def _windows_found(blob: bytes, vectors: list[np.ndarray]) -> int:
    """How many 16-byte windows (at any offset) of the float32 vectors occur in ``blob``."""
    found = 0
    for vector in vectors:
        raw = np.asarray(vector, dtype=np.float32).tobytes()
        found += sum(raw[i : i + 16] in blob for i in range(len(raw) - 15))
    return found


def _raw_template_blobs(application: App) -> dict[int, bytes]:
    with application.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, vector FROM templates ORDER BY id")).all()
    return {int(i): bytes(v) for i, v in rows}


def test_a_copied_data_directory_reveals_no_template_and_search_still_works(
    encrypted: App,
    engine: FaceEngine,
    data: Path,
    tmp_path: Path,
    politicians: dict[str, list[Path]],
) -> None:
    assert _leads(encrypted, data) == ["biden", "obama"]  # probe templates are stored too

    stored = _raw_template_blobs(encrypted)
    assert len(stored) >= 4 and all(is_sealed(b) for b in stored.values())
    index_files = sorted(encrypted.settings.index_dir.glob("*.faiss"))
    assert index_files and all(is_sealed(p.read_bytes()) for p in index_files)
    assert all(json.loads(p.with_suffix(".json").read_text())["sealed"] for p in index_files)

    stolen = _at_rest(encrypted, tmp_path / "stolen-copy")
    recomputed = _recomputed(engine, [p for ps in politicians.values() for p in ps])
    assert _windows_found(stolen, _stored_vectors(encrypted)) == 0
    assert _windows_found(stolen, recomputed) == 0

    status = keys.key_status(encrypted.acting_as(ADMIN))
    assert status.encrypted and status.algorithm == "AES-256-GCM"
    assert status.templates.current_key == len(stored) and status.templates.plaintext == 0
    assert status.index_files.current_key == len(index_files)


def test_an_encrypted_directory_needs_its_key(
    encrypted: App, engine: FaceEngine, key_files: tuple[Path, Path], data: Path
) -> None:
    settings = encrypted.settings
    with pytest.raises(DataKeyError, match="is encrypted: set RETROFACE_KEY_FILE"):
        open_app(settings.with_(key_file=None))
    with pytest.raises(DataKeyError, match="does not open this data directory"):
        open_app(settings.with_(key_file=key_files[1]))
    as_text = key_files[0].read_text().strip()
    forget_held_indexes()  # a fresh process: the index comes from its sealed file
    again = _open(settings.with_(master_key=as_text), engine, None)
    try:
        assert _leads(make_ready(again), data) == ["biden", "obama"]
    finally:
        again.close()
    inside = settings.home / "kek"
    inside.write_bytes(base64.b64decode(as_text))
    with pytest.raises(DataKeyError, match="inside the data directory"):
        open_app(settings.with_(key_file=inside))


def test_rotating_the_key_encryption_key_retires_the_old_one(
    encrypted: App, engine: FaceEngine, key_files: tuple[Path, Path], data: Path
) -> None:
    old, new = key_files
    before = _raw_template_blobs(encrypted)
    report = keys.rotate_key_encryption_key(
        encrypted.acting_as(ADMIN), load_key_encryption_key(new, None)
    )
    assert report.templates_sealed == 0 and _raw_template_blobs(encrypted) == before  # re-wrap
    with pytest.raises(DataKeyError, match="does not open"):
        open_app(encrypted.settings.with_(key_file=old))
    forget_held_indexes()
    rotated = _open(encrypted.settings, engine, new)
    try:
        assert _leads(rotated, data) == ["biden", "obama"]
        [event] = _audit(rotated, "keys.kek_rotated")
        assert event["kek_id"] == report.status.kek_id != event["previous_kek_id"]
    finally:
        rotated.close()


def test_rotating_the_data_key_re_encrypts_everything_and_resumes_when_killed(
    encrypted: App, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = encrypted.acting_as(ADMIN)
    assert _leads(encrypted, data) == ["biden", "obama"]
    old_key = keys.key_status(admin).key_id
    before = _raw_template_blobs(encrypted)
    index_before = {p: p.read_bytes() for p in encrypted.settings.index_dir.glob("*.faiss")}

    def killed(*_: object) -> int:
        raise KeyboardInterrupt  # the process dies after the templates, before the index files

    monkeypatch.setattr(keys, "_seal_index_file", killed)
    with pytest.raises(KeyboardInterrupt):
        keys.rotate_data_key(admin)
    monkeypatch.undo()
    halfway = keys.key_status(admin)
    new_key = halfway.key_id
    assert new_key != old_key and {k.key_id for k in halfway.data_keys} == {old_key, new_key}
    assert halfway.index_files.older_key == len(index_before) and halfway.notes
    forget_held_indexes()
    assert _leads(encrypted, data) == ["biden", "obama"]  # both keys still open everything

    report = keys.rotate_data_key(admin)  # resumes: no third key
    assert report.status.key_id == new_key and [k.key_id for k in report.status.data_keys] == [
        new_key
    ]
    after = _raw_template_blobs(encrypted)
    assert set(after) >= set(before)
    assert all(after[i] != before[i] and sealed_key_id(after[i]) == new_key for i in before)
    assert all(p.read_bytes() != b for p, b in index_before.items())
    assert report.status.templates.older_key == report.status.index_files.older_key == 0
    forget_held_indexes()
    assert _leads(encrypted, data) == ["biden", "obama"]
    [started] = _audit(encrypted, "keys.data_key_rotation_started")
    [finished] = _audit(encrypted, "keys.data_key_rotated")
    assert started["previous_key_id"] == old_key and finished["retired_key_ids"] == [old_key]


def test_an_existing_plaintext_directory_is_converted_in_one_resumable_command(
    settings: Settings,
    engine: FaceEngine,
    key_files: tuple[Path, Path],
    data: Path,
    tmp_path: Path,
    politicians: dict[str, list[Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = make_ready(_open(settings, engine, None))
    gallery_with(plain, "politicians", politicians)
    assert _leads(plain, data, "CASE-0") == ["biden", "obama"]
    report_files = case_report(plain.acting_as(REVIEWER), "CASE-0")
    plain.close()
    recomputed = _recomputed(engine, [p for ps in politicians.values() for p in ps])

    application = _open(settings, engine, key_files[0])
    try:
        before = _at_rest(application, tmp_path / "before")
        assert _windows_found(before, recomputed) > 0  # the control: in clear, they are there
        assert keys.key_status(application.acting_as(ADMIN)).templates.plaintext >= 4

        monkeypatch.setattr(keys, "BATCH_ROWS", 1)
        sealed_rows = []

        def killed_on_second_batch(face_id: int) -> bytes:
            sealed_rows.append(face_id)
            if len(sealed_rows) == 2:
                raise KeyboardInterrupt
            return f"template:face={face_id}".encode()

        monkeypatch.setattr(keys, "template_associated", killed_on_second_batch)
        with pytest.raises(KeyboardInterrupt):
            keys.encrypt_data_directory(application.acting_as(ADMIN))
        monkeypatch.undo()
        halfway = keys.key_status(application.acting_as(ADMIN))
        assert halfway.state == "converting" and halfway.templates.current_key == 1
        forget_held_indexes()
        assert _leads(application, data) == ["biden", "obama"]  # mixed, and readable

        report = keys.encrypt_data_directory(application.acting_as(ADMIN))  # resumes
        assert report.status.encrypted and report.status.templates.plaintext == 0
        assert report.status.index_files.plaintext == report.status.files.plaintext == 0
        after = _at_rest(application, tmp_path / "after")
        assert _windows_found(after, recomputed) == 0
        assert _windows_found(after, _stored_vectors(application)) == 0
        assert len(_audit(application, "keys.encryption_started")) == 1
        assert len(_audit(application, "keys.encryption_enabled")) == 1

        files = protected_files(settings.home)
        assert {str(p) for p in files} >= {report_files.html, report_files.pdf}
        assert all(is_sealed(p.read_bytes()[:HEADER_BYTES]) for p in files)
        copy = decrypt_protected_file(
            application.acting_as(REVIEWER), Path(report_files.pdf), tmp_path / "report.pdf"
        )
        assert copy.read_bytes().startswith(b"%PDF")
        with pytest.raises(AuthorisationError, match="may not"):
            decrypt_protected_file(application.acting_as(ADMIN), Path(report_files.pdf), copy)
        assert _leads(application, data) == ["biden", "obama"]
    finally:
        application.close()


def test_altered_or_swapped_ciphertext_is_a_clear_error(encrypted: App, data: Path) -> None:
    blobs = _raw_template_blobs(encrypted)
    first, second = sorted(blobs)[:2]

    def rebuild_and_search() -> list[str]:
        forget_held_indexes()
        for path in encrypted.settings.index_dir.glob("*"):
            path.unlink()
        return _leads(encrypted, data)

    def store(template_id: int, blob: bytes) -> None:
        with encrypted.unit_of_work() as uow:
            uow.session.execute(
                update(Template).where(Template.id == template_id).values(vector=blob)
            )
            uow.commit()

    flipped = blobs[first][:-1] + bytes([blobs[first][-1] ^ 0x01])
    store(first, flipped)
    with pytest.raises(DataIntegrityError, match="failed its integrity check"):
        rebuild_and_search()
    store(first, blobs[second])  # another face's template, intact but in the wrong row
    with pytest.raises(DataIntegrityError, match="failed its integrity check"):
        rebuild_and_search()
    store(first, np.ones(128, dtype=np.float32).tobytes())  # planted in clear
    with pytest.raises(DataIntegrityError, match="stored unencrypted"):
        rebuild_and_search()
    store(first, blobs[first])
    assert rebuild_and_search() == ["biden", "obama"]

    index_file = next(encrypted.settings.index_dir.glob("*.faiss"))
    index_file.write_bytes(index_file.read_bytes()[:-1] + b"\0")  # a derived file: rebuilt
    forget_held_indexes()
    assert _leads(encrypted, data) == ["biden", "obama"]


def test_the_server_sends_a_sealed_case_report_in_clear(encrypted: App, data: Path) -> None:
    assert _leads(encrypted, data, "CASE-R") == ["biden", "obama"]
    register_users(encrypted, {AUDITOR: PASSWORD})
    with TestClient(create_server(application=encrypted)) as http:
        token = http.post(
            "/api/v1/auth/login", json={"username": AUDITOR.username, "password": PASSWORD}
        ).json()["token"]
        response = http.post(
            "/api/v1/cases/CASE-R/report", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    written = protected_files(encrypted.settings.home)
    assert len(written) == 2 and all(is_sealed(p.read_bytes()) for p in written)


def _cli(home: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", *map(str, args)],
        env=cli_env(home, RETROFACE_PASSWORD=PASSWORD, **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("retroface: error:") and fragment in lines[0]


def test_key_commands_on_the_command_line(settings: Settings, tmp_path: Path) -> None:
    home = settings.home
    kek = tmp_path / "kek"
    assert _cli(home, "keys", "generate", kek).returncode == 0
    assert kek.stat().st_mode & 0o077 == 0  # readable by its owner only
    _one_line_error(_cli(home, "keys", "generate", home / "kek"), "inside the data directory")
    assert _cli(home, "init", "--admin", "admin-5").returncode == 0
    with_key = {"RETROFACE_KEY_FILE": str(kek), "RETROFACE_USER": "admin-5"}
    done = _cli(home, "keys", "init", "--json", **with_key)
    assert done.returncode == 0, done.stderr
    status = json.loads(_cli(home, "keys", "status", "--json", **with_key).stdout)
    assert status["encrypted"] and status["key_id"] and "wrapped" not in json.dumps(status)
    _one_line_error(_cli(home, "keys", "status", RETROFACE_USER="admin-5"), "is encrypted")
    other = tmp_path / "other-kek"
    assert _cli(home, "keys", "generate", other).returncode == 0
    wrong = _cli(home, "keys", "status", RETROFACE_KEY_FILE=str(other), RETROFACE_USER="admin-5")
    _one_line_error(wrong, "does not open")
    assert kek.read_text().strip() not in wrong.stderr + done.stdout


def test_live_alert_crops_are_sealed_and_the_queue_still_shows_them(
    encrypted: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(encrypted, "wl", {"lin-manuel-miranda": [examples / "lin-manuel-miranda.png"]})
    supervisor = encrypted.acting_as(SUPERVISOR)
    set_live_watchlist(supervisor, "wl", True)
    live_deployment(supervisor, "LFR-SEALED", "wl")
    clip = data / "video" / "short_hamilton_clip.mp4"
    assert run_live(encrypted, "LFR-SEALED", str(clip), options=LiveOptions(max_seconds=3)).alerts
    with encrypted.db.engine.connect() as connection:
        raw = [bytes(c) for c in connection.execute(text("SELECT crop_jpeg FROM live_alerts"))
               .scalars()]  # fmt: skip
    assert raw and all(is_sealed(c) and b"JFIF" not in c for c in raw)
    shown = list_live_alerts(encrypted, "LFR-SEALED", with_crops=True)
    assert all(base64.b64decode(a.crop_jpeg_base64 or "")[:2] == b"\xff\xd8" for a in shown)
