"""``retroface gallery duplicates`` / ``duplicate-decide`` / ``duplicate-undo`` as a supervisor."""

from __future__ import annotations

import pytest

from retroface.services import App
from tests.cli_process import run_cli, run_cli_json, user_env
from tests.conftest import EXAMPLES, SUPERVISOR
from tests.helpers import PASSWORD, gallery_with, register_users

pytestmark = pytest.mark.needs_data


def test_a_supervisor_scans_merges_and_undoes_from_the_command_line(app: App) -> None:
    register_users(app, {SUPERVISOR: PASSWORD})
    gallery_with(
        app,
        "custody",
        {
            "barack obama": [EXAMPLES / "obama.jpg"],
            "b. obama (alias)": [EXAMPLES / "obama2.jpg"],
            "joe biden": [EXAMPLES / "biden.jpg"],
        },
    )
    sergeant = user_env(app.settings.home, SUPERVISOR.username)
    report = run_cli_json(sergeant, "gallery", "duplicates", "custody")
    assert [{p["subject_a"], p["subject_b"]} for p in report["pairs"]] == [
        {"barack obama", "b. obama (alias)"}
    ]
    wrong = run_cli(
        sergeant, "gallery", "duplicate-decide", "custody", "barack obama", "joe biden",
        "--decision", "same", "--reason", "x",
    )  # fmt: skip
    assert wrong.returncode == 1 and "decision must be one of" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    merged = run_cli(
        sergeant, "gallery", "duplicate-decide", "custody", "barack obama", "b. obama (alias)",
        "--decision", "merge", "--reason", "same person, second arrest under an alias",
    )  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    assert "merge (1 image(s) moved)" in merged.stdout
    undone = run_cli(sergeant, "gallery", "duplicate-undo", "1", "--reason", "wrong record")
    assert undone.returncode == 0 and "Withdrew decision 1 (merge)" in undone.stdout
