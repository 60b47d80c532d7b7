"""People: the first admin, user management, log-in sessions."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retroface.errors import (
    AlreadyExistsError,
    AuthorisationError,
    InvalidInputError,
    LockedOutError,
    NotFoundError,
)
from retroface.governance.identity import (
    MIN_PASSWORD_CHARS,
    Principal,
    hash_password,
    new_session_token,
    password_matches,
    token_digest,
)
from retroface.governance.review_policy import check_training_date
from retroface.governance.roles import Action, Role
from retroface.services.app import App
from retroface.store.models import AuditEvent, LoginSession, User

SESSION_HOURS = 8
MAX_USERNAME = 100


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    training_completed_on: date | None


def _check_new_user(username: str, password: str) -> str:
    name = username.strip()
    if not name or len(name) > MAX_USERNAME or not all(c.isalnum() or c in "._-@" for c in name):
        raise InvalidInputError(
            f"a username is 1..{MAX_USERNAME} letters, digits or . _ - @ (got {username!r})"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return name


def user_count(app: App) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count(User.id))) or 0)


def bootstrap_admin(app: App, username: str, password: str) -> UserOut:
    """Create the first user, an admin; refused once any user exists."""
    name = _check_new_user(username, password)
    with app.unit_of_work() as uow:
        if uow.session.scalar(select(func.count(User.id))):
            raise AuthorisationError("users already exist; an admin adds further users")
        user = User(
            username=name,
            role=Role.ADMIN.value,
            password_hash=hash_password(password),
            created_by=name,
        )
        uow.session.add(user)
        uow.flush()
        app.acting_as(Principal(name, Role.ADMIN)).audit(
            uow.session,
            action="user.bootstrapped",
            object_type="user",
            object_id=user.id,
            role_granted="admin",
        )
        uow.commit()
        return _out(user)


def add_user(
    app: App,
    username: str,
    role: Role,
    password: str,
    *,
    display_name: str = "",
    training_completed_on: date | None = None,
) -> UserOut:
    app.require(Action.USER_MANAGE)
    name = _check_new_user(username, password)
    if role is Role.REVIEWER and training_completed_on is None:
        raise InvalidInputError("a reviewer needs the date they completed face-comparison training")
    if training_completed_on is not None:
        check_training_date(training_completed_on, app.now().date())
    with app.unit_of_work() as uow:
        if uow.session.scalar(select(User).where(User.username == name)) is not None:
            raise AlreadyExistsError(f"user {name!r} already exists")
        user = User(
            username=name,
            display_name=display_name,
            role=role.value,
            password_hash=hash_password(password),
            training_completed_on=training_completed_on,
            created_by=app.actor,
        )
        uow.session.add(user)
        uow.flush()
        app.audit(
            uow.session,
            action="user.added",
            object_type="user",
            object_id=user.id,
            role_granted=role.value,
        )
        uow.commit()
        return _out(user)


def list_users(app: App) -> list[UserOut]:
    app.require(Action.USER_MANAGE)
    with app.unit_of_work() as uow:
        return [_out(u) for u in uow.session.scalars(select(User).order_by(User.username))]


def authenticate(app: App, username: str, password: str) -> Principal:
    """The principal for a correct, active username and password; failures are audited.

    After ``login_max_failures`` failures under one name (known or not, so the
    lock says nothing about who exists) within ``login_lockout_s``, no password
    is checked for that name until ``login_lockout_s`` after the last failure;
    a success clears the count. The failures are read from the audit log, so
    the lock holds across server restarts and processes.
    """
    name = username.strip()
    with app.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == name))
        wait = _lockout_left_s(app, uow.session, name, user)
        if wait > 0:
            app.audit(uow.session, action="login.locked", object_type="user", object_id=name[:64])
            uow.commit()
            raise LockedOutError(
                f"too many failed log-ins for {name!r}: try again in {math.ceil(wait / 60)} "
                "min, or ask an admin",
                retry_after_s=math.ceil(wait),
            )
        ok = user is not None and user.active and password_matches(user.password_hash, password)
        if not ok:
            app.audit(uow.session, action="login.failed", object_type="user", object_id=name[:64])
            uow.commit()
            raise AuthorisationError("unknown user or wrong password")
        assert user is not None
        return Principal(user.username, Role(user.role))


def _lockout_left_s(app: App, session: Session, name: str, user: User | None) -> float:
    """Seconds until ``name`` may try a password again (0: it may now)."""
    limit = app.settings.login_max_failures
    if limit <= 0:
        return 0.0
    window = timedelta(seconds=app.settings.login_lockout_s)
    now = datetime.now(UTC)  # audit rows carry the wall clock
    query = (
        select(AuditEvent.occurred_at)
        .where(
            AuditEvent.action == "login.failed",
            AuditEvent.object_id == name[:64],
            AuditEvent.occurred_at >= now - window,
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if user is not None:
        last_success = session.scalar(
            select(func.max(AuditEvent.id)).where(
                AuditEvent.action == "login.succeeded", AuditEvent.object_id == str(user.id)
            )
        )
        if last_success is not None:
            query = query.where(AuditEvent.id > last_success)
    failures = list(session.scalars(query))
    if len(failures) < limit:
        return 0.0
    return max(0.0, (failures[0] + window - now).total_seconds())


def login(
    app: App, username: str, password: str, hours: int = SESSION_HOURS
) -> tuple[str, Principal]:
    principal = authenticate(app, username, password)
    token, digest = new_session_token()
    with app.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == principal.username))
        assert user is not None
        uow.session.add(
            LoginSession(
                token_sha256=digest, user_id=user.id, expires_at=app.now() + timedelta(hours=hours)
            )
        )
        app.acting_as(principal).audit(
            uow.session,
            action="login.succeeded",
            object_type="user",
            object_id=user.id,
            hours=hours,
        )
        uow.commit()
    return token, principal


def principal_for_token(app: App, token: str) -> Principal | None:
    """The principal of an unexpired, unrevoked session of an active user, else None."""
    with app.unit_of_work() as uow:
        row = uow.session.execute(
            select(LoginSession, User)
            .join(User, LoginSession.user_id == User.id)
            .where(LoginSession.token_sha256 == token_digest(token))
        ).first()
        if row is None:
            return None
        session, user = row
        if session.revoked_at is not None or session.expires_at <= app.now() or not user.active:
            return None
        return Principal(user.username, Role(user.role))


def logout(app: App, token: str) -> None:
    with app.unit_of_work() as uow:
        session = uow.session.scalar(
            select(LoginSession).where(LoginSession.token_sha256 == token_digest(token))
        )
        if session is None:
            raise NotFoundError("no such session")
        session.revoked_at = app.now()
        app.audit(uow.session, action="logout", object_type="login_session", object_id=session.id)
        uow.commit()


def _out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        active=user.active,
        training_completed_on=user.training_completed_on,
    )
