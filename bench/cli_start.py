"""CLI start time: how long a short ``retroface`` command takes, against ``python -c pass``.

Why this exists: every CLI command is its own process, so whatever the CLI imports at start
is paid by every ``--help``, ``whoami`` or ``case show``. Heavy libraries (dlib, ONNX Runtime,
FAISS, the web stack, matplotlib, Dask, the PDF writer) must load only in the commands that
use them.

What it does, inside a fresh temporary data directory (RETROFACE_HOME; ``./retroface-data``
is never touched): ``retroface init --admin`` and an operator added by the admin, who logs in
(the saved session, as an officer at a terminal works; XDG_CONFIG_HOME, where sessions are
kept, points into the temporary folder too). Then each command below runs ``--runs``
times in its own subprocess, in turn, and the median wall time of each is printed with its
ratio to ``python -c pass`` (the interpreter's own start) and PASS/FAIL against the target:

- ``retroface --help``: the command tree only, <= 0.5 s;
- ``retroface whoami``: opens the data directory and resolves the session, <= 1 s;
- ``retroface case show NOPE``: also checks the role and looks the case up (it does not
  exist: exit code 1 is expected), <= 1 s.

The figures depend on the machine and its load; it prints them and is not a test.

Usage: python bench/cli_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "bench-start-time-password"
OPERATOR = "olu"

#: label, arguments after the executable, target median seconds (None: the baseline), and the
#: exit code and words of the output that show the command did its work
COMMANDS: list[tuple[str, list[str], float | None, int, str]] = [
    ("python -c pass", ["-c", "pass"], None, 0, ""),
    ("retroface --help", ["--help"], 0.5, 0, "case"),
    ("retroface whoami", ["whoami"], 1.0, 0, f"{OPERATOR} (operator)"),
    ("retroface case show NOPE", ["case", "show", "NOPE"], 1.0, 1, "no case 'NOPE'"),
]


def retroface_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("retroface")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "retroface.cli.main"]


def run(command: list[str], env: dict[str, str], expect: int = 0, says: str = "") -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != expect or says not in result.stdout + result.stderr:
        raise SystemExit(
            f"{' '.join(command)} exited {result.returncode} (expected {expect}"
            f"{f' and {says!r}' if says else ''}):\n{result.stdout}{result.stderr}"
        )
    return elapsed


def prepare(env: dict[str, str]) -> None:
    cli = retroface_command()
    run([*cli, "init", "--admin", "admin"], env)
    as_admin = env | {"RETROFACE_USER": "admin", "RETROFACE_NEW_PASSWORD": PASSWORD}
    run([*cli, "user", "add", OPERATOR, "--role", "operator"], as_admin)
    run([*cli, "login", OPERATOR], env)  # whoami below fails unless the session was kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Runs of each command (median).")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="retroface-cli-start-"))
    home = workdir / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    env |= {
        "RETROFACE_HOME": str(home),
        "RETROFACE_PASSWORD": PASSWORD,
        "XDG_CONFIG_HOME": str(workdir / "config"),
    }
    try:
        prepare(env)
        cli = retroface_command()
        times: dict[str, list[float]] = {label: [] for label, *_ in COMMANDS}
        for _ in range(args.runs):  # interleaved, so a burst of load hits every command alike
            for label, argv, _target, expect, says in COMMANDS:
                exe = [sys.executable] if label.startswith("python") else cli
                times[label].append(run([*exe, *argv], env, expect, says))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    baseline = statistics.median(times[COMMANDS[0][0]])
    print(f"median wall time of {args.runs} runs ({os.cpu_count()} cores, {' '.join(cli)})")
    print(f"{'command':<28}{'median s':>10}{'x python':>10}  target")
    failed = False
    for label, _argv, target, *_ in COMMANDS:
        median = statistics.median(times[label])
        verdict = ""
        if target is not None:
            ok = median <= target
            failed |= not ok
            verdict = f"<= {target:.1f} s {'PASS' if ok else 'FAIL'}"
        print(f"{label:<28}{median:>10.3f}{median / baseline:>10.1f}  {verdict}")
    print("all targets met" if not failed else "some targets missed")


if __name__ == "__main__":
    main()
