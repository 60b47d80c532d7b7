"""What a short command loads: every CLI start pays for it (bench/cli_start.py times it).

Wall-clock limits would be flaky on a shared machine, so these tests check the cause instead:
which heavy libraries are in ``sys.modules`` after ``--help`` and after a command that only
opens the data directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from retroface.cli.maintenance_commands import DEFAULT_STALE_AFTER_MINUTES
from retroface.services.operations.doctor import DEFAULT_STALE_AFTER

#: Libraries only some commands need: the face engine, the index, the web stack, plots, the
#: video decoder, the cluster, the report writers, the webhook client, the migrations.
ENGINE_AND_FRIENDS = (
    "numpy",
    "PIL",
    "dlib",
    "onnx",
    "onnxruntime",
    "faiss",
    "av",
    "fastapi",
    "uvicorn",
    "matplotlib",
    "dask",
    "distributed",
    "fpdf",
    "jinja2",
    "httpx",
    "alembic",
)
#: What opening the data directory needs, and --help does not.
DATABASE = ("sqlalchemy", "pydantic", "cryptography", "argon2")

_PROBE = """
import atexit, json, sys
report, watched, args = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
def _report():
    with open(report, "w") as handle:
        json.dump(sorted(m for m in watched if m in sys.modules), handle)
atexit.register(_report)
sys.argv = ["retroface", *args]
from retroface.cli.main import run
run()
"""


def _loaded_by(tmp_path: Path, *args: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """The heavy libraries loaded by one CLI command (SQLite in ``tmp_path``, nobody logged in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    env["RETROFACE_HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # where a login would keep its session
    report = tmp_path / "loaded.json"
    watched = json.dumps([*ENGINE_AND_FRIENDS, *DATABASE])
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), watched, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(report.read_text()), result


def test_help_loads_no_database_engine_or_web_library(tmp_path: Path) -> None:
    loaded, result = _loaded_by(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "case" in result.stdout
    assert loaded == []


def test_a_command_that_opens_the_data_directory_loads_no_engine_index_or_migrations(
    tmp_path: Path,
) -> None:
    _, created = _loaded_by(tmp_path, "init")  # creates the database (Alembic runs here)
    assert created.returncode == 0, created.stderr
    loaded, result = _loaded_by(tmp_path, "whoami")
    assert result.returncode == 1 and "not logged in" in result.stderr, result.stderr
    assert "sqlalchemy" in loaded  # it did open the database
    assert not set(ENGINE_AND_FRIENDS) & set(loaded)


def test_the_doctor_default_written_in_the_cli_is_the_services() -> None:
    assert DEFAULT_STALE_AFTER.total_seconds() / 60 == DEFAULT_STALE_AFTER_MINUTES
