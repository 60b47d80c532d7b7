"""``retroface audit`` on the command line: the checkpoint key and checkpoints, verify naming a
truncated log, and exports that never write into the data directory or over a file."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from retroface.services import App, open_app
from retroface.services.oversight.audit_log import verify_audit
from retroface.settings import Settings
from tests.cli_process import run_cli, user_env
from tests.conftest import ADMIN, AUDITOR, OPERATOR, make_ready
from tests.helpers import register_users

EXPORT_KEY = "oversight-body-shared-secret-0001"


@pytest.fixture
def installation(settings: Settings) -> Iterator[App]:
    """A ready installation with an admin and an auditor who log in with a password."""
    app = make_ready(open_app(settings, principal=OPERATOR))
    register_users(app, {AUDITOR: "correct horse battery staple"})
    yield app
    app.close()


def _one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("retroface: error:"), result.stderr
    assert fragment in lines[0] and "Traceback" not in result.stderr


def test_checkpoint_key_checkpoint_and_verify_on_the_command_line(
    installation: App, tmp_path: Path
) -> None:
    home = installation.settings.home
    auditor = user_env(home, AUDITOR.username, RETROFACE_AUDIT_KEY=EXPORT_KEY)
    _one_line_error(
        run_cli(auditor, "audit", "checkpoint-key", "generate", home / "cp.pem"),
        "inside the data directory",
    )
    key = tmp_path / "keys" / "cp.pem"
    generated = run_cli(auditor, "audit", "checkpoint-key", "generate", key)
    assert generated.returncode == 0, generated.stderr
    assert "public key: " in generated.stdout and "cp.checkpoints.jsonl" in generated.stdout
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600

    unanchored = run_cli(auditor, "audit", "verify")
    assert unanchored.returncode == 0 and "warning: unanchored" in unanchored.stdout

    anchored = auditor | {"RETROFACE_CHECKPOINT_KEY_FILE": str(key)}
    checkpoint = run_cli(anchored, "audit", "checkpoint")
    assert checkpoint.returncode == 0, checkpoint.stderr
    assert (tmp_path / "keys" / "cp.checkpoints.jsonl").is_file()
    _one_line_error(
        run_cli(anchored | {"RETROFACE_USER": ADMIN.username}, "audit", "verify"),
        "may not audit read",
    )
    verified = run_cli(anchored, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "anchored: 1 signed checkpoint(s)" in verified.stdout

    with installation.db.engine.begin() as conn:  # an insider cuts the log's tail
        on_table = " ON audit_events" if conn.dialect.name == "postgresql" else ""
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_events_no_DELETE{on_table}")
        conn.execute(text("DELETE FROM audit_events WHERE id > 3"))
    truncated = run_cli(anchored, "audit", "verify")
    assert truncated.returncode == 1 and "TAMPERED" in truncated.stdout
    assert "checkpoint problem (truncated)" in truncated.stdout


def test_the_auditors_export_never_overwrites_the_database_or_a_file(
    installation: App, tmp_path: Path
) -> None:
    home = installation.settings.home
    auditor = user_env(home, AUDITOR.username, RETROFACE_AUDIT_KEY=EXPORT_KEY)
    for flags in ((), ("--force",)):
        _one_line_error(
            run_cli(auditor, "audit", "export", home / "retroface.sqlite3", *flags),
            "inside the data directory",
        )
    reopened = open_app(installation.settings, principal=AUDITOR)
    try:
        assert verify_audit(reopened).ok  # the database still opens, its log intact
    finally:
        reopened.close()
    earlier = tmp_path / "audit.jsonl"
    earlier.write_text("the copy sent last month\n")
    _one_line_error(run_cli(auditor, "audit", "export", earlier), "--force")
    assert earlier.read_text() == "the copy sent last month\n"
    replaced = run_cli(auditor, "audit", "export", earlier, "--force")
    assert replaced.returncode == 0, replaced.stderr
    checked = run_cli(auditor, "audit", "check-export", earlier)
    assert checked.returncode == 0 and "signature valid" in checked.stdout
