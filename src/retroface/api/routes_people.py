"""Log-in sessions, users and API keys."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.api_keys import (
    ApiKeyOut,
    NewApiKey,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from retroface.services.access.users import (
    CredentialsRevoked,
    UserOut,
    add_user,
    change_role,
    deactivate_user,
    list_users,
    logout,
    reactivate_user,
    reset_password,
    revoke_sessions,
)
from retroface.serving.auth import Acting, base_app, bearer_token
from retroface.serving.bounds import RowId
from retroface.serving.login_throttle import throttled_login

router = APIRouter(tags=["people"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    hours: int = Field(default=8, ge=1, le=12)


class SessionOut(BaseModel):
    token: str
    username: str
    role: str
    expires_at: datetime


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    role: Role
    display_name: str = ""
    trained_on: date | None = None


class DeactivateIn(BaseModel):
    reason: str = Field(default="", max_length=1000)


class RoleIn(BaseModel):
    role: Role
    trained_on: date | None = None


class CredentialResetIn(BaseModel):
    password: str = Field(min_length=1, max_length=1000)


#: A username in a URL path (as typed: the service normalises it).
Username = Annotated[str, PathParam(min_length=1, max_length=100)]


class ApiKeyIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=100)
    days: int | None = Field(default=365, ge=1, le=3650)


@router.post("/auth/login", response_model=SessionOut)
def post_login(
    request: Request, body: LoginIn, application: Annotated[App, Depends(base_app)]
) -> SessionOut:
    """Exchange a username and password for a bearer token (failures are audited; repeated
    failures under one name, or from one address, are refused for a while with 429)."""
    token, principal = throttled_login(
        request, application, body.username, body.password, hours=body.hours
    )
    return SessionOut(
        token=token,
        username=principal.username,
        role=principal.role.value,
        expires_at=application.now() + timedelta(hours=body.hours),
    )


@router.post("/auth/logout", status_code=204)
def post_logout(application: Acting, token: Annotated[str | None, Depends(bearer_token)]) -> None:
    if token:
        logout(application, token)


@router.get("/users", response_model=list[UserOut])
def get_users(application: Acting) -> list[UserOut]:
    return list_users(application)


@router.post("/users", response_model=UserOut, status_code=201)
def post_user(body: UserIn, application: Acting) -> UserOut:
    return add_user(
        application,
        body.username,
        body.role,
        body.password,
        display_name=body.display_name,
        training_completed_on=body.trained_on,
    )


@router.post("/users/{username}/deactivate", response_model=UserOut)
def post_deactivate(username: Username, body: DeactivateIn, application: Acting) -> UserOut:
    """Stop an account (admin): no more log-ins; its sessions and API keys end at once."""
    return deactivate_user(application, username, body.reason)


@router.post("/users/{username}/reactivate", response_model=UserOut)
def post_reactivate(username: Username, application: Acting) -> UserOut:
    return reactivate_user(application, username)


@router.put("/users/{username}/role", response_model=UserOut)
def put_role(username: Username, body: RoleIn, application: Acting) -> UserOut:
    """Another role from the account's next request on; an admin's API keys are revoked."""
    return change_role(application, username, body.role, training_completed_on=body.trained_on)


@router.post("/users/{username}/credential-reset", response_model=UserOut)
def post_credential_reset(
    username: Username, body: CredentialResetIn, application: Acting
) -> UserOut:
    """An admin sets a new password for the account; its log-in sessions end."""
    return reset_password(application, username, body.password)


@router.post("/users/{username}/revoke-sessions", response_model=CredentialsRevoked)
def post_revoke_sessions(username: Username, application: Acting) -> CredentialsRevoked:
    """End every log-in session and API key of the account now."""
    return revoke_sessions(application, username)


@router.get("/api-keys", response_model=list[ApiKeyOut])
def get_api_keys(application: Acting) -> list[ApiKeyOut]:
    return list_api_keys(application)


@router.post("/api-keys", response_model=NewApiKey, status_code=201)
def post_api_key(body: ApiKeyIn, application: Acting) -> NewApiKey:
    """A key for a machine, acting as one (non-admin) user; the key is shown only here."""
    return create_api_key(application, body.username, body.name, body.days)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut)
def delete_api_key(key_id: RowId, application: Acting) -> ApiKeyOut:
    return revoke_api_key(application, key_id)
