"""Who is acting: principals, password hashing (argon2id) and session tokens.

Only hashes are stored: argon2id for passwords (the OWASP recommendation),
SHA-256 for session tokens (they are long random values, so a fast hash is
enough and lets us look them up).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from retroface.governance.roles import Role

_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 12


@dataclass(frozen=True)
class Principal:
    """The authenticated person an action is attributed to."""

    username: str
    role: Role


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_session_token() -> tuple[str, str]:
    """(token for the client, its SHA-256 for the database)."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
