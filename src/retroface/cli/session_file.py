"""The CLI's log-in: a session token kept in the data directory, readable only by its owner."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.services import App
    from retroface.services.access.users import Principal

SESSION_FILE = "session.json"


def session_path(app: App) -> Path:
    return app.settings.home / SESSION_FILE


def save_token(app: App, token: str) -> None:
    path = session_path(app)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"token": token}, handle)


def read_token(app: App) -> str | None:
    path = session_path(app)
    try:
        return str(json.loads(path.read_text())["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget_token(app: App) -> None:
    session_path(app).unlink(missing_ok=True)


def ask_password(prompt: str = "Password: ") -> str:
    """From $RETROFACE_PASSWORD (scripts, tests) or a hidden prompt; never from an argument."""
    value = os.environ.get("RETROFACE_PASSWORD")
    if value:
        return value
    if not sys.stdin.isatty():
        raise InvalidInputError("no password: set RETROFACE_PASSWORD or run from a terminal")
    return getpass.getpass(prompt)


def resolve_principal(app: App) -> Principal | None:
    """$RETROFACE_USER (with a password) wins; otherwise the saved session, if still valid."""
    from retroface.services.access.users import authenticate, principal_for_token  # noqa: PLC0415 - loaded only by commands that act as someone

    username = os.environ.get("RETROFACE_USER")
    if username:
        return authenticate(app, username, ask_password(f"Password for {username}: "))
    token = read_token(app)
    return principal_for_token(app, token) if token else None
