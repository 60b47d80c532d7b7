"""Run the real CLI as another process: to completion, or started and later killed outright.

A killed command is killed with its whole process group (its worker processes
too), as a power cut or the out-of-memory killer would: SIGKILL gives it no
chance to clean up.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.databases import cli_env
from tests.helpers import PASSWORD


def cli_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "retroface.cli.main", *map(str, args)]


def user_env(home: Path, user: str, **extra: str) -> dict[str, str]:
    return cli_env(home, RETROFACE_USER=user, RETROFACE_PASSWORD=PASSWORD, **extra)


def run_cli(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args), env=env, capture_output=True, text=True, timeout=300, check=False
    )


def run_cli_json(env: dict[str, str], *args: str | Path, exit_code: int = 0) -> Any:
    """Run with --json; the exit code must be ``exit_code`` and stdout one JSON document."""
    result = run_cli(env, *args, "--json")
    assert result.returncode == exit_code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def start_cli(env: dict[str, str], *args: str | Path) -> subprocess.Popen[bytes]:
    """Start a command in its own process group (so it can be killed with its workers)."""
    return subprocess.Popen(
        cli_command(*args),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command and every process it started."""
    with contextlib.suppress(ProcessLookupError):  # it had finished
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
