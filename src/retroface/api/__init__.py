"""The REST API: a thin HTTP layer over the same services the CLI calls.

Routes parse input, call one service function as the authenticated
principal and return its Pydantic result; every governance rule therefore
holds over HTTP exactly as it does in the CLI. ``retroface.server`` mounts
these routers under ``/api/v1``.
"""

from fastapi import APIRouter

from retroface.api.routes_cases import router as cases_router
from retroface.api.routes_galleries import router as galleries_router
from retroface.api.routes_live import router as live_router
from retroface.api.routes_oversight import router as oversight_router
from retroface.api.routes_people import router as people_router

ROUTERS: list[APIRouter] = [
    people_router,
    cases_router,
    galleries_router,
    oversight_router,
    live_router,
]

__all__ = ["ROUTERS"]
