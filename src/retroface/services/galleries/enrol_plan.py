"""Turn what a user points at into (subject, image file) pairs to enroll.

Two layouts are understood, as face_recognition users expect: a folder per
identity (``DIR/<subject>/*.jpg``) and loose files named after the person
(``DIR/obama.jpg``). With an explicit subject, every image given is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retroface.errors import InvalidInputError
from retroface.media import image_files_under, is_image_path

MAX_SUBJECT_NAME = 200


@dataclass(frozen=True)
class PlannedImage:
    subject: str
    path: Path


def check_subject_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInputError("a subject name cannot be empty")
    if len(cleaned) > MAX_SUBJECT_NAME:
        raise InvalidInputError(f"a subject name is limited to {MAX_SUBJECT_NAME} characters")
    if any(ord(c) < 32 for c in cleaned):
        raise InvalidInputError("a subject name cannot contain control characters")
    return cleaned


def plan_enrollment(paths: list[Path], subject: str | None = None) -> list[PlannedImage]:
    """Every (subject, file) pair, sorted and de-duplicated; missing paths are errors."""
    for path in paths:
        if not path.exists():
            raise InvalidInputError(f"{path}: no such file or folder")
    planned: list[PlannedImage] = []
    if subject is not None:
        name = check_subject_name(subject)
        for path in paths:
            files = image_files_under(path) if path.is_dir() else [path]
            planned.extend(PlannedImage(name, f) for f in files)
    else:
        for path in paths:
            planned.extend(_plan_path(path))
    unique = {(p.subject, p.path.resolve()): p for p in planned}
    return sorted(unique.values(), key=lambda p: (p.subject, str(p.path)))


def _plan_path(path: Path) -> list[PlannedImage]:
    if path.is_file():
        return [PlannedImage(check_subject_name(path.stem), path)]
    planned: list[PlannedImage] = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            planned.extend(
                PlannedImage(check_subject_name(entry.name), f) for f in image_files_under(entry)
            )
        elif is_image_path(entry):
            planned.append(PlannedImage(check_subject_name(entry.stem), entry))
    return planned
