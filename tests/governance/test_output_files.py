"""A file a person asks for is never written into the data directory or over the database,
whatever name leads there, and never over an existing file unless they say so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retroface.errors import InvalidInputError
from retroface.governance.output_files import (
    check_output_file,
    check_output_folder,
    inside_data_directory,
)
from retroface.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "data"
    (home / "index").mkdir(parents=True)
    (home / "retroface.sqlite3").write_bytes(b"SQLite format 3\x00")
    return Settings(home=home)


def test_paths_into_the_data_directory_are_inside_by_any_name(
    settings: Settings, tmp_path: Path
) -> None:
    home = settings.home
    link = tmp_path / "innocent-looking"
    link.symlink_to(home)
    for path in (
        home / "retroface.sqlite3",
        home / "index" / "new.jsonl",
        tmp_path / "data" / ".." / "data" / "x",
        link / "retroface.sqlite3",
    ):
        assert inside_data_directory(path, settings), path
    assert not inside_data_directory(tmp_path / "export.jsonl", settings)


def test_a_database_kept_outside_the_data_directory_is_protected_too(tmp_path: Path) -> None:
    database = tmp_path / "db" / "live.sqlite3"
    database.parent.mkdir()
    database.write_bytes(b"SQLite format 3\x00")
    settings = Settings(home=tmp_path / "data", database_url=f"sqlite:///{database}")
    hard_link = tmp_path / "copy-of-nothing.jsonl"
    os.link(database, hard_link)
    for path in (database, tmp_path / "db" / "live.sqlite3-wal", hard_link):
        assert inside_data_directory(path, settings), path
    assert not inside_data_directory(tmp_path / "db" / "report.md", settings)
    server = Settings(home=tmp_path / "data", database_url="postgresql+psycopg://u@h/db")
    assert not inside_data_directory(database, server)


def test_an_existing_file_is_replaced_only_with_force(settings: Settings, tmp_path: Path) -> None:
    existing = tmp_path / "report.md"
    existing.write_text("kept")
    with pytest.raises(InvalidInputError, match="--force"):
        check_output_file(existing, settings, "report", force=False)
    check_output_file(existing, settings, "report", force=True)
    check_output_file(tmp_path / "new.md", settings, "report", force=False)
    with pytest.raises(InvalidInputError, match="is a folder"):
        check_output_file(tmp_path, settings, "report", force=True)
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        check_output_file(settings.home / "retroface.sqlite3", settings, "report", force=True)


def test_a_report_folder_is_new_or_empty_or_its_files_new_unless_forced(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "plots"
    check_output_folder(folder, settings, "plots", None, force=False)  # not there yet
    folder.mkdir()
    check_output_folder(folder, settings, "plots", None, force=False)  # empty
    (folder / "index.html").write_text("an earlier run")
    with pytest.raises(InvalidInputError, match=r"already holds index\.html"):
        check_output_folder(folder, settings, "plots", None, force=False)
    check_output_folder(folder, settings, "plots", None, force=True)
    check_output_folder(folder, settings, "report", ["other.md"], force=False)
    with pytest.raises(InvalidInputError, match="already holds"):
        check_output_folder(folder, settings, "report", ["index.html"], force=False)
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        check_output_folder(settings.home / "index", settings, "report", None, force=True)
