"""Users, logins and API tokens."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.base import AnswerModel, RequestModel
from controller.accounts import auth
from controller.store.models import Role


class Credentials(RequestModel):
    """A username and password (login; signup of the first user)."""

    username: Annotated[str, Field(pattern=auth.USERNAME_PATTERN.pattern, examples=["admin"])]
    password: Annotated[str, Field(min_length=1, examples=["correct horse battery staple"])]


class TokenCreate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=64, examples=["ci"])]


class UserOut(AnswerModel):
    id: int
    username: str
    role: Role


class TokenOut(AnswerModel):
    """The token, shown this once."""

    token: str
    name: str
