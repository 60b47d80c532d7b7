"""API keys: how another system (a case management system, a script) calls the REST API.

A key acts as one user, so it carries that user's single role and every rule
that binds the user binds the key; separation of duties survives automation.
Only the key's SHA-256 is stored (a key is 256 random bits, so a slow hash
adds nothing), it is shown once at creation, and it can expire and be revoked.
Creating and revoking are admin actions and are audited.

Every request re-reads the key's user: a key stops working at once when its
user is deactivated, and when its user becomes an admin (admins get no keys).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from retroface.errors import InvalidInputError, NotFoundError
from retroface.governance.identity import Principal, new_session_token, token_digest
from retroface.governance.roles import Action, Role
from retroface.services.access.lookup import require_user
from retroface.services.app import App
from retroface.store.models import ApiKey, User

KEY_PREFIX = "rfk_"
MAX_KEY_NAME = 100


class ApiKeyOut(BaseModel):
    id: int
    name: str
    username: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewApiKey(BaseModel):
    key: str  # shown once; only its hash is kept
    details: ApiKeyOut


def create_api_key(app: App, username: str, name: str, days: int | None = 365) -> NewApiKey:
    """A new key acting as ``username``; ``days=None`` never expires (not recommended)."""
    app.require(Action.USER_MANAGE)
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME:
        raise InvalidInputError(f"a key name is 1 to {MAX_KEY_NAME} characters")
    if days is not None and days < 1:
        raise InvalidInputError("a key lasts at least one day")
    token, _ = new_session_token()
    key = KEY_PREFIX + token
    with app.unit_of_work() as uow:
        user = require_user(uow.session, username)
        if user.role == Role.ADMIN.value:
            raise InvalidInputError("admins manage people, not data: no API key for an admin")
        row = ApiKey(
            name=name,
            key_sha256=token_digest(key),
            user_id=user.id,
            created_by=app.actor,
            created_at=app.now(),
            expires_at=app.now() + timedelta(days=days) if days is not None else None,
        )
        uow.session.add(row)
        uow.session.flush()
        app.audit(
            uow,
            action="api_key.created",
            object_type="api_key",
            object_id=row.id,
            username=user.username,
            days=days,
        )
        uow.commit()
        return NewApiKey(key=key, details=_out(row, user))


def list_api_keys(app: App) -> list[ApiKeyOut]:
    app.require(Action.USER_MANAGE)
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(ApiKey, User).join(User, ApiKey.user_id == User.id).order_by(ApiKey.id)
        ).all()
        return [_out(key, user) for key, user in rows]


def revoke_api_key(app: App, key_id: int) -> ApiKeyOut:
    app.require(Action.USER_MANAGE)
    with app.unit_of_work() as uow:
        key = uow.session.get(ApiKey, key_id)
        if key is None:
            raise NotFoundError(f"no API key with id {key_id}")
        if key.revoked_at is None:
            key.revoked_at = app.now()
            app.audit(uow, action="api_key.revoked", object_type="api_key", object_id=key.id)
        user = uow.session.get(User, key.user_id)
        assert user is not None
        uow.commit()
        return _out(key, user)


def revoke_keys_of(session: Session, user_id: int, now: datetime) -> int:
    """Revoke every live key of one user in the caller's transaction (which audits it);
    how many were live."""
    keys = session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    ).all()
    for key in keys:
        key.revoked_at = now
    return sum(1 for key in keys if key.expires_at is None or key.expires_at > now)


def principal_for_api_key(app: App, key: str) -> Principal | None:
    """The principal of a known, unexpired, unrevoked key of an active non-admin user, else
    None; the user's ``active`` flag and role are read again on every call."""
    if not key.startswith(KEY_PREFIX):
        return None
    with app.unit_of_work() as uow:
        row = uow.session.execute(
            select(ApiKey, User)
            .join(User, ApiKey.user_id == User.id)
            .where(ApiKey.key_sha256 == token_digest(key))
        ).first()
        if row is None:
            return None
        api_key, user = row
        expired = api_key.expires_at is not None and api_key.expires_at <= app.now()
        if api_key.revoked_at is not None or expired or not user.active:
            return None
        if user.role == Role.ADMIN.value:  # admins get no keys, also after a promotion
            return None
        return Principal(user.username, Role(user.role))


def _out(key: ApiKey, user: User) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        username=user.username,
        role=user.role,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )
