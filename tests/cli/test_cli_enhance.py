"""``retroface search --enhance``: a bad step is a one-line error a person can act on, given
before anything is opened (no log-in, no engine, no evidence read)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import assert_one_line_error, run_cli


def test_a_bad_enhancement_step_is_refused_in_one_line(tmp_path: Path) -> None:
    search = ("search", tmp_path / "still.png", "--case", "C-1", "--gallery", "g")
    search += ("--source-type", "cctv", "--supplied-by", "PC 1")
    home = tmp_path / "home"
    bad = ("--enhance", "sharpen", "--enhance", "gamma:20")
    assert_one_line_error(run_cli(home, *search, *bad), "gamma must be between 0.1 and 10, got 20")
    steps = tmp_path / "steps.json"
    steps.write_text('[{"op": "gamma", "gamma": 0.8}]', encoding="utf-8")
    both = ("--enhance", "gamma:0.8", "--enhance-file", steps)
    assert_one_line_error(run_cli(home, *search, *both), "not both")
