"""``import retroface``: a small documented set of names, each loaded only when first used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import retroface

#: What must not load on ``import retroface`` (the CLI imports the package on every start).
HEAVY = ("dlib", "onnxruntime", "onnx", "faiss", "sqlalchemy", "fastapi", "numpy", "pydantic")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.split()


def test_importing_the_package_loads_no_model_database_or_web_library() -> None:
    assert _loaded_after("import retroface") == []


def test_a_face_function_loads_the_face_layer_but_no_database_or_web_library() -> None:
    loaded = _loaded_after("import retroface\nretroface.compare")
    assert "numpy" in loaded
    assert not {"dlib", "onnxruntime", "sqlalchemy", "fastapi"} & set(loaded)  # no engine yet


def test_every_public_name_resolves_and_is_listed_in_dir() -> None:
    assert set(retroface.__all__) == {"__version__", *retroface._PUBLIC}
    for name in retroface.__all__:
        assert getattr(retroface, name) is not None
        assert name in dir(retroface)


def test_every_public_function_and_class_is_documented() -> None:
    for name in retroface._PUBLIC:
        value = getattr(retroface, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), f"retroface.{name} has no docstring"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'find_face'"):
        retroface.find_face  # noqa: B018 - the attribute access is the test
