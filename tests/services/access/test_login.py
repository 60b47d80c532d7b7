"""Log-in: one form of each username, no homoglyph accounts, no timing hint of who exists,
and nothing a person typed into the name box kept in the audit log unless it is a name."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from sqlalchemy import select

from retroface.errors import (
    AlreadyExistsError,
    AuthorisationError,
    InvalidInputError,
    LockedOutError,
)
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user, authenticate, deactivate_user, login
from retroface.store.models import AuditEvent
from tests.conftest import ADMIN, OPERATOR
from tests.helpers import PASSWORD, register_users


@pytest.fixture
def admin(app: App) -> App:
    register_users(app, {OPERATOR: PASSWORD})
    return app.acting_as(ADMIN)


def _audit_text(app: App) -> str:
    """Every column of every audit row, as one text to search."""
    with app.unit_of_work() as uow:
        rows = uow.session.scalars(select(AuditEvent)).all()
        columns = (
            (e.actor, e.role, e.action, e.object_type, e.object_id, e.case_reference, e.details)
            for e in rows
        )
        return "\n".join(json.dumps(row, ensure_ascii=False, default=str) for row in columns)


def test_usernames_are_stored_normalised_and_log_in_whatever_the_case_or_width(
    admin: App,
) -> None:
    assert add_user(admin, "  Maria.Lopez ", Role.AUDITOR, PASSWORD).username == "maria.lopez"
    for typed in ("maria.lopez", "MARIA.LOPEZ", "ｍａｒｉａ.ｌｏｐｅｚ"):  # full-width too
        assert authenticate(admin, typed, PASSWORD).username == "maria.lopez"
    with pytest.raises(AlreadyExistsError, match="already exists"):
        add_user(admin, "MARIA.lopez", Role.AUDITOR, PASSWORD)
    _, principal = login(admin, "Officer-1", PASSWORD)
    assert principal == OPERATOR


@pytest.mark.parametrize(
    "homoglyph",
    [
        "\u0430dmin-5",  # Cyrillic a, then Latin "dmin"
        "officer-\u03bf1",  # Greek omicron among Latin letters
        "p\u0430ypal",
    ],
)
def test_a_username_mixing_scripts_is_refused_at_creation(admin: App, homoglyph: str) -> None:
    with pytest.raises(InvalidInputError, match="mixes letters of several scripts"):
        add_user(admin, homoglyph, Role.OPERATOR, PASSWORD)


def test_names_of_one_script_and_the_usual_names_are_accepted(admin: App) -> None:
    for name in ("иван-петров", "ελενα", "sgt-2", "reviewer-3", "a.b_c@force.police.uk"):
        assert add_user(admin, name, Role.AUDITOR, PASSWORD).username == name
    for bad in ("", "a b", "x/y", "name\u202e", "x" * 101, "٣three"):
        with pytest.raises(InvalidInputError, match="a username is"):
            add_user(admin, bad, Role.AUDITOR, PASSWORD)


def _seconds(app: App, name: str, password: str) -> float:
    start = time.perf_counter()
    with pytest.raises(AuthorisationError):
        authenticate(app, name, password)
    return time.perf_counter() - start


def test_an_unknown_or_inactive_name_takes_as_long_as_a_wrong_password(admin: App) -> None:
    """Without a password check for unknown names they answered 20 times faster, telling a
    guesser which names exist. The median of several tries absorbs a busy machine."""
    admin.settings = admin.settings.with_(login_max_failures=0)  # no lock during the timing
    add_user(admin, "leaver-9", Role.OPERATOR, PASSWORD)
    deactivate_user(admin, "leaver-9")
    _seconds(admin, "warm-up", "x")  # the dummy hash is made on first use
    known, unknown, inactive = [], [], []
    for i in range(5):
        known.append(_seconds(admin, OPERATOR.username, f"wrong password {i}"))
        unknown.append(_seconds(admin, f"nobody-{i}", f"wrong password {i}"))
        inactive.append(_seconds(admin, "leaver-9", PASSWORD))
    assert statistics.median(unknown) >= 0.5 * statistics.median(known)
    assert statistics.median(inactive) >= 0.5 * statistics.median(known)


def test_a_failed_log_in_under_an_unknown_name_keeps_no_trace_of_what_was_typed(
    admin: App,
) -> None:
    typed = "Tr0ub4dor&3-Secret"  # a password typed into the name box
    with pytest.raises(AuthorisationError):
        authenticate(admin, typed, "")
    text = _audit_text(admin).casefold()
    assert typed.casefold() not in text and "tr0ub4dor" not in text
    with admin.unit_of_work() as uow:
        (failed,) = uow.session.execute(
            select(AuditEvent.object_type, AuditEvent.object_id).where(
                AuditEvent.action == "login.failed"
            )
        ).all()
    assert failed[0] == "unknown_user" and len(failed[1]) == 64
    # A known name is still recorded as itself, for the account's owner and the auditor.
    with pytest.raises(AuthorisationError):
        authenticate(admin, OPERATOR.username, "wrong")
    with admin.unit_of_work() as uow:
        objects = uow.session.scalars(
            select(AuditEvent.object_id).where(AuditEvent.action == "login.failed")
        ).all()
    assert objects[-1] == OPERATOR.username


def test_an_unknown_name_still_locks_under_its_hash(admin: App) -> None:
    for _ in range(admin.settings.login_max_failures):
        with pytest.raises(AuthorisationError, match="wrong password"):
            authenticate(admin, "Nobody-Here", "guess")
    with pytest.raises(LockedOutError, match="too many failed log-ins"):
        authenticate(admin, "nobody-here", "guess")  # the same name in another case
    assert "nobody-here" not in _audit_text(admin).casefold()
