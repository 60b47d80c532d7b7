"""Read watchlist provenance for a bulk enrollment from a CSV file (one row per subject).

Columns: ``subject, category, source_system, record_id, holding_basis``
(required) and ``taken_on, date_of_birth, under_18_reason,
retention_class, labels`` (optional; dates as YYYY-MM-DD, labels as
``key=value;key=value``). Errors name the line, so a person can fix the file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from retroface.errors import InvalidInputError
from retroface.governance.watchlist_policy import DEFAULT_RETENTION_CLASS, SubjectProvenance
from retroface.media.csv_sheets import parse_sheet, read_sheet

REQUIRED = ("subject", "category", "source_system", "record_id", "holding_basis")


def parse_labels(text: str) -> dict[str, str]:
    """``key=value;key=value`` → dict; an empty string is no labels."""
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInputError(f"a label must look like key=value, got {part!r}")
        labels[key.strip()] = value.strip()
    return labels


def parse_day(text: str, what: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInputError(f"{what} must be a date YYYY-MM-DD, got {text!r}") from exc


def read_provenance_csv(path: Path) -> dict[str, SubjectProvenance]:
    return _provenances(read_sheet(path, "provenance", REQUIRED), str(path))


def parse_provenance_sheet(data: bytes, name: str) -> dict[str, SubjectProvenance]:
    """An uploaded provenance sheet (the web's enrolment form), read from its bytes: the
    same columns and checks as :func:`read_provenance_csv`; errors name the upload."""
    return _provenances(parse_sheet(data, name, "provenance", REQUIRED), name)


def _provenances(rows: list[dict[str, str]], source: str) -> dict[str, SubjectProvenance]:
    found: dict[str, SubjectProvenance] = {}
    for line, raw in enumerate(rows, start=2):
        row = {key: (value or "").strip() for key, value in raw.items() if key}
        where = f"{source}:{line}"
        name = _cell(row, "subject")
        if not name:
            raise InvalidInputError(f"{where}: the subject column is empty")
        if name in found:
            raise InvalidInputError(f"{where}: subject {name!r} appears twice")
        try:
            found[name] = SubjectProvenance(
                category=_cell(row, "category"),
                source_system=_cell(row, "source_system"),
                record_id=_cell(row, "record_id"),
                holding_basis=_cell(row, "holding_basis"),
                taken_on=parse_day(_cell(row, "taken_on"), "taken_on"),
                date_of_birth=parse_day(_cell(row, "date_of_birth"), "date_of_birth"),
                under_18_reason=_cell(row, "under_18_reason") or None,
                retention_class=_cell(row, "retention_class") or DEFAULT_RETENTION_CLASS,
                labels=parse_labels(_cell(row, "labels")),
            )
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {exc}") from exc
    return found


def _cell(row: dict[str, str], key: str) -> str:
    return row.get(key, "")


def photo_subjects(photo_names: list[str], sheet: dict[str, SubjectProvenance]) -> list[str]:
    """The subject of each uploaded photo, for an enrolment by upload with a provenance
    sheet: a one-row sheet is one person, every photo theirs; otherwise each photo is named
    after its subject (``obama.jpg`` is the sheet's ``obama``), as the CLI's loose-file
    layout (services/galleries/enrol_plan.py). A photo that names nobody in the sheet is
    an error naming it, before anything is stored."""
    if len(sheet) == 1:
        (only,) = sheet
        return [only] * len(photo_names)
    subjects = []
    for name in photo_names:
        stem = Path(name.replace("\\", "/")).stem
        if stem not in sheet:
            known = ", ".join(sorted(sheet)[:5]) + (" ..." if len(sheet) > 5 else "")
            raise InvalidInputError(
                f"{name}: no row for {stem!r} in the provenance sheet; name each photo after "
                f"its subject (the sheet names {known}), or upload one subject at a time"
            )
        subjects.append(stem)
    return subjects
