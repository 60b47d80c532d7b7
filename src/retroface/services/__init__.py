"""Use cases: the only layer that combines media, faces, index, store and governance.

One function per use case; each takes an :class:`App` and plain arguments
and returns a Pydantic result that the CLI (and later the API) renders.
"""

from retroface.services.app import App, open_app

__all__ = ["App", "open_app"]
