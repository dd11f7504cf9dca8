"""Login, logout, signup (first user only), who am I, and API tokens."""

from __future__ import annotations

from quart import Blueprint, Response, request

from api.body import read_body
from api.envelope import ok
from api.guard import SESSION_COOKIE, current_principal, principal_json, public
from api.services import services
from controller.accounts import auth
from controller.errors import Forbidden, Unauthorized
from controller.store.models import Role, User

blueprint = Blueprint("auth", __name__)


def _set_session_cookie(response: Response, raw: str) -> None:
    settings = services().settings.auth
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        path="/",
    )


@blueprint.post("/api/auth/login")
@public
async def login() -> tuple[Response, int]:
    body = (await read_body()).allow_only("username", "password")
    username, password = body.require_str("username"), body.require_str("password")
    address = request.remote_addr or ""
    limiter = services().login_limiter
    limiter.check(username, address)
    user = await auth.authenticate(username, password)
    if user is None:
        limiter.record_failure(username, address)
        raise Unauthorized("invalid username or password", code="INVALID_CREDENTIALS")
    limiter.reset(username, address)
    raw = await auth.create_session(user, services().settings.auth.session_ttl_seconds)
    response, status = ok(_user_json(user), "Logged in")
    _set_session_cookie(response, raw)
    return response, status


@blueprint.post("/api/auth/signup")
@public
async def signup() -> tuple[Response, int]:
    """Creates the first user, as admin, while no user exists; afterwards an admin adds users."""
    body = (await read_body()).allow_only("username", "password")
    if await User.exists():
        raise Forbidden("signup is closed: users already exist; ask an admin", code="SIGNUP_CLOSED")
    user = await auth.create_user(
        body.require_str("username"), body.require_str("password"), Role.ADMIN
    )
    raw = await auth.create_session(user, services().settings.auth.session_ttl_seconds)
    response, status = ok(_user_json(user), "Admin user created", 201)
    _set_session_cookie(response, raw)
    return response, status


@blueprint.post("/api/auth/logout")
async def logout() -> tuple[Response, int]:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await auth.end_session(raw)
    response, status = ok(None, "Logged out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response, status


@blueprint.get("/api/auth/me")
async def me() -> tuple[Response, int]:
    return ok(principal_json(current_principal()), "Current user")


@blueprint.post("/api/tokens/create")
async def create_token() -> tuple[Response, int]:
    """A token for the caller, with the caller's role; shown once."""
    body = (await read_body()).allow_only("name")
    principal = current_principal()
    raw = await auth.create_api_token(principal.user, body.require_str("name"))
    return ok(
        {"token": raw, "name": body.require_str("name")},
        "Token created; it is shown only once",
        201,
    )


def _user_json(user: User) -> dict[str, object]:
    return {"id": user.id, "username": user.username, "role": str(user.role)}
