"""Finding an account by the name a person typed, in its one stored form."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from retroface.errors import NotFoundError
from retroface.governance.identity import normalise_username
from retroface.store.models import User


def find_user(session: Session, typed: str) -> User | None:
    """The account named ``typed`` (NFKC, case-folded); an account made before names were
    normalised is still found by its exact name."""
    name = normalise_username(typed)
    user = session.scalar(select(User).where(User.username == name))
    if user is None and typed.strip() != name:
        user = session.scalar(select(User).where(User.username == typed.strip()))
    return user


def require_user(session: Session, typed: str) -> User:
    user = find_user(session, typed)
    if user is None:
        raise NotFoundError(f"no user {typed.strip()!r}")
    return user
