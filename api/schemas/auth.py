"""Users, logins, API tokens and the audit log."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field, Strict

from api.schemas.base import (
    AnswerModel,
    Id,
    QueryCount,
    QueryId,
    QueryModel,
    RequestModel,
    Timestamp,
)
from controller.accounts import auth
from controller.store.models import Role

Username = Annotated[str, Field(pattern=auth.USERNAME_PATTERN.pattern, examples=["admin"])]
Password = Annotated[
    str,
    Field(min_length=1, max_length=auth.MAX_PASSWORD_LENGTH, examples=["correct horse battery"]),
]
NewPassword = Annotated[
    str, Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=auth.MAX_PASSWORD_LENGTH)
]
AnyRole = Annotated[Role, Strict(False)]


class Credentials(RequestModel):
    """A username and password (login; signup of the first user)."""

    username: Username
    password: Password


class TokenCreate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=64, examples=["ci"])]
    expires_at: Annotated[
        AwareDatetime | None,
        Strict(False),
        Field(description="ISO-8601 with a time zone; none: valid until revoked"),
    ] = None


class TokenRef(RequestModel):
    token_id: Id


class UserOut(AnswerModel):
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: Timestamp


class TokenOut(AnswerModel):
    """The token, shown this once."""

    id: int
    token: str
    name: str
    expires_at: Timestamp


class TokenInfo(AnswerModel):
    """A token as listed: never its value."""

    id: int
    name: str
    username: str
    created_at: Timestamp
    last_used_at: Timestamp
    expires_at: Timestamp


class UserCreate(RequestModel):
    username: Username
    password: NewPassword
    role: AnyRole = Role.VIEWER


class UserRef(RequestModel):
    user_id: Id


class UserRole(RequestModel):
    """A new role; the user's sessions end (API tokens follow the new role)."""

    user_id: Id
    role: AnyRole


class UserPassword(RequestModel):
    """A new password; the user's sessions end."""

    user_id: Id
    password: NewPassword


class AuditQuery(QueryModel):
    limit: Annotated[QueryCount, Field(ge=1, le=500)] = 100
    before: QueryId | None = None


class AuditEntryOut(AnswerModel):
    """Who (a username, or cli:<system user>) did what (the route or command), to what, from
    which address, when."""

    id: int
    created_at: Timestamp
    actor: str
    action: str
    target: str
    address: str


class InstanceOut(AnswerModel):
    """A fogbank instance on this database: alive while its lease lies ahead; the leader runs
    drift repair, polling and retention; `answering` is the one that served this request."""

    name: str
    api_address: str
    started_at: Timestamp
    heartbeat_at: Timestamp
    alive: bool
    leader: bool
    answering: bool
