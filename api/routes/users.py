"""Users, for admins: list, create, change a role or a password (the user's sessions end),
disable and enable (a disabled user's sessions and tokens are refused), delete."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.schemas.auth import UserCreate, UserOut, UserPassword, UserRef, UserRole
from api.schemas.base import Deleted, Envelope
from controller.accounts import auth, users
from controller.store.models import Role

blueprint = Blueprint("users", __name__)
Answer = tuple[dict[str, Any], int]


def _user(user: Any, message: str, status: int = 200) -> Answer:
    return ok_body(UserOut.model_validate(user), message), status


@blueprint.get("/api/users/getAll")
@requires(Role.ADMIN)
@validate_response(Envelope[list[UserOut]])
async def get_all() -> Answer:
    """Every user."""
    found = [UserOut.model_validate(user) for user in await users.all_users()]
    return ok_body(found, "Users"), 200


@blueprint.post("/api/users/create")
@requires(Role.ADMIN)
@errors(409)
@validate_request(UserCreate)
@validate_response(Envelope[UserOut], 201)
async def create(data: UserCreate) -> Answer:
    """A new user with a role (viewer unless given)."""
    return _user(
        await auth.create_user(data.username, data.password, data.role), "User created", 201
    )


@blueprint.put("/api/users/setRole")
@requires(Role.ADMIN)
@errors(404, 409)
@validate_request(UserRole)
@validate_response(Envelope[UserOut])
async def set_role(data: UserRole) -> Answer:
    """Change a user's role; their sessions end (the last enabled admin keeps the role: 409)."""
    user = await users.set_role(await users.find_user(data.user_id), data.role)
    return _user(user, "Role changed; the user's sessions ended")


@blueprint.put("/api/users/setPassword")
@requires(Role.ADMIN)
@errors(404)
@validate_request(UserPassword)
@validate_response(Envelope[UserOut])
async def set_password(data: UserPassword) -> Answer:
    """Set a user's password; their sessions end."""
    user = await users.set_password(await users.find_user(data.user_id), data.password)
    return _user(user, "Password changed; the user's sessions ended")


@blueprint.post("/api/users/disable")
@requires(Role.ADMIN)
@errors(404, 409)
@validate_request(UserRef)
@validate_response(Envelope[UserOut])
async def disable(data: UserRef) -> Answer:
    """Refuse the user's sessions and tokens (open WebSockets close with 4401) until enabled."""
    user = await users.set_disabled(await users.find_user(data.user_id), True)
    return _user(user, "User disabled")


@blueprint.post("/api/users/enable")
@requires(Role.ADMIN)
@errors(404)
@validate_request(UserRef)
@validate_response(Envelope[UserOut])
async def enable(data: UserRef) -> Answer:
    """Let a disabled user log in again (their tokens work again too)."""
    user = await users.set_disabled(await users.find_user(data.user_id), False)
    return _user(user, "User enabled")


@blueprint.delete("/api/users/delete")
@requires(Role.ADMIN)
@errors(404, 409)
@validate_request(UserRef)
@validate_response(Envelope[Deleted])
async def delete(data: UserRef) -> Answer:
    """Delete a user with its sessions and tokens (the audit log keeps its name)."""
    await users.delete_user(await users.find_user(data.user_id))
    return ok_body(Deleted(id=data.user_id), "User deleted"), 200
