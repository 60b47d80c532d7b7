"""``retroface case disclosure-pack``: the investigating officer writes the pack from the
command line; a plaintext copy leaves the data directory only to a path they name."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from retroface.services import App, open_app
from retroface.services.biometrics.sealed_files import read_protected_file
from retroface.services.search.photos import search
from retroface.settings import Settings
from tests.cli_process import run_cli, run_cli_json, user_env
from tests.conftest import EXAMPLES, OPERATOR, make_ready
from tests.helpers import PASSWORD, TEST_SIGNING_KEY, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data


@pytest.fixture
def case_with_lead(settings: Settings) -> Iterator[tuple[App, str]]:
    """An installation where officer-1 (who logs in) searched a photo that gave a lead."""
    app = make_ready(open_app(settings, principal=OPERATOR))
    register_users(app, {OPERATOR: PASSWORD})
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    search(app, case, "g", [EXAMPLES / "obama2.jpg"])
    yield app, case
    app.close()


def _one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("retroface: error:"), result.stderr
    assert fragment in lines[0] and "Traceback" not in result.stderr


def test_the_officer_writes_the_pack_and_names_where_its_copy_goes(
    case_with_lead: tuple[App, str], tmp_path: Path
) -> None:
    app, case = case_with_lead
    home = app.settings.home
    officer = user_env(home, OPERATOR.username)
    _one_line_error(run_cli(officer, "case", "disclosure-pack", case), "RETROFACE_AUDIT_KEY")

    key_file = tmp_path / "audit.key"
    key_file.write_bytes(TEST_SIGNING_KEY)
    _one_line_error(
        run_cli(
            officer,
            "case",
            "disclosure-pack",
            case,
            "--key-file",
            key_file,
            "--out",
            home / "pack.zip",
        ),
        "inside the data directory",
    )

    out = tmp_path / "disclosure" / "pack.zip"
    pack = run_cli_json(
        officer, "case", "disclosure-pack", case, "--key-file", key_file, "--out", out
    )
    kept = Path(pack["path"])
    assert kept.parent == home / "exports" / "case-reports" and pack["out"] == str(out)
    data = out.read_bytes()
    assert hashlib.sha256(data).hexdigest() == pack["sha256"]
    assert read_protected_file(app.cipher, home, kept) == data
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"case-report.pdf", "case-report.html", "audit-extract.jsonl"} < set(names)
    assert "evidence/001-obama2.png" in names

    printed = run_cli(
        officer | {"RETROFACE_AUDIT_KEY": TEST_SIGNING_KEY.decode()},
        "case",
        "disclosure-pack",
        case,
    )
    assert printed.returncode == 0, printed.stderr
    assert "1 candidates, 1 evidence files, 1 images" in printed.stdout
    assert "disclosure-pack-" in printed.stdout and "copied to" not in printed.stdout
