"""Package names imported from their modules on first use (PEP 562).

Why: the CLI imports packages on every start, and a package ``__init__`` that
re-exports its public names eagerly loads every module behind them (numpy,
dlib, FAISS, SQLAlchemy). Each package lists where its names live; this
module gives it the ``__getattr__`` and ``__dir__`` that load one on demand and
keep it, so later look-ups are plain attribute reads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module


def lazy_names(
    package: str, sources: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``sources`` map each name to
    the module that defines it."""
    listed = frozenset(public)

    def load(name: str) -> object:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(sources[name]), name)
        vars(sys.modules[package])[name] = value  # later look-ups skip this function
        return value

    def names() -> list[str]:
        return sorted({*vars(sys.modules[package]), *listed})

    return load, names
