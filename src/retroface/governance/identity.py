"""Who is acting: principals, usernames, password hashing (argon2id) and session tokens.

Only hashes are stored: argon2id for passwords (the OWASP recommendation),
SHA-256 for session tokens (they are long random values, so a fast hash is
enough and lets us look them up).

Usernames are compared in one form (NFKC, case-folded), so ``Amy``, ``amy``
and a full-width ``ａｍｙ`` are one account, and a new name whose letters come
from more than one script (a Latin ``a`` beside a Cyrillic ``а``) is refused:
two names that look the same on screen are never two accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from retroface.errors import InvalidInputError
from retroface.governance.roles import Role

_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 12
MAX_USERNAME = 100
#: Punctuation a username may hold besides letters and ASCII digits.
USERNAME_PUNCTUATION = "._-@"
#: Scripts written together in one name (Japanese mixes Han, Hiragana and Katakana).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


@dataclass(frozen=True)
class Principal:
    """The authenticated person an action is attributed to."""

    username: str
    role: Role


def normalise_username(typed: str) -> str:
    """The one form a username is stored and looked up in: NFKC, case-folded, no outer spaces."""
    once = unicodedata.normalize("NFKC", typed.strip())
    return unicodedata.normalize("NFKC", once.casefold())


def checked_new_username(typed: str) -> str:
    """The normalised name for a new account, or InvalidInputError saying what is wrong."""
    name = normalise_username(typed)
    allowed = all(c in USERNAME_PUNCTUATION or c in "0123456789" or c.isalpha() for c in name)
    if not name or len(name) > MAX_USERNAME or not allowed:
        raise InvalidInputError(
            f"a username is 1..{MAX_USERNAME} letters, digits 0-9 or {' '.join(USERNAME_PUNCTUATION)}"
            f" (got {typed!r})"
        )
    scripts = sorted({_script(c) for c in name if c.isalpha()})
    if len(scripts) > 1:
        raise InvalidInputError(
            f"the username {typed!r} mixes letters of several scripts ({', '.join(scripts)}), "
            "so it could pass for another name: use the letters of one script"
        )
    return name


def _script(letter: str) -> str:
    """The script of a letter, from the first word of its Unicode name (LATIN, CYRILLIC…)."""
    word = unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_FAMILIES.get(word, word)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(32))


def spend_password_check(password: str) -> None:
    """Verify ``password`` against a hash no password matches, for an unknown or inactive
    name: the refusal then takes as long as a wrong password for a real account, so the
    time of the answer does not say which names exist."""
    password_matches(_dummy_hash(), password)


def keyed_name_digest(key: bytes, typed: str) -> str:
    """HMAC-SHA256 of a name that matched no account: the audit log records failures under
    it (and counts them for the lock-out) without keeping what was typed, which may be a
    password typed into the wrong box."""
    return hmac.new(key, typed.encode("utf-8"), hashlib.sha256).hexdigest()


def new_session_token() -> tuple[str, str]:
    """(token for the client, its SHA-256 for the database)."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
