"""The command line as a user meets it: real processes, real engine, exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_data

SEARCH_KEYS = {"search_id", "case", "gallery", "threshold", "model", "probes", "errors"}
PROBE_KEYS = {"source", "frame", "box", "quality", "candidates"}


def run_cli(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RETROFACE_HOME": str(home), "RETROFACE_ACTOR": "officer-1"}
    return subprocess.run(
        [sys.executable, "-m", "retroface.cli.main", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("retroface: error:"), result.stderr
    assert fragment in lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def examples(data: Path) -> Path:
    return data / "face_recognition" / "examples"


def test_quickstart_json_follows_the_documented_schema(home: Path, examples: Path) -> None:
    train = examples / "knn_examples" / "train"
    group = examples / "knn_examples" / "test" / "obama_and_biden.jpg"
    result = run_cli(home, "quickstart", train, group, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # exactly one JSON document
    assert set(doc) == SEARCH_KEYS
    assert doc["case"] == "QUICKSTART-DEMO" and doc["errors"] == []
    assert isinstance(doc["threshold"], float) and doc["model"].startswith("dlib_resnet_v1@")
    for probe in doc["probes"]:
        assert set(probe) == PROBE_KEYS
        assert probe["frame"] is None and len(probe["box"]) == 4
        for c in probe["candidates"]:
            assert set(c) == {"rank", "subject", "score"} and c["score"] >= doc["threshold"]
    tops = sorted(p["candidates"][0]["subject"] for p in doc["probes"] if p["candidates"])
    assert tops == ["biden", "obama"]
    # Running it again reuses gallery and case and enrolls nothing twice.
    again = run_cli(home, "quickstart", train, group, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["search_id"] != doc["search_id"]
    shown = run_cli(home, "gallery", "show", "quickstart", "--json")
    assert json.loads(shown.stdout)["images"] == 9


def test_full_workflow_and_refusals(home: Path, examples: Path, tmp_path: Path) -> None:
    assert run_cli(home, "gallery", "create", "custody").returncode == 0
    enrolled = run_cli(
        home,
        "gallery",
        "enroll",
        "custody",
        examples / "obama.jpg",
        examples / "biden.jpg",
        "--json",
    )
    assert json.loads(enrolled.stdout)["enrolled"] == 2
    opened = run_cli(
        home,
        "case",
        "open",
        "OP-7",
        "--purpose",
        "robbery enquiry",
        "--basis",
        "law-enforcement",
        "--offence",
        "robbery",
    )
    assert opened.returncode == 0, opened.stderr

    refused = run_cli(
        home, "search", "--case", "OP-7", "--gallery", "custody", examples / "obama2.jpg"
    )
    assert_one_line_error(refused, "no authorisation")
    assert_one_line_error(
        run_cli(home, "case", "authorise", "OP-7", "--by", "officer-1", "--until", "2999-01-01"),
        "cannot authorise their own case",
    )
    assert_one_line_error(
        run_cli(home, "case", "authorise", "OP-7", "--by", "sgt-2", "--until", "next week"),
        "not a date",
    )
    assert (
        run_cli(
            home, "case", "authorise", "OP-7", "--by", "sgt-2", "--until", "2999-01-01"
        ).returncode
        == 0
    )

    missing = tmp_path / "absent.jpg"
    result = run_cli(
        home,
        "search",
        "--case",
        "OP-7",
        "--gallery",
        "custody",
        examples / "obama2.jpg",
        missing,
        "--json",
    )
    doc = json.loads(result.stdout)
    assert result.returncode == 1  # partial: the good file is searched, the bad one reported
    assert doc["probes"][0]["candidates"][0]["subject"] == "obama"
    assert doc["errors"] == [
        {"source": str(missing), "error": f"{missing}: no such file or folder"}
    ]

    assert_one_line_error(
        run_cli(home, "search", "--case", "OP-7", "--gallery", "nope", examples / "obama2.jpg"),
        "no gallery named 'nope'",
    )
    assert_one_line_error(
        run_cli(
            home,
            "search",
            "--case",
            "OP-7",
            "--gallery",
            "custody",
            "--threshold",
            "3",
            examples / "obama2.jpg",
        ),
        "threshold",
    )
    text = run_cli(
        home, "search", "--case", "OP-7", "--gallery", "custody", examples / "obama2.jpg"
    )
    assert "1. obama" in text.stdout and "not an identification" in text.stdout


def test_verify_and_its_errors(home: Path, examples: Path, tmp_path: Path) -> None:
    same = run_cli(home, "verify", examples / "obama.jpg", examples / "obama2.jpg", "--json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["same_person_above_threshold"] is True
    different = run_cli(home, "verify", examples / "obama.jpg", examples / "biden.jpg", "--json")
    assert json.loads(different.stdout)["same_person_above_threshold"] is False

    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    assert_one_line_error(run_cli(home, "verify", examples / "obama.jpg", blank), "no face found")
    notes = tmp_path / "notes.jpg"
    notes.write_text("hello")
    assert_one_line_error(run_cli(home, "verify", notes, examples / "obama.jpg"), "not an image")


def test_user_mistakes_in_gallery_commands(home: Path, tmp_path: Path) -> None:
    assert_one_line_error(run_cli(home, "gallery", "show", "ghost"), "no gallery named 'ghost'")
    run_cli(home, "gallery", "create", "g")
    assert_one_line_error(run_cli(home, "gallery", "create", "g"), "already exists")
    assert_one_line_error(
        run_cli(home, "gallery", "enroll", "g", tmp_path / "nowhere"), "no such file or folder"
    )
    usage = run_cli(home, "no-such-command")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
