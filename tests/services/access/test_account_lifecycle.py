"""Account lifecycle: an admin deactivates, reactivates, re-roles, resets and revokes, and each
change holds from the next request of every session and API key of that user."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError, LockedOutError
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.api_keys import create_api_key, principal_for_api_key
from retroface.services.access.users import (
    add_user,
    authenticate,
    change_role,
    deactivate_user,
    login,
    principal_for_token,
    reactivate_user,
    reset_password,
    revoke_sessions,
)
from retroface.services.cases.manage import open_case
from retroface.store.models import AuditEvent, User
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR
from tests.helpers import PASSWORD, register_users

NEW_PASSWORD = "a completely new passphrase"


@pytest.fixture
def admin(app: App) -> App:
    register_users(app, dict.fromkeys((OPERATOR, SUPERVISOR), PASSWORD))
    return app.acting_as(ADMIN)


def _event(app: App, action: str) -> dict[str, Any]:
    """The one audit event of ``action``: who, in which role, on what, with which details."""
    columns = (AuditEvent.actor, AuditEvent.role, AuditEvent.object_type, AuditEvent.details)
    with app.unit_of_work() as uow:
        (row,) = uow.session.execute(select(*columns).where(AuditEvent.action == action)).all()
    return dict(zip(("actor", "role", "object_type", "details"), row, strict=True))


def _details(app: App, action: str) -> dict[str, Any]:
    return dict(_event(app, action)["details"])


def test_a_deactivated_user_loses_every_session_and_key_at_once_and_cannot_log_in(
    admin: App,
) -> None:
    token, _ = login(admin, OPERATOR.username, PASSWORD)
    key = create_api_key(admin, OPERATOR.username, "case-system").key
    assert principal_for_token(admin, token) == OPERATOR
    assert principal_for_api_key(admin, key) == OPERATOR

    out = deactivate_user(admin, OPERATOR.username, reason="left the force")

    assert out.active is False
    assert principal_for_token(admin, token) is None
    assert principal_for_api_key(admin, key) is None
    with pytest.raises(AuthorisationError, match="unknown user or wrong password"):
        authenticate(admin, OPERATOR.username, PASSWORD)
    event = _event(admin, "user.deactivated")
    assert (event["actor"], event["role"]) == (ADMIN.username, "admin")
    assert event["details"] == {
        "username": OPERATOR.username,
        "reason": "left the force",
        "sessions_revoked": 1,
        "api_keys_revoked": 1,
    }


def test_reactivation_allows_new_log_ins_but_not_the_old_sessions_or_keys(admin: App) -> None:
    token, _ = login(admin, OPERATOR.username, PASSWORD)
    key = create_api_key(admin, OPERATOR.username, "case-system").key
    deactivate_user(admin, OPERATOR.username)
    assert reactivate_user(admin, OPERATOR.username).active is True
    assert _details(admin, "user.reactivated") == {"username": OPERATOR.username}
    assert principal_for_token(admin, token) is None
    assert principal_for_api_key(admin, key) is None
    fresh, principal = login(admin, OPERATOR.username, PASSWORD)
    assert principal_for_token(admin, fresh) == principal == OPERATOR


def test_a_user_deactivated_behind_the_services_back_is_refused_on_the_next_request(
    admin: App,
) -> None:
    """The per-request lookup reads ``active`` from the database, not from the log-in."""
    token, _ = login(admin, OPERATOR.username, PASSWORD)
    key = create_api_key(admin, OPERATOR.username, "k").key
    with admin.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == OPERATOR.username))
        assert user is not None
        user.active = False
        uow.commit()
    assert principal_for_token(admin, token) is None
    assert principal_for_api_key(admin, key) is None


def test_a_role_change_holds_from_the_next_request_of_every_session(admin: App) -> None:
    token, _ = login(admin, OPERATOR.username, PASSWORD)
    operator_app = admin.acting_as(OPERATOR)
    out = change_role(admin, OPERATOR.username, Role.AUDITOR)
    assert out.role == "auditor"
    principal = principal_for_token(admin, token)
    assert principal is not None and principal.role is Role.AUDITOR
    with pytest.raises(AuthorisationError, match="auditor"):
        open_case(
            operator_app.acting_as(principal),
            "ROLE-1",
            purpose="p",
            lawful_basis="law-enforcement",
            offence="robbery",
            seriousness="indictable-only",
        )
    assert _details(admin, "user.role_changed") == {
        "username": OPERATOR.username,
        "role_before": "operator",
        "role_granted": "auditor",
        "api_keys_revoked": 0,
    }


def test_a_reviewer_needs_a_training_date_when_re_roled(admin: App) -> None:
    with pytest.raises(InvalidInputError, match="training"):
        change_role(admin, OPERATOR.username, Role.REVIEWER)
    today = admin.now().date()
    out = change_role(admin, OPERATOR.username, Role.REVIEWER, training_completed_on=today)
    assert (out.role, out.training_completed_on) == ("reviewer", today)


def test_a_key_whose_user_became_an_admin_stops_working(admin: App) -> None:
    """Admins get no API keys: promotion revokes them, and the per-request check refuses a
    key of an admin even where the role was changed behind the service's back."""
    promoted_key = create_api_key(admin, SUPERVISOR.username, "k1").key
    change_role(admin, SUPERVISOR.username, Role.ADMIN)
    assert principal_for_api_key(admin, promoted_key) is None
    assert _details(admin, "user.role_changed")["api_keys_revoked"] == 1

    key = create_api_key(admin, OPERATOR.username, "k2").key
    with admin.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == OPERATOR.username))
        assert user is not None
        user.role = Role.ADMIN.value
        uow.commit()
    assert principal_for_api_key(admin, key) is None


def test_a_password_reset_ends_the_sessions_and_only_the_new_password_works(
    admin: App,
) -> None:
    token, _ = login(admin, OPERATOR.username, PASSWORD)
    key = create_api_key(admin, OPERATOR.username, "k").key
    with pytest.raises(InvalidInputError, match="at least 12"):
        reset_password(admin, OPERATOR.username, "short")
    out = reset_password(admin, OPERATOR.username, NEW_PASSWORD)
    assert out.password_changed_at is not None
    assert principal_for_token(admin, token) is None
    assert principal_for_api_key(admin, key) == OPERATOR  # a key is not the password
    with pytest.raises(AuthorisationError):
        authenticate(admin, OPERATOR.username, PASSWORD)
    assert authenticate(admin, OPERATOR.username, NEW_PASSWORD) == OPERATOR
    details = _details(admin, "user.password_reset")
    assert details == {"username": OPERATOR.username, "sessions_revoked": 1}
    assert NEW_PASSWORD not in str(details)


def test_a_password_reset_lifts_the_lock_on_the_name(admin: App) -> None:
    for _ in range(admin.settings.login_max_failures):
        with pytest.raises(AuthorisationError):
            authenticate(admin, OPERATOR.username, "not the password")
    with pytest.raises(LockedOutError, match="too many failed log-ins"):
        authenticate(admin, OPERATOR.username, PASSWORD)
    reset_password(admin, OPERATOR.username, NEW_PASSWORD)
    assert authenticate(admin, OPERATOR.username, NEW_PASSWORD) == OPERATOR


def test_revoking_sessions_ends_every_session_and_api_key_of_that_user_only(
    admin: App,
) -> None:
    tokens = [login(admin, OPERATOR.username, PASSWORD)[0] for _ in range(2)]
    key = create_api_key(admin, OPERATOR.username, "k").key
    other, _ = login(admin, SUPERVISOR.username, PASSWORD)
    revoked = revoke_sessions(admin, OPERATOR.username)
    assert (revoked.sessions, revoked.api_keys) == (2, 1)
    assert [principal_for_token(admin, t) for t in tokens] == [None, None]
    assert principal_for_api_key(admin, key) is None
    assert principal_for_token(admin, other) == SUPERVISOR
    assert _details(admin, "user.sessions_revoked") == {
        "username": OPERATOR.username,
        "sessions_revoked": 2,
        "api_keys_revoked": 1,
    }
    assert authenticate(admin, OPERATOR.username, PASSWORD) == OPERATOR  # still may log in


def test_the_last_active_admin_cannot_deactivate_or_demote_themselves(admin: App) -> None:
    for attempt in (
        lambda: deactivate_user(admin, ADMIN.username),
        lambda: change_role(admin, ADMIN.username, Role.SUPERVISOR),
    ):
        with pytest.raises(AuthorisationError, match="you are the last active admin"):
            attempt()
    with admin.unit_of_work() as uow:
        refusals = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "access.refused")
        ).all()
        user = uow.session.execute(
            select(User.active, User.role).where(User.username == ADMIN.username)
        ).one()
    assert [r["reason"] for r in refusals] == [
        f"deactivate {ADMIN.username}: you are the last active admin",
        f"demote {ADMIN.username}: you are the last active admin",
    ]
    assert tuple(user) == (True, "admin")

    add_user(admin, "admin-7", Role.ADMIN, PASSWORD)
    assert change_role(admin, ADMIN.username, Role.SUPERVISOR).role == "supervisor"
    second = admin.acting_as(authenticate(admin, "admin-7", PASSWORD))
    with pytest.raises(AuthorisationError, match="you are the last active admin"):
        deactivate_user(second, "admin-7")


def test_only_an_admin_manages_accounts(admin: App) -> None:
    supervisor = admin.acting_as(SUPERVISOR)
    for attempt in (
        lambda: deactivate_user(supervisor, OPERATOR.username),
        lambda: reactivate_user(supervisor, OPERATOR.username),
        lambda: change_role(supervisor, SUPERVISOR.username, Role.ADMIN),
        lambda: reset_password(supervisor, OPERATOR.username, NEW_PASSWORD),
        lambda: revoke_sessions(supervisor, OPERATOR.username),
    ):
        with pytest.raises(AuthorisationError, match="may not user manage"):
            attempt()


def test_an_expired_password_is_refused_until_an_admin_resets_it(admin: App) -> None:
    admin.settings = admin.settings.with_(password_max_age_days=90)
    assert authenticate(admin, OPERATOR.username, PASSWORD) == OPERATOR
    start = admin.now()
    later = admin.acting_as(ADMIN)
    later.clock = lambda: start + timedelta(days=91)
    with pytest.raises(AuthorisationError, match=r"expired on .* an admin must reset it"):
        authenticate(later, OPERATOR.username, PASSWORD)
    assert _event(admin, "login.password_expired")["object_type"] == "user"
    reset_password(later, OPERATOR.username, NEW_PASSWORD)
    assert authenticate(later, OPERATOR.username, NEW_PASSWORD) == OPERATOR
