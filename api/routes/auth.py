"""Login, logout, signup (the first user only) and who am I."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response
from werkzeug.http import dump_cookie

from api.documentation import errors
from api.envelope import ok_body
from api.guard import current_principal, origin_allowed, public, session_cookie
from api.proxy import client_address, request_scheme
from api.schemas.auth import Credentials, UserOut
from api.schemas.base import Envelope
from api.services import services
from controller.accounts import auth, users
from controller.errors import Forbidden, Unauthorized
from controller.store.models import User

blueprint = Blueprint("auth", __name__)
WithCookie = tuple[dict[str, Any], int, dict[str, str]]


async def _signed_in(user: User, message: str, status: int) -> WithCookie:
    """The user in the envelope and a new session cookie (HttpOnly, SameSite=Lax)."""
    settings = services().settings.auth
    raw = await auth.create_session(user, settings.session_ttl_seconds)
    name = session_cookie()
    cookie = dump_cookie(
        name,
        raw,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="Lax",
        secure=_secure_cookie(name),
        path="/",
    )
    return ok_body(UserOut.model_validate(user), message), status, {"Set-Cookie": cookie}


def _same_origin() -> None:
    """A browser page of another site may not log in or claim the instance for its user."""
    if not origin_allowed(request) or request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise Forbidden("cross-origin request refused", code="CSRF_REJECTED")


def _secure_cookie(name: str) -> bool:
    """Secure when the public URL is https (the cookie is then __Host- prefixed), when asked
    (auth.cookie_secure), or when this request came over https."""
    return (
        name.startswith("__Host-")
        or services().settings.auth.cookie_secure
        or request_scheme(request) == "https"
    )


@blueprint.post("/api/auth/login")
@public
@errors(401, 403, 429)
@validate_request(Credentials)
@validate_response(Envelope[UserOut])
async def login(data: Credentials) -> WithCookie:
    """Log in; sets the session cookie. Failed logins are limited per address, per username and
    overall (429)."""
    _same_origin()
    limiter = services().login_limiter
    attempt = limiter.attempt(data.username, client_address(request))
    user = await auth.authenticate(data.username, data.password)
    if user is None:
        raise Unauthorized("invalid username or password", code="INVALID_CREDENTIALS")
    limiter.succeeded(attempt)
    return await _signed_in(user, "Logged in", 200)


@blueprint.post("/api/auth/signup")
@public
@errors(403, 409)
@validate_request(Credentials)
@validate_response(Envelope[UserOut], 201)
async def signup(data: Credentials) -> WithCookie:
    """Create the first user, as admin, while no user exists (exactly one, however many try at
    once)."""
    _same_origin()
    user = await users.signup_first_admin(data.username, data.password)
    return await _signed_in(user, "Admin user created", 201)


@blueprint.post("/api/auth/logout")
@validate_response(Envelope[None])
async def logout() -> WithCookie:
    """End the session of the cookie."""
    name = session_cookie()
    raw = request.cookies.get(name)
    if raw:
        await auth.end_session(raw)
    cookie = dump_cookie(
        name, "", max_age=0, expires=0, path="/", secure=_secure_cookie(name), httponly=True
    )
    return ok_body(None, "Logged out"), 200, {"Set-Cookie": cookie}


@blueprint.get("/api/auth/me")
@validate_response(Envelope[UserOut])
async def me() -> tuple[dict[str, Any], int]:
    """The caller."""
    return ok_body(UserOut.model_validate(current_principal().user), "Current user"), 200
