"""Login, logout, signup (first user only), who am I, and API tokens."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response
from werkzeug.http import dump_cookie

from api.documentation import errors
from api.envelope import ok_body
from api.guard import SESSION_COOKIE, current_principal, public
from api.schemas.auth import Credentials, TokenCreate, TokenOut, UserOut
from api.schemas.base import Envelope
from api.services import services
from controller.accounts import auth
from controller.errors import Forbidden, Unauthorized
from controller.store.models import Role, User

blueprint = Blueprint("auth", __name__)
WithCookie = tuple[dict[str, Any], int, dict[str, str]]


async def _signed_in(user: User, message: str, status: int) -> WithCookie:
    """The user in the envelope and a new session cookie (HttpOnly, SameSite=Lax)."""
    settings = services().settings.auth
    raw = await auth.create_session(user, settings.session_ttl_seconds)
    cookie = dump_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return ok_body(UserOut.model_validate(user), message), status, {"Set-Cookie": cookie}


@blueprint.post("/api/auth/login")
@public
@errors(401, 429)
@validate_request(Credentials)
@validate_response(Envelope[UserOut])
async def login(data: Credentials) -> WithCookie:
    """Log in; sets the session cookie."""
    address = request.remote_addr or ""
    limiter = services().login_limiter
    limiter.check(data.username, address)
    user = await auth.authenticate(data.username, data.password)
    if user is None:
        limiter.record_failure(data.username, address)
        raise Unauthorized("invalid username or password", code="INVALID_CREDENTIALS")
    limiter.reset(data.username, address)
    return await _signed_in(user, "Logged in", 200)


@blueprint.post("/api/auth/signup")
@public
@errors(403, 409)
@validate_request(Credentials)
@validate_response(Envelope[UserOut], 201)
async def signup(data: Credentials) -> WithCookie:
    """Create the first user, as admin, while no user exists."""
    if await User.exists():
        raise Forbidden("signup is closed: users already exist; ask an admin", code="SIGNUP_CLOSED")
    user = await auth.create_user(data.username, data.password, Role.ADMIN)
    return await _signed_in(user, "Admin user created", 201)


@blueprint.post("/api/auth/logout")
@validate_response(Envelope[None])
async def logout() -> WithCookie:
    """End the session of the cookie."""
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await auth.end_session(raw)
    cookie = dump_cookie(SESSION_COOKIE, "", max_age=0, expires=0, path="/")
    return ok_body(None, "Logged out"), 200, {"Set-Cookie": cookie}


@blueprint.get("/api/auth/me")
@validate_response(Envelope[UserOut])
async def me() -> tuple[dict[str, Any], int]:
    """The caller."""
    return ok_body(UserOut.model_validate(current_principal().user), "Current user"), 200


@blueprint.post("/api/tokens/create")
@validate_request(TokenCreate)
@validate_response(Envelope[TokenOut], 201)
async def create_token(data: TokenCreate) -> tuple[dict[str, Any], int]:
    """An API token with the caller's role, shown once."""
    raw = await auth.create_api_token(current_principal().user, data.name)
    return ok_body(TokenOut(token=raw, name=data.name), "Token created; it is shown only once"), 201
