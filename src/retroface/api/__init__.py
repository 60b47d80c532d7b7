"""The REST API: a thin HTTP layer over the same services the CLI calls.

Routes parse input, call one service function as the authenticated
principal and return its Pydantic result; every governance rule therefore
holds over HTTP exactly as it does in the CLI.
"""

from retroface.api.server import create_api

__all__ = ["create_api"]
