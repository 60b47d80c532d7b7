"""People: the first admin, accounts and their lifecycle, log-in sessions.

An admin adds, deactivates, reactivates and re-roles accounts, resets their
passwords and ends their sessions; each is audited. Nothing about a user is
cached in a session or an API key: every request reads the user's ``active``
flag and role again (``principal_for_token``, ``api_keys.principal_for_api_key``),
so each change holds from the next request of every session and key. The
last active admin cannot be deactivated or demoted: someone must remain who
can manage users.
"""

from __future__ import annotations

import base64
import math
import secrets
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
    checked_new_username,
    hash_password,
    keyed_name_digest,
    new_session_token,
    normalise_username,
    password_matches,
    spend_password_check,
    token_digest,
)
from retroface.governance.review_policy import check_training_date
from retroface.governance.roles import Action, Role
from retroface.services.access.api_keys import revoke_keys_of
from retroface.services.access.lookup import find_user, require_user
from retroface.services.app import App
from retroface.store.models import AuditEvent, DeploymentSetting, LoginSession, User
from retroface.store.unit_of_work import UnitOfWork

SESSION_HOURS = 8
#: The deployment setting holding the key that hashes names matching no account (0011).
LOGIN_NAME_KEY = "login_name_key"
#: Audit actions after which earlier failed log-ins no longer count towards a lock.
_LOCK_CLEARED_BY = ("login.succeeded", "user.password_reset")


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    training_completed_on: date | None
    password_changed_at: datetime | None = None


class CredentialsRevoked(BaseModel):
    """What ``revoke_sessions`` ended: the user's live log-in sessions and API keys."""

    username: str
    sessions: int
    api_keys: int


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


def _check_new_user(username: str, password: str) -> str:
    name = checked_new_username(username)
    _check_password(password)
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
            password_changed_at=app.now(),
        )
        uow.session.add(user)
        uow.flush()
        app.acting_as(Principal(name, Role.ADMIN)).audit(
            uow,
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
        # Names stored before normalisation count too: "Amy" blocks a new "amy".
        existing = uow.session.scalars(select(User.username)).all()
        if any(normalise_username(other) == name for other in existing):
            raise AlreadyExistsError(f"user {name!r} already exists")
        user = User(
            username=name,
            display_name=display_name,
            role=role.value,
            password_hash=hash_password(password),
            training_completed_on=training_completed_on,
            created_by=app.actor,
            password_changed_at=app.now(),
        )
        uow.session.add(user)
        uow.flush()
        app.audit(
            uow,
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


def deactivate_user(app: App, username: str, reason: str = "") -> UserOut:
    """Stop an account: it can no longer log in, and its sessions and API keys end now.

    The account and everything done under it stay on record (the audit log names it);
    ``reactivate_user`` lets it log in again, with new sessions and keys.
    """
    app.require(Action.USER_MANAGE)
    with app.unit_of_work() as uow:
        user = require_user(uow.session, username)
        if not user.active:
            return _out(user)
        if user.role == Role.ADMIN.value:
            _check_another_admin_remains(app, uow, user, "deactivate")
        user.active = False
        now = app.now()
        sessions = _end_sessions(uow.session, user.id, now)
        keys = revoke_keys_of(uow.session, user.id, now)
        app.audit(
            uow,
            action="user.deactivated",
            object_type="user",
            object_id=user.id,
            username=user.username,
            reason=reason.strip(),
            sessions_revoked=sessions,
            api_keys_revoked=keys,
        )
        uow.commit()
        return _out(user)


def reactivate_user(app: App, username: str) -> UserOut:
    """Let a deactivated account log in again (its old sessions and keys stay revoked)."""
    app.require(Action.USER_MANAGE)
    with app.unit_of_work() as uow:
        user = require_user(uow.session, username)
        if user.active:
            return _out(user)
        user.active = True
        app.audit(
            uow,
            action="user.reactivated",
            object_type="user",
            object_id=user.id,
            username=user.username,
        )
        uow.commit()
        return _out(user)


def change_role(
    app: App, username: str, role: Role, *, training_completed_on: date | None = None
) -> UserOut:
    """Give an account another role, from its next request on. Becoming an admin revokes the
    account's API keys (admins manage people, not data); a reviewer needs a training date."""
    app.require(Action.USER_MANAGE)
    if training_completed_on is not None:
        check_training_date(training_completed_on, app.now().date())
    with app.unit_of_work() as uow:
        user = require_user(uow.session, username)
        trained = training_completed_on or user.training_completed_on
        if role is Role.REVIEWER and trained is None:
            raise InvalidInputError(
                "a reviewer needs the date they completed face-comparison training"
            )
        old = user.role
        if old == role.value and training_completed_on is None:
            return _out(user)
        if old == Role.ADMIN.value and role is not Role.ADMIN and user.active:
            _check_another_admin_remains(app, uow, user, "demote")
        keys = revoke_keys_of(uow.session, user.id, app.now()) if role is Role.ADMIN else 0
        user.role = role.value
        user.training_completed_on = trained
        app.audit(
            uow,
            action="user.role_changed",
            object_type="user",
            object_id=user.id,
            username=user.username,
            role_before=old,
            role_granted=role.value,
            api_keys_revoked=keys,
        )
        uow.commit()
        return _out(user)


def reset_password(app: App, username: str, new_password: str) -> UserOut:
    """An admin sets a new password (e.g. after it expired or leaked); every log-in session
    of the account ends, and a lock-out of its name is lifted. API keys stay (they are not
    the password; ``revoke_sessions`` ends them too)."""
    app.require(Action.USER_MANAGE)
    _check_password(new_password)
    with app.unit_of_work() as uow:
        user = require_user(uow.session, username)
        now = app.now()
        user.password_hash = hash_password(new_password)
        user.password_changed_at = now
        sessions = _end_sessions(uow.session, user.id, now)
        app.audit(
            uow,
            action="user.password_reset",
            object_type="user",
            object_id=user.id,
            username=user.username,
            sessions_revoked=sessions,
        )
        uow.commit()
        return _out(user)


def revoke_sessions(app: App, username: str) -> CredentialsRevoked:
    """End every log-in session and API key of one account now (a lost laptop, a leak)."""
    app.require(Action.USER_MANAGE)
    with app.unit_of_work() as uow:
        user = require_user(uow.session, username)
        now = app.now()
        sessions = _end_sessions(uow.session, user.id, now)
        keys = revoke_keys_of(uow.session, user.id, now)
        app.audit(
            uow,
            action="user.sessions_revoked",
            object_type="user",
            object_id=user.id,
            username=user.username,
            sessions_revoked=sessions,
            api_keys_revoked=keys,
        )
        uow.commit()
        return CredentialsRevoked(username=user.username, sessions=sessions, api_keys=keys)


def _check_another_admin_remains(app: App, uow: UnitOfWork, user: User, verb: str) -> None:
    """Refuse (audited) to leave the installation without an active admin."""
    admins = uow.session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.active.is_(True))
        .with_for_update()  # PostgreSQL: two admins cannot demote each other at once
    ).all()
    if any(admin_id != user.id for admin_id in admins):
        return
    name = user.username
    reason = f"{'you are' if name == app.actor else name + ' is'} the last active admin"
    uow.session.rollback()  # nothing of the refused change; the refusal alone commits
    app.audit(
        uow,
        action="access.refused",
        object_type="action",
        object_id=Action.USER_MANAGE.value,
        reason=f"{verb} {name}: {reason}",
    )
    uow.commit()
    raise AuthorisationError(
        f"cannot {verb} {name}: {reason}, and without one nobody could manage users; "
        "add or promote another admin first"
    )


def _end_sessions(session: Session, user_id: int, now: datetime) -> int:
    """Revoke every session of one user; how many were still live."""
    rows = session.scalars(
        select(LoginSession).where(
            LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    return sum(1 for row in rows if row.expires_at > now)


def authenticate(app: App, username: str, password: str) -> Principal:
    """The principal for a correct, active username and password; failures are audited.

    The name is normalised (NFKC, case-folded) as at creation. An unknown or
    inactive name costs one argon2 verification like a wrong password, so the
    answer's timing does not say who exists; a failure under a name that
    matches no account is audited as a keyed hash of it, never the text typed
    (which may be a password typed into the wrong box).

    After ``login_max_failures`` failures under one name (known or not, so the
    lock says nothing about who exists) within ``login_lockout_s``, no password
    is checked for that name until ``login_lockout_s`` after the last failure;
    a success or an admin's password reset clears the count. The failures are
    read from the audit log, so the lock holds across server restarts and
    processes. With ``password_max_age_days`` set, a correct but expired
    password is refused until an admin resets it.
    """
    typed = username.strip()
    with app.unit_of_work() as uow:
        user = find_user(uow.session, typed)
        if user is not None:
            object_type, object_id = "user", user.username[:64]
        else:
            key = _login_name_key(uow.session)
            object_type, object_id = (
                "unknown_user",
                keyed_name_digest(key, normalise_username(typed)),
            )
        wait = _lockout_left_s(app, uow.session, object_id, user)
        if wait > 0:
            app.audit(uow, action="login.locked", object_type=object_type, object_id=object_id)
            uow.commit()
            raise LockedOutError(
                f"too many failed log-ins for {typed!r}: try again in {math.ceil(wait / 60)} "
                "min, or ask an admin",
                retry_after_s=math.ceil(wait),
            )
        if user is None or not user.active:
            spend_password_check(password)
            ok = False
        else:
            ok = password_matches(user.password_hash, password)
        if not ok:
            app.audit(uow, action="login.failed", object_type=object_type, object_id=object_id)
            uow.commit()
            raise AuthorisationError("unknown user or wrong password")
        assert user is not None
        _check_password_age(app, uow, user)
        return Principal(user.username, Role(user.role))


def _check_password_age(app: App, uow: UnitOfWork, user: User) -> None:
    max_days = app.settings.password_max_age_days
    if max_days is None:
        return
    expires = (user.password_changed_at or user.created_at) + timedelta(days=max_days)
    if expires > app.now():
        return
    app.audit(uow, action="login.password_expired", object_type="user", object_id=user.id)
    uow.commit()
    raise AuthorisationError(
        f"the password of {user.username} expired on {expires:%Y-%m-%d} (passwords last "
        f"{max_days} days here): an admin must reset it "
        f"('retroface user reset-password {user.username}')"
    )


def _login_name_key(session: Session) -> bytes:
    """The installation's key for hashing unknown names (made by migration 0011; made here
    if that row is missing)."""
    row = session.get(DeploymentSetting, LOGIN_NAME_KEY)
    if row is None:
        value = {"key": base64.b64encode(secrets.token_bytes(32)).decode("ascii")}
        row = DeploymentSetting(key=LOGIN_NAME_KEY, value=value, set_by="retroface")
        session.add(row)
        session.flush()
    return base64.b64decode(str(row.value["key"]))


def _lockout_left_s(app: App, session: Session, object_id: str, user: User | None) -> float:
    """Seconds until the name audited as ``object_id`` may try a password again (0: now)."""
    limit = app.settings.login_max_failures
    if limit <= 0:
        return 0.0
    window = timedelta(seconds=app.settings.login_lockout_s)
    now = datetime.now(UTC)  # audit rows carry the wall clock
    query = (
        select(AuditEvent.occurred_at)
        .where(
            AuditEvent.action == "login.failed",
            AuditEvent.object_id == object_id,
            AuditEvent.occurred_at >= now - window,
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if user is not None:
        cleared = session.scalar(
            select(func.max(AuditEvent.id)).where(
                AuditEvent.action.in_(_LOCK_CLEARED_BY), AuditEvent.object_id == str(user.id)
            )
        )
        if cleared is not None:
            query = query.where(AuditEvent.id > cleared)
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
            uow,
            action="login.succeeded",
            object_type="user",
            object_id=user.id,
            hours=hours,
        )
        uow.commit()
    return token, principal


def principal_for_token(app: App, token: str) -> Principal | None:
    """The principal of an unexpired, unrevoked session of an active user, else None.

    Called on every request: the user's ``active`` flag and role are read now,
    never remembered from the log-in.
    """
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
        app.audit(uow, action="logout", object_type="login_session", object_id=session.id)
        uow.commit()


def _out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        active=user.active,
        training_completed_on=user.training_completed_on,
        password_changed_at=user.password_changed_at,
    )
