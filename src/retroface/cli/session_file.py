"""The CLI's log-in: a session token per operating-system user and data directory.

The token is kept in the user's own configuration directory
(``$XDG_CONFIG_HOME/retroface/sessions/``, or ``~/.config/retroface/sessions/``),
one file per data directory named by a hash of that directory's resolved
path, readable by its owner only (0600, in a 0700 folder). Two people using one
data directory from their own accounts are two sessions: nobody acts as
whoever logged in last, and the data directory (and its backups) holds no
credential.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.services import App
    from retroface.services.access.users import Principal


def sessions_folder() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or ""
    base = Path(config) if Path(config).is_absolute() else Path.home() / ".config"
    return base / "retroface" / "sessions"


def session_path(app: App) -> Path:
    home = str(app.settings.home.resolve())
    return sessions_folder() / f"{hashlib.sha256(home.encode('utf-8')).hexdigest()[:32]}.json"


def save_token(app: App, token: str) -> None:
    path = session_path(app)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode on O_CREAT
    with os.fdopen(fd, "w") as handle:
        json.dump({"token": token, "home": str(app.settings.home.resolve())}, handle)


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
        raise InvalidInputError(
            "no password: set RETROFACE_PASSWORD, use --password-stdin, or run from a terminal"
        )
    return getpass.getpass(prompt)


def password_from_stdin() -> str:
    """The first line of standard input, without its line ending (``login --password-stdin``)."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInputError("--password-stdin: standard input held no password")
    return line


def resolve_principal(app: App) -> Principal | None:
    """$RETROFACE_USER (with a password) wins; otherwise the saved session, if still valid."""
    from retroface.services.access.users import authenticate, principal_for_token  # noqa: PLC0415 - loaded only by commands that act as someone

    username = os.environ.get("RETROFACE_USER")
    if username:
        return authenticate(app, username, ask_password(f"Password for {username}: "))
    token = read_token(app)
    return principal_for_token(app, token) if token else None
