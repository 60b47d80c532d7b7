"""The disclosure pack: one zip with the report, the evidence hashes, the case's signed audit
extract and the evidence images with every face but the candidate's probe blurred; written
inside the data directory, audited, copied out only where a person names a path."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.faces import Box, FaceEngine
from retroface.faces.face_choice import FaceChoice
from retroface.governance.audit_export import KEY_ENV, check_signed_export
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.media import load_image
from retroface.media.video_reader import SamplingPolicy, iter_frames
from retroface.server import create_server
from retroface.services import App, open_app
from retroface.services.access.users import add_user
from retroface.services.biometrics.sealed_files import (
    decrypt_protected_file,
    read_protected_file,
)
from retroface.services.cases.disclosure import DisclosurePack, disclosure_pack
from retroface.services.operations import keys
from retroface.services.search.photos import search
from retroface.settings import Settings
from retroface.store.data_protection import is_sealed
from retroface.store.models import AuditEvent, Candidate, Face
from tests.api.conftest import login
from tests.conftest import ADMIN, EXAMPLES, OPERATOR, make_ready
from tests.helpers import PASSWORD, TEST_SIGNING_KEY, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data

#: Biden on the left, Obama on the right, a child at the bottom right.
GROUP_PHOTO = EXAMPLES / "knn_examples" / "test" / "obama_and_biden.jpg"
#: A box around Obama's face in the group photo: the face the operator chooses to search.
AROUND_OBAMA = Box(1100, 350, 300, 300)
PACK_FILES = {
    "case-report.pdf",
    "case-report.html",
    "evidence-hashes.csv",
    "audit-extract.jsonl",
    "README.txt",
    "manifest.csv",
}


@pytest.fixture
def lead(app: App) -> tuple[str, Box]:
    """(case, box of the probe face): the operator searched Obama's face in the group photo
    against a gallery holding Obama; only that face was searched (the others never stored)."""
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    report = search(app, case, "g", [GROUP_PHOTO], face_choice=FaceChoice(box=AROUND_OBAMA))
    (probe,) = [p for p in report.probes if p.candidates]
    assert [c.subject for c in probe.candidates] == ["obama"]
    return case, Box(*probe.box)


def _zip(app: App, pack: DisclosurePack) -> zipfile.ZipFile:
    data = read_protected_file(app.cipher, app.settings.home, Path(pack.path))
    assert hashlib.sha256(data).hexdigest() == pack.sha256 and len(data) == pack.size
    return zipfile.ZipFile(io.BytesIO(data))


def _rows(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"))))


def _region(pixels: np.ndarray, box: Box) -> np.ndarray:
    return pixels[box.y : box.y + box.h, box.x : box.x + box.w].astype(np.float32)


def _detail(region: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: texture, edges, features."""
    return float(np.abs(np.diff(region, axis=0)).mean() + np.abs(np.diff(region, axis=1)).mean())


def _overlaps(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def test_the_pack_holds_report_hashes_signed_audit_and_evidence_with_bystanders_blurred(
    app: App, engine: FaceEngine, lead: tuple[str, Box], tmp_path: Path
) -> None:
    case, obama = lead
    pack = disclosure_pack(app, case, TEST_SIGNING_KEY)  # the investigating officer

    path = Path(pack.path)
    assert path.parent == app.settings.home / "exports" / "case-reports"
    assert path.name.startswith("disclosure-pack-") and case not in path.name
    archive = _zip(app, pack)
    evidence_name = "evidence/001-obama_and_biden.png"
    assert set(archive.namelist()) == PACK_FILES | {evidence_name}
    assert (pack.candidates, pack.evidence_files, pack.redacted_images) == (1, 1, 1)

    # The report, as PDF and HTML.
    assert archive.read("case-report.pdf").startswith(b"%PDF-")
    html = archive.read("case-report.html").decode("utf-8")
    assert f"Case report {case}" in html and "<figcaption>probe</figcaption>" in html

    # The evidence as it was searched: name, SHA-256, size.
    original = GROUP_PHOTO.read_bytes()
    assert _rows(archive, "evidence-hashes.csv") == [
        ["file", "sha256", "size", "source_type", "supplied_by"],
        [
            "obama_and_biden.jpg",
            hashlib.sha256(original).hexdigest(),
            str(len(original)),
            "not recorded",  # searched through the library without a source type
            "",
        ],
    ]
    # Every other file of the pack, hashed in the manifest.
    header, *manifest = _rows(archive, "manifest.csv")
    assert header == ["file", "sha256", "size", "source"]
    assert {row[0] for row in manifest} == set(archive.namelist()) - {"manifest.csv"}
    for name, digest, size, source in manifest:
        data = archive.read(name)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, int(size)), name
        assert source == ("obama_and_biden.jpg" if name == evidence_name else "")

    # The case's audit events, signed as the auditor's export is: checks with the key only.
    extract = tmp_path / "audit-extract.jsonl"
    extract.write_bytes(archive.read("audit-extract.jsonl"))
    valid, events, head = check_signed_export(extract, TEST_SIGNING_KEY)
    assert valid and events == pack.audit_events and head == pack.audit_head
    assert not check_signed_export(extract, b"not-the-installation-key-0001")[0]
    with app.unit_of_work() as uow:
        case_events = uow.session.scalars(
            select(AuditEvent.event_hash).where(AuditEvent.case_reference == case)
        ).all()
        written = [
            (e.actor, e.details)
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "report.disclosure_pack_written")
            )
        ]
    assert events == len(case_events) - 1  # all of the case's events but the pack's own
    assert written == [(OPERATOR.username, written[0][1])]
    assert written[0][1]["sha256"] == pack.sha256 and written[0][1]["out"] is None

    # The evidence: Obama's face (the probe) exactly as it was; every other face blurred.
    before = load_image(GROUP_PHOTO).pixels
    with Image.open(io.BytesIO(archive.read(evidence_name))) as image:
        after = np.asarray(image.convert("RGB"))
    assert after.shape == before.shape
    assert np.array_equal(_region(after, obama), _region(before, obama))
    bystanders = [d.box for d in engine.detector.detect(before) if not _overlaps(d.box, obama)]
    assert len(bystanders) == 2 and pack.faces_blurred == 2  # Biden and the child
    biden = min(bystanders, key=lambda b: b.x)
    assert biden.x < obama.x
    for face in bystanders:
        kept, blurred = _detail(_region(before, face)), _detail(_region(after, face))
        print(f"face at {face}: detail {kept:.2f} before, {blurred:.2f} after")
        assert blurred < 0.2 * kept
    assert not engine.detector.detect(after[biden.y - 60 : biden.y + biden.h + 60, :1050])
    # The rest of the photo is untouched.
    assert np.array_equal(after[: obama.y // 2], before[: obama.y // 2])


def test_only_the_team_writes_a_pack_and_a_copy_goes_only_where_a_person_names_it(
    app: App, lead: tuple[str, Box], tmp_path: Path
) -> None:
    case, _ = lead
    add_user(app.acting_as(ADMIN), "officer-9", Role.OPERATOR, PASSWORD)
    outsider = app.acting_as(Principal("officer-9", Role.OPERATOR))
    with pytest.raises(AuthorisationError, match="not on the team"):
        disclosure_pack(outsider, case, TEST_SIGNING_KEY)
    with pytest.raises(InvalidInputError, match="at least 16 bytes"):
        disclosure_pack(app, case, b"short")
    # Attack: the copy named into the data directory, over the database.
    database = app.settings.home / "retroface.db"
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        disclosure_pack(app, case, TEST_SIGNING_KEY, out=database)
    packs = app.settings.home / "exports" / "case-reports"
    assert not list(packs.glob("disclosure-pack-*")), "a refused pack leaves no file"

    out = tmp_path / "for-the-defence" / "pack.zip"
    pack = disclosure_pack(app, case, TEST_SIGNING_KEY, out=out)
    assert pack.out == str(out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == pack.sha256
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with pytest.raises(InvalidInputError, match="exists"):
        disclosure_pack(app, case, TEST_SIGNING_KEY, out=out)
    again = disclosure_pack(app, case, TEST_SIGNING_KEY, out=out, force=True)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == again.sha256
    with app.unit_of_work() as uow:
        outs = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "report.disclosure_pack_written")
        ).all()
    assert [d["out"] for d in outs] == [str(out), str(out)]


def test_evidence_no_longer_as_searched_is_listed_not_packed(app: App, tmp_path: Path) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    folder = tmp_path / "evidence"
    folder.mkdir()
    gone, changed = folder / "cctv-still.jpg", folder / "doorbell.jpg"
    shutil.copy(EXAMPLES / "obama2.jpg", gone)
    shutil.copy(EXAMPLES / "obama.jpg", changed)
    search(app, case, "g", [gone, changed])
    gone.unlink()
    shutil.copy(EXAMPLES / "biden.jpg", changed)  # another photo under the same name

    pack = disclosure_pack(app, case, TEST_SIGNING_KEY)

    archive = _zip(app, pack)
    assert pack.redacted_images == 0 and set(archive.namelist()) == PACK_FILES
    assert sorted(pack.missing) == [
        "cctv-still.jpg: the file is no longer there",
        "doorbell.jpg: the file changed since it was searched (SHA-256 differs)",
    ]
    readme = archive.read("README.txt").decode()
    assert all(m in readme for m in pack.missing)
    assert sorted(r[0] for r in _rows(archive, "evidence-hashes.csv")[1:]) == [
        "cctv-still.jpg",
        "doorbell.jpg",
    ]
    # The report says why the candidate's faces are missing, without a server path.
    html = archive.read("case-report.html").decode("utf-8")
    assert "Faces: not shown (the evidence file can no longer be read" in html
    assert str(tmp_path) not in html and str(tmp_path) not in readme


def test_the_api_returns_the_pack_signed_with_the_servers_key(
    app: App, lead: tuple[str, Box], monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _ = lead
    register_users(app, {OPERATOR: PASSWORD})
    with TestClient(create_server(application=app), raise_server_exceptions=False) as http:
        operator = login(http, OPERATOR.username)
        monkeypatch.delenv(KEY_ENV, raising=False)
        unsigned = http.post(f"/api/v1/cases/{case}/disclosure-pack", headers=operator)
        assert unsigned.status_code == 422 and KEY_ENV in unsigned.json()["detail"]

        monkeypatch.setenv(KEY_ENV, TEST_SIGNING_KEY.decode())
        response = http.post(f"/api/v1/cases/{case}/disclosure-pack", headers=operator)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="disclosure-')
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert set(archive.namelist()) > PACK_FILES
    packs = list((app.settings.home / "exports" / "case-reports").glob("disclosure-pack-*.zip"))
    assert len(packs) == 1  # the refused request wrote none


def test_in_an_encrypted_data_directory_the_pack_is_sealed_like_the_report(
    settings: Settings, engine: FaceEngine, tmp_path: Path
) -> None:
    kek = keys.write_new_key_file(tmp_path / "secrets" / "kek", settings.home)
    application = open_app(settings.with_(key_file=kek), principal=OPERATOR)
    application._engines[repr(application.engine_spec)] = engine
    try:
        make_ready(application)
        keys.encrypt_data_directory(application.acting_as(ADMIN))
        gallery_with(application, "g", {"obama": [EXAMPLES / "obama.jpg"]})
        case = authorised_case(application)
        search(application, case, "g", [EXAMPLES / "obama2.jpg"])

        pack = disclosure_pack(application, case, TEST_SIGNING_KEY)

        stored = Path(pack.path).read_bytes()
        assert is_sealed(stored[:16]) and b"obama2" not in stored  # a thief sees ciphertext
        assert "evidence/001-obama2.png" in _zip(application, pack).namelist()
        # Who may read the report may take a plaintext copy out (audited), as of a report.
        copy = decrypt_protected_file(application, Path(pack.path), tmp_path / "copy.zip")
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == pack.sha256
        # The signed extract went through the data directory's private temp folder only.
        assert not list((settings.home / "tmp").glob("disclosure-*"))
    finally:
        application.close()


def test_in_footage_a_bystander_the_search_never_stored_is_blurred_in_the_frame(
    app: App, data: Path
) -> None:
    """Checked by eye: at 0.2 s Lin-Manuel Miranda sings on the right while Alex Lacamoire
    sits at the piano on the far left, his face about 33 pixels wide (around x 55, y 185),
    too small for the search's detector; the search stores his sighting's best view, from
    another time. Only the pack's stronger detector finds him in this frame."""
    video = data / "video" / "short_hamilton_clip.mp4"
    gallery_with(app, "g", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    case = authorised_case(app)
    search(app, case, "g", [video])

    pack = disclosure_pack(app, case, TEST_SIGNING_KEY)

    archive = _zip(app, pack)
    with app.unit_of_work() as uow:
        probes = {
            round(face.timestamp_s or 0.0, 2): Box(*face.box)
            for face in uow.session.scalars(
                select(Face).where(Face.id.in_(select(Candidate.face_id)))
            )
        }
    stills = sorted(n for n in archive.namelist() if n.startswith("evidence/"))
    assert len(stills) == len(probes) == pack.redacted_images >= 1
    first = min(probes)
    assert first < 1.0 and f"-{first:.2f}s.png" in stills[0]
    frame = next(
        iter_frames(video, SamplingPolicy("all", 0), start_s=max(first - 0.001, 0), end_s=first + 1)
    )
    with Image.open(io.BytesIO(archive.read(stills[0]))) as image:
        after = np.asarray(image.convert("RGB"))
    singer = probes[first]
    assert np.array_equal(_region(after, singer), _region(frame.pixels, singer))
    pianist = Box(55, 185, 33, 33)
    kept, blurred = _detail(_region(frame.pixels, pianist)), _detail(_region(after, pianist))
    print(f"pianist: detail {kept:.2f} before, {blurred:.2f} after")
    assert blurred < 0.3 * kept
