"""Settings: defaults unless from_env() is asked, and a bad variable is one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from retroface.errors import InvalidInputError
from retroface.settings import Settings


def test_the_constructor_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFACE_JITTERS", "1")
    monkeypatch.setenv("RETROFACE_HOME", "/elsewhere")
    assert (
        Settings().jitters == 2 and Settings().mirror and Settings().home == Path("retroface-data")
    )
    assert Settings.from_env().jitters == 1 and Settings.from_env().home == Path("/elsewhere")


def test_every_field_has_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, field in Settings.model_fields.items():
        monkeypatch.delenv(f"RETROFACE_{name.upper()}", raising=False)
        assert field.is_required() is False, name
    values = {
        "home": ("/data", Path("/data")),
        "database_url": ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        "key_file": ("/etc/kek", Path("/etc/kek")),
        "alignments": ("68+5", (68, 5)),
        "threshold": ("0.5", 0.5),
    }
    for name, value in values.items():
        monkeypatch.setenv(f"RETROFACE_{name.upper()}", value[0])
    monkeypatch.setenv("retroface_workers", "3")  # names are case-insensitive
    monkeypatch.setenv("RETROFACE_ACTOR", "")  # empty is unset
    monkeypatch.setenv("RETROFACE_USER", "amy")  # not a setting: ignored, as before
    settings = Settings.from_env()
    assert {name: getattr(settings, name) for name in values} == {
        name: value[1] for name, value in values.items()
    }
    assert settings.workers == 3 and settings.actor == Settings().actor


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RETROFACE_WORKERS", "x", "RETROFACE_WORKERS must be an integer, got 'x'"),
        ("RETROFACE_MAX_FILE_BYTES", "1.5", "RETROFACE_MAX_FILE_BYTES must be an integer"),
        ("RETROFACE_THRESHOLD", "high", "RETROFACE_THRESHOLD must be a number, got 'high'"),
        ("RETROFACE_ALIGNMENTS", "7", "RETROFACE_ALIGNMENTS must be 5, 68, 5,68 or 5+68"),
        ("RETROFACE_ALIGNMENTS", "5,5", "RETROFACE_ALIGNMENTS must be"),
    ],
)
def test_a_bad_variable_is_named_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInputError) as caught:
        Settings.from_env()
    assert str(caught.value).startswith(message)
    assert caught.value.__cause__ is None and "pydantic" not in str(caught.value)


@pytest.mark.parametrize(("text", "parsed"), [("5", (5,)), ("68", (68,)), ("5,68", (5, 68))])
def test_alignments_are_written_as_numbers(
    monkeypatch: pytest.MonkeyPatch, text: str, parsed: tuple[int, ...]
) -> None:
    monkeypatch.setenv("RETROFACE_ALIGNMENTS", text)
    assert Settings.from_env().alignments == parsed


def test_with_copies_and_the_master_key_stays_out_of_the_repr() -> None:
    settings = Settings(home=Path("/a"), workers=2)
    changed = settings.with_(master_key="c2VjcmV0IGtleQ==", home=Path("/b"))
    assert settings.home == Path("/a") and settings.master_key is None
    assert changed.home == Path("/b") and changed.workers == 2
    assert changed.sqlite_path == Path("/b/retroface.sqlite3")
    assert changed.url == "sqlite:////b/retroface.sqlite3"
    assert changed.index_dir == Path("/b/index")
    assert "c2VjcmV0" not in repr(changed) and "c2VjcmV0" not in str(changed)
    assert changed.with_(database_url="sqlite://").url == "sqlite://"
