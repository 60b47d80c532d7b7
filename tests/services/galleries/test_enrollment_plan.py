"""The folder layouts a user can point enrollment at."""

from __future__ import annotations

from pathlib import Path

import pytest

from retroface.errors import InvalidInputError
from retroface.services.galleries.enrol_plan import plan_enrollment


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_per_identity_and_loose_files(tmp_path: Path) -> None:
    _touch(tmp_path / "alice" / "1.jpg")
    _touch(tmp_path / "alice" / "nested" / "2.png")
    _touch(tmp_path / "bob" / "a.jpeg")
    _touch(tmp_path / "carol.jpg")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / ".hidden" / "x.jpg")
    plan = plan_enrollment([tmp_path])
    assert [(p.subject, p.path.name) for p in plan] == [
        ("alice", "1.jpg"),
        ("alice", "2.png"),
        ("bob", "a.jpeg"),
        ("carol", "carol.jpg"),
    ]


def test_explicit_subject_takes_every_image(tmp_path: Path) -> None:
    a = _touch(tmp_path / "x" / "one.jpg")
    b = _touch(tmp_path / "two.jpg")
    plan = plan_enrollment([tmp_path / "x", b], subject=" Dana ")
    assert {(p.subject, p.path) for p in plan} == {("Dana", a), ("Dana", b)}


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        plan_enrollment([tmp_path / "nope"])


def test_empty_subject_name_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        plan_enrollment([_touch(tmp_path / "a.jpg")], subject="  ")
