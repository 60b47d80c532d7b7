"""The web UI is tested over the same HTTP client as the API (tests/api/conftest.py)."""

from tests.api.conftest import client

__all__ = ["client"]
