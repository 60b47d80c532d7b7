"""The README's first command works from a bare clone: the shipped demo set, no ../shared."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_process import run_cli
from tests.databases import cli_env

DEMO = Path(__file__).resolve().parents[2] / "demo"


def test_quickstart_on_the_shipped_demo_finds_each_known_person_first_and_the_stranger_nobody(
    tmp_path: Path,
) -> None:
    home = tmp_path / "retroface-data"
    result = run_cli(cli_env(home), "quickstart", DEMO / "gallery", DEMO / "probes", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["errors"] == []
    tops = {Path(p["source"]).name: [c["subject"] for c in p["candidates"]] for p in doc["probes"]}
    assert tops["obama-2009-joint-session.jpg"][0] == "Barack Obama"
    assert tops["biden-2010-blue-room.jpg"][0] == "Joe Biden"
    assert tops["stranger-eileen-collins.jpg"] == []
