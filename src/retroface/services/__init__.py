"""Use cases: the only layer that combines media, faces, index, store and governance.

One function per use case; each takes an :class:`App` and plain arguments
and returns a Pydantic result that the CLI (and later the API) renders.

The names below are imported from their modules on first use (PEP 562), so importing one
module of the package does not load the others (the CLI builds its command tree from a few
constants without opening anything).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retroface.lazy_names import lazy_names

if TYPE_CHECKING:
    from retroface.services.app import App, open_app

#: Where each name below lives; it is imported from there on first use.
_SOURCES = {
    "App": "retroface.services.app",
    "open_app": "retroface.services.app",
}

__all__ = [
    "App",
    "open_app",
]


if not TYPE_CHECKING:  # type checkers read the imports above (a __getattr__ would admit any name)
    __getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)
